"""Stripe's webhook events: their ``Stripe-Signature`` and the refunds they report.

Stripe signs every delivery with the signing secret of the webhook endpoint (``whsec_...``)::

    Stripe-Signature: t=1733050000,v1=5257a869e7...,v0=6ffbb59b2...

``v1`` is the hex HMAC-SHA256, under the secret, of ``"{t}.{raw body}"``; while a rolled secret
is still valid Stripe sends one ``v1`` per secret, and ``v0`` is a test-mode scheme that proves
nothing. A delivery is genuine when one ``v1`` matches (compared in constant time) and ``t`` is
at most 300 seconds old (replays refused): what Stripe's "Verify webhook signatures" documents
and ``stripe.WebhookSignature.verify_header`` does, which the tests hold this to both ways.

A refund's events carry the refund object itself (``data.object``, ``"object": "refund"``):
``refund.created``, ``refund.updated``, ``refund.failed`` and ``charge.refund.updated``. Ours
carry our refund id in ``metadata.refund_key`` (see ``StripeProvider.refund``). Stripe's refund
statuses are ``pending``, ``requires_action``, ``succeeded``, ``failed`` and ``canceled``; only
``succeeded`` moved the money, and ``failed`` and ``canceled`` mean none moved.
``charge.refunded`` names the charge, whose ``refunds`` list API versions since 2022-11-15 no
longer include, so it cannot say which refund: it settles none of ours (``refund.updated``
does), but, like every refund event, it names the PaymentIntent (``payment_intent``), whose
refunds made elsewhere (Stripe's Dashboard, another system's API call) the webhook then looks
up and records (``domain.external_refunds``).

No httpx here: the webhook route imports this module alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from order_capture.errors import OrderCaptureError
from order_capture.ports import ProviderRefundState, ProviderRefundStatus
from order_capture.provider_units import STRIPE

SIGNATURE_HEADER = "Stripe-Signature"
#: Stripe's libraries refuse signatures older than this (``DEFAULT_TOLERANCE``).
TOLERANCE_SECONDS = 300
SCHEME = "v1"
#: The events whose ``data.object`` is a refund.
REFUND_EVENTS = frozenset(
    {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}
)
#: The events that say an intent's refunds changed, whoever made them: its refund events and
#: ``charge.refunded`` (``data.object`` a charge).
INTENT_REFUND_EVENTS = REFUND_EVENTS | {"charge.refunded"}
_STATUSES: dict[str, ProviderRefundStatus] = {
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "failed",
}


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` value Stripe sends for ``payload`` at ``timestamp``."""
    return f"t={timestamp},{SCHEME}={_signature(payload, secret, timestamp)}"


def signature_is_valid(
    payload: bytes,
    header: str | None,
    secret: str | None,
    now: float,
    tolerance_seconds: int = TOLERANCE_SECONDS,
) -> bool:
    """Whether ``header`` proves that Stripe sent ``payload`` under ``secret`` at most
    ``tolerance_seconds`` before ``now`` (Unix time)."""
    if not header or not secret or not secret.strip():
        return False
    timestamps: list[str] = []
    signatures: list[str] = []
    for element in header.split(","):
        name, _, value = element.strip().partition("=")
        if name == "t":
            timestamps.append(value)
        elif name == SCHEME:
            signatures.append(value)
    # ASCII digits only: str.isdigit() takes "²", which int() refuses.
    if not timestamps or not timestamps[0].isascii() or not timestamps[0].isdigit():
        return False
    if not signatures:
        return False
    timestamp = int(timestamps[0])
    expected = _signature(payload, secret, timestamp).encode()
    # Every candidate is compared (no early exit): the time taken says nothing of which matched.
    # As bytes: compare_digest refuses a str that is not ASCII, and a header may hold any.
    matches = [hmac.compare_digest(expected, candidate.encode()) for candidate in signatures]
    return any(matches) and timestamp >= now - tolerance_seconds


def _signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class StripeEventData(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    object: dict[str, Any]


class StripeEvent(BaseModel):
    """Stripe's ``event`` object (spec3 ``components.schemas.event``), what a webhook posts."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    object: Literal["event"]
    type: str
    data: StripeEventData
    livemode: bool = False


class StripeRefund(BaseModel):
    """The fields of Stripe's ``refund`` object that settle ours."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    object: Literal["refund"]
    amount: int
    currency: str
    status: str | None = None
    metadata: dict[str, str] | None = None
    failure_reason: str | None = None


def parse_event(payload: bytes) -> StripeEvent | None:
    """The event ``payload`` holds; None if it is not one (signed, yet nothing we read)."""
    try:
        return StripeEvent.model_validate(json.loads(payload))
    except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError too
        return None


def refund_of(event: StripeEvent) -> ProviderRefundState | None:
    """The refund a refund event reports; None for other events and other objects."""
    if event.type not in REFUND_EVENTS:
        return None
    return refund_state(event.data.object)


def payment_intent_of(event: StripeEvent) -> str | None:
    """The PaymentIntent whose refunds ``event`` says changed (a refund's or a charge's
    ``payment_intent``, an id or the expanded object); None for other events."""
    if event.type not in INTENT_REFUND_EVENTS:
        return None
    intent = event.data.object.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    return intent if isinstance(intent, str) and intent else None


def refund_state(document: dict[str, Any]) -> ProviderRefundState | None:
    """A Stripe refund object as a ``ProviderRefundState`` (amount in the ledger's units);
    None when it is no refund, or in units no order of ours could have."""
    try:
        refund = StripeRefund.model_validate(document)
        currency = refund.currency.upper()
        amount = STRIPE.from_provider(refund.amount, currency)
    except (ValidationError, OrderCaptureError):
        return None
    return ProviderRefundState(
        provider_reference=refund.id,
        reference=(refund.metadata or {}).get("refund_key") or None,
        status=_STATUSES.get(refund.status or "", "pending"),
        amount=amount,
        currency=currency,
        reason=refund.failure_reason or refund.status or "",
    )
