"""Captures a provider confirms later, settled by its webhook (Adyen's standard notifications).

Adyen answers a capture request with "received"; the capture stays ``pending`` (reserved) in
the ledger until a ``CAPTURE`` notification confirms it or a ``CAPTURE_FAILED`` (or a ``CAPTURE``
with ``success: false``) fails it and releases the reservation. A failure that arrives after the
success reverses the capture: it becomes ``failed`` and the order's captured amount shrinks.
Notifications may repeat and arrive in any order; each outcome is applied at most once by the
conditional writes behind ``record_capture``, ``record_failure`` and the reversal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from order_capture.domain import capture_rules, service
from order_capture.errors import OrderChangedError, ProviderDeclinedError
from order_capture.models import Capture, CaptureRequest, CaptureStatus, FailureReason, Model
from order_capture.ports import OrderRepository

CAPTURE_EVENTS = frozenset({"CAPTURE", "CAPTURE_FAILED"})


class CaptureNotification(Model):
    """What one notification item says about one of our captures."""

    event: Literal["CAPTURE", "CAPTURE_FAILED"]
    succeeded: bool
    #: ``merchantReference``: the reference we sent, our capture id (the idempotency key).
    capture_id: str
    #: ``pspReference``: the provider's reference of the capture.
    provider_reference: str
    reason: str


def capture_notification(item: dict[str, Any]) -> CaptureNotification | None:
    """The capture outcome a ``NotificationRequestItem`` reports; None for other events."""
    event = item.get("eventCode")
    capture_id = item.get("merchantReference")
    if event not in CAPTURE_EVENTS or not isinstance(capture_id, str) or not capture_id:
        return None
    success = str(item.get("success", "")).lower() == "true"
    return CaptureNotification(
        event=event,
        succeeded=event == "CAPTURE" and success,
        capture_id=capture_id,
        provider_reference=str(item.get("pspReference") or ""),
        reason=str(item.get("reason") or event),
    )


def settle_capture(
    repository: OrderRepository,
    merchant_id: str,
    notification: CaptureNotification,
    now: datetime,
) -> Capture | None:
    """Apply ``notification`` to the merchant's capture; None if the ledger does not know it
    (a capture made outside this service)."""
    capture = repository.find_capture(merchant_id, notification.capture_id)
    if capture is None:
        return None
    if notification.succeeded:
        confirmed = capture.model_copy(
            update={
                "provider_reference": notification.provider_reference or capture.provider_reference,
                "status_at_provider": "succeeded",
            }
        )
        return service.record_capture(repository, confirmed, now)
    message = f"the provider reported {notification.event}: {notification.reason}"
    if capture.status is CaptureStatus.CAPTURED:
        return reverse_capture(repository, capture, message, now)
    if capture.status is CaptureStatus.FAILED:
        return capture
    service.record_failure(
        repository,
        request=CaptureRequest(
            merchant_id=capture.merchant_id,
            order_id=capture.order_id,
            shipment_id=capture.shipment_id,
            trigger=capture.trigger,
        ),
        error_type=ProviderDeclinedError.__name__,
        error_reason=ProviderDeclinedError.reason,
        message=message,
        execution_id=capture.execution_id,
        now=now,
        reopen_requires_action=True,
    )
    return repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)


def reverse_capture(
    repository: OrderRepository, capture: Capture, message: str, now: datetime
) -> Capture:
    """A confirmed capture the provider failed after all: captured -> failed, and the order's
    captured amount (and the units' claim) given back."""
    failure = FailureReason(
        reason=ProviderDeclinedError.reason, message=message, error=ProviderDeclinedError.__name__
    )
    failed = capture.model_copy(
        update={"status": CaptureStatus.FAILED, "failure": failure, "updated_at": now}
    )
    for _ in range(service.MAX_ORDER_WRITE_ATTEMPTS):
        order = repository.get_order(capture.merchant_id, capture.order_id)
        if order is None:
            break
        try:
            if repository.settle_failure(
                capture_rules.reverse(order, capture, now),
                order.version,
                failed,
                CaptureStatus.CAPTURED,
            ):
                return failed
        except OrderChangedError:
            continue
        break  # no longer captured: someone reversed it already
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    return stored or capture
