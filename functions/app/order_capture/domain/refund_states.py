"""Pending refunds settled by what the provider shows of them now (Stripe: the refund object
of its webhook events, or of a lookup when no event comes).

Stripe may answer a refund ``pending`` and decide later: ``succeeded`` (the money went back to
the customer), or ``failed`` / ``canceled`` (none did). The ledger keeps the refund pending and
its amount reserved until then; the provider's word settles it through the same conditional
writes as Adyen's ``REFUND`` / ``REFUND_FAILED`` notifications (``settle_refund``): confirmed
once, or failed with its amount refundable again, and a refund that the provider fails after
it succeeded is reversed. Nothing is lost and nothing counts twice, whatever the order and the
repetitions of the events.
"""

from __future__ import annotations

from datetime import datetime

from order_capture.domain.provider_webhooks import settle_refund
from order_capture.models import Refund
from order_capture.ports import ProviderNotification, ProviderRefundState, RefundLedger


def is_our_refund(refund: Refund, state: ProviderRefundState) -> bool:
    """Whether the provider's refund is ``refund``: the same provider reference once known,
    the same amount and currency. Our key in a refund that differs is not a proof."""
    return (
        refund.provider_reference in {None, state.provider_reference}
        and refund.amount == state.amount
        and refund.currency == state.currency
    )


def settle_refund_state(
    repository: RefundLedger,
    merchant_id: str,
    state: ProviderRefundState,
    now: datetime,
    event: str | None = None,
    *,
    provider: str | None = None,
) -> Refund | None:
    """Apply the provider's ``state`` of one of the merchant's refunds (reported by ``event``,
    the provider's name for it, for the ledger's messages); the refund as stored after
    (unchanged while the provider says ``pending``). None if it is not ours (no key of ours,
    unknown to the ledger, or a different refund; with ``provider``, a webhook's: a refund of
    a capture made at another provider)."""
    if state.reference is None:
        return None
    refund = repository.find_refund(merchant_id, state.reference)
    if refund is None or not is_our_refund(refund, state):
        return None
    if provider is not None:  # a webhook's: only its own provider's refunds
        capture = repository.get_capture(merchant_id, refund.order_id, refund.capture_id)
        if capture is not None and capture.provider != provider:
            return None
    if state.status == "pending":
        return refund
    notification = ProviderNotification(
        subject="refund",
        outcome=state.status,
        reference=state.reference,
        provider_reference=state.provider_reference,
        event=event or f"refund {state.status}",
        reason=state.reason or state.status,
    )
    return settle_refund(repository, merchant_id, notification, now, found=refund)
