"""The events order-capture emits (source ``order-capture``): each one's ``detail``, a
contract for other teams, mapped here (and only here) from the ledger's models.

A field is here because a consumer may rely on it, never because the ledger keeps it: the
ledger's bookkeeping (``status_at_provider``, ``releases_authorization``, refund amounts in
flight, a capture's lines) stays out, so it can change without breaking anybody.

Versioning: every detail carries ``schema_version`` (an integer, 1 today). Within a version
fields are only ever added; removing or renaming a field, or changing what one means, is a
new version, so a rule matching ``"detail": {"schema_version": [1]}`` keeps receiving only
details it understands. The detail-type itself never changes (rules select on it).
docs/events.md's table of these fields is generated from the models
(``order_capture_local.event_docs``); ``events/`` has a sample of each, and tests check that
the models, the table and the samples agree.
"""

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from order_capture.models import Capture, CaptureStatus, FailureRecord, Model, Trigger

if TYPE_CHECKING:
    from order_capture.domain.expiry import ExpiringAuthorization

SOURCE = "order-capture"
SCHEMA_VERSION: Literal[1] = 1


class PublicEventDetail(Model):
    """What every emitted detail has: its schema version."""

    detail_type: ClassVar[str]

    schema_version: Literal[1] = Field(
        default=SCHEMA_VERSION,
        description="The detail's schema version: a breaking change would be a new one.",
    )


class PaymentCaptured(PublicEventDetail):
    """A capture the provider made, recorded in the ledger: announced at least once, a repeat
    carrying the same ``announcement_id``. A shipment of units worth nothing left to capture
    (a free gift, units whose money an earlier capture took) is a capture of 0 that no
    provider was asked for: ``amount`` 0, ``provider_reference`` null."""

    detail_type: ClassVar[str] = "Payment Captured"

    announcement_id: str = Field(
        description="This announcement's identity, the same in a repeat of it "
        "(`<capture_id>:captured`): deduplicate on it."
    )
    capture_id: str = Field(description="The capture's id (one per shipment).")
    merchant_id: str = Field(description="The merchant the order belongs to.")
    order_id: str = Field(description="The shop's order id.")
    shipment_id: str = Field(description="The shipment (or API capture) it captured.")
    amount: int = Field(
        description="Captured, in the currency's minor units (0: nothing asked of the provider)."
    )
    currency: str = Field(description="ISO 4217 code.")
    status: Literal[CaptureStatus.CAPTURED] = Field(description="Always `captured`.")
    shipping_amount: int = Field(description="Of `amount`, the shipping it captured.")
    provider: str = Field(description="`sandbox`, `aplazame`, `stripe` or `adyen`.")
    provider_reference: str | None = Field(
        description="The provider's id of the capture (null for a capture of 0)."
    )
    trigger: Trigger = Field(description="`event` (Order Shipped) or `api`.")
    execution_id: str | None = Field(description="The capture workflow's execution.")
    created_at: datetime = Field(description="When the capture was reserved (UTC).")
    updated_at: datetime = Field(description="When it was last changed (UTC).")


class PaymentCaptureFailed(PublicEventDetail):
    """A capture that failed (`failed`: nothing captured, its units capturable again) or whose
    outcome is unknown (`requires_action`: kept reserved for reconciliation or a person). The
    ids are null when the triggering event did not say whose shipment it was."""

    detail_type: ClassVar[str] = "Payment Capture Failed"

    announcement_id: str = Field(
        description="This announcement's identity, the same in a repeat of it "
        "(`<capture_id>:capture_failed:<status>`; `execution:<execution_id>:capture_failed` "
        "when the event named no capture): deduplicate on it."
    )
    merchant_id: str | None = Field(description="The merchant the order belongs to.")
    order_id: str | None = Field(description="The shop's order id.")
    shipment_id: str | None = Field(description="The shipment (or API capture).")
    capture_id: str | None = Field(description="The capture's id (one per shipment).")
    amount: int | None = Field(description="What the capture was for, in minor units.")
    currency: str | None = Field(description="ISO 4217 code.")
    status: CaptureStatus | None = Field(
        description="`failed` or `requires_action`; the capture's own status (`pending`, "
        "`captured`) when another execution of the shipment holds it and this failure "
        "changed nothing."
    )
    reason: str = Field(description="Why, as a word (`provider_declined`, `timeout`...).")
    error: str = Field(description="The error's class name (errors.py).")
    message: str = Field(description="What happened, for people; never a secret.")
    execution_id: str | None = Field(description="The workflow's execution.")


class AuthorizationExpiring(PublicEventDetail):
    """An authorization that expires soon with money still uncaptured (hourly sweep)."""

    detail_type: ClassVar[str] = "Authorization Expiring"

    merchant_id: str = Field(description="The merchant the order belongs to.")
    order_id: str = Field(description="The shop's order id.")
    provider: str = Field(description="The payment provider holding the authorization.")
    authorization_reference: str = Field(description="The provider's authorization id.")
    expires_at: datetime = Field(description="When the authorization expires.")
    kind: Literal["unshipped", "shipped_uncaptured"] = Field(
        description="`unshipped`: units to ship or cancel; `shipped_uncaptured`: a capture "
        "in flight or waiting for a person."
    )
    capturable_amount: int = Field(description="Still capturable, in minor units.")
    reserved_amount: int = Field(description="Reserved by captures in flight.")
    currency: str = Field(description="ISO 4217 code.")


#: Every detail the service emits, by detail-type.
EMITTED: dict[str, type[PublicEventDetail]] = {
    model.detail_type: model
    for model in (PaymentCaptured, PaymentCaptureFailed, AuthorizationExpiring)
}


def captured_id(capture_id: str) -> str:
    """The identity of ``Payment Captured`` for ``capture_id``: derived from the capture and
    the outcome alone (never a timestamp), so whoever announces it, and every repeat of it,
    carries the same one."""
    return f"{capture_id}:{CaptureStatus.CAPTURED.value}"


def capture_failed_id(
    capture_id: str | None, status: CaptureStatus | None, execution_id: str | None
) -> str:
    """The identity of ``Payment Capture Failed`` (as ``captured_id``): by the capture and the
    status it announces (another execution's capture's own, when this failure changed
    nothing), or by its execution when the event named no capture."""
    if capture_id is None:
        return f"execution:{execution_id}:capture_failed"
    return f"{capture_id}:capture_failed:{(status or CaptureStatus.FAILED).value}"


def payment_captured(capture: Capture) -> PaymentCaptured:
    return PaymentCaptured(
        announcement_id=captured_id(capture.capture_id),
        capture_id=capture.capture_id,
        merchant_id=capture.merchant_id,
        order_id=capture.order_id,
        shipment_id=capture.shipment_id,
        amount=capture.amount,
        currency=capture.currency,
        status=CaptureStatus.CAPTURED,
        shipping_amount=capture.shipping_amount,
        provider=capture.provider,
        provider_reference=capture.provider_reference,
        trigger=capture.trigger,
        execution_id=capture.execution_id,
        created_at=capture.created_at,
        updated_at=capture.updated_at,
    )


def payment_capture_failed(record: FailureRecord) -> PaymentCaptureFailed:
    return PaymentCaptureFailed(
        announcement_id=capture_failed_id(record.capture_id, record.status, record.execution_id),
        merchant_id=record.merchant_id,
        order_id=record.order_id,
        shipment_id=record.shipment_id,
        capture_id=record.capture_id,
        amount=record.amount,
        currency=record.currency,
        status=record.status,
        reason=record.reason,
        error=record.error,
        message=record.message,
        execution_id=record.execution_id,
    )


def authorization_expiring(warning: "ExpiringAuthorization") -> AuthorizationExpiring:
    return AuthorizationExpiring(
        merchant_id=warning.merchant_id,
        order_id=warning.order_id,
        provider=warning.provider,
        authorization_reference=warning.authorization_reference,
        expires_at=warning.expires_at,
        kind=warning.kind,
        capturable_amount=warning.capturable_amount,
        reserved_amount=warning.reserved_amount,
        currency=warning.currency,
    )
