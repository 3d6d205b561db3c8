"""Refunds made outside this service (a merchant's refund in Stripe's Dashboard, another
system's API call), recorded in the ledger so that what it says is refundable stays true.

A refund made elsewhere still takes money back from the captures: left out of the ledger, our
refund API would offer it again and the order's view would show money that is gone. When the
provider says an authorization's refunds changed (Stripe: any refund event or
``charge.refunded`` naming the PaymentIntent), the provider's list of its refunds is read
(``IntentRefundsReader``) and every refund in it that the ledger does not know is recorded:

* its order is the one of our captures whose keys the provider keeps on the authorization
  (none of ours: not our order, nothing recorded);
* it is ours when its key (``reference``) is a refund of ours, and those settle as before
  (``refund_states``); otherwise it is recorded as refunds of that order's captures, one per
  capture it needs, the largest refundable first (the provider refunds an authorization, the
  ledger counts per capture), with ids derived from the merchant and the provider's refund id
  and its part: recording it again (Stripe delivers at least once, several events name it)
  finds it and adds nothing;
* succeeded: refunded at once; pending: reserved until the provider settles it (the same
  events, or reconciliation's lookup by its reference); failed or canceled before it was
  recorded: nothing moved, nothing recorded;
* each write is the ledger's own conditional refund write, under the actor that made it, so
  the capture's history shows it (``by: webhook``, the provider's refund and the event).

A refund made elsewhere while one of ours was reserved but not yet at the provider can leave
the capture's refunds in flight over what is left: the provider's refund is a fact and is
recorded whole; ours is then refused by the provider (over-refund) and gives its amount back.
Until then the capture's refunds made and in flight add up to more than it captured;
``refundable_amount`` (and every API answer) says zero, and our API refunds nothing more.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from order_capture.domain import state_log
from order_capture.domain.provider_webhooks import settle_refund
from order_capture.errors import OrderCaptureError, OrderChangedError
from order_capture.models import Capture, CaptureStatus, Refund, RefundStatus
from order_capture.observability import logger
from order_capture.ports import (
    IntentRefunds,
    ProviderNotification,
    ProviderRefundState,
    RefundLedger,
    WebhookLedger,
)
from order_capture.provider_units import units_for

#: How often recording one part is tried while other refunds of the capture move its totals.
MAX_RECORD_ATTEMPTS = 8
#: A provider's refund never needs more parts than an order has captures; this bounds the
#: lookups of its parts.
MAX_PARTS = 100


def external_refund_id(merchant_id: str, provider_reference: str, part: int) -> str:
    """The ledger's id of ``part`` of the provider's refund ``provider_reference``."""
    digest = hashlib.sha256(f"{merchant_id}\x1fexternal\x1f{provider_reference}\x1f{part}".encode())
    return digest.hexdigest()[:32]


def record_external_refunds(
    repository: WebhookLedger,
    merchant_id: str,
    intent: IntentRefunds,
    now: datetime,
    event: str,
) -> list[Refund]:
    """Record every refund of ``intent`` the ledger does not know, and settle those recorded
    before that the provider has decided since (see the module doc). The ledger's refunds
    that stand for refunds made elsewhere and moved money or hold it, in order."""
    captures = _our_captures(repository, merchant_id, intent.capture_keys)
    if not captures:
        return []
    order_id = captures[0].order_id
    ours = {refund.refund_id for refund in repository.list_refunds(merchant_id, order_id)}
    found: list[Refund] = []
    for state in intent.refunds:
        if state.reference is not None and state.reference in ours:
            continue  # one of ours: settled by its own events (refund_states)
        if state.status != "failed":
            found.extend(_record(repository, merchant_id, order_id, state, now))
        parts = _recorded_parts(repository, merchant_id, state.provider_reference)
        _settle_parts(repository, merchant_id, parts=parts, state=state, now=now, event=event)
    return found


def record_notified_refund(
    repository: WebhookLedger,
    merchant_id: str,
    notification: ProviderNotification,
    now: datetime,
    provider: str,
) -> list[Refund]:
    """A provider's refund notification that names no refund of ours (Adyen: a refund made
    in the Customer Area), recorded as refunds of the order it proves to be of; the ledger's
    refunds that stand for it ([] when nothing shows whose it is).

    Adyen gives such a refund the ``merchantReference`` of the payment, so the order is the
    one of that id whose authorization is the notification's ``originalReference``: both
    must agree, or nothing is recorded (a warning names the references). ``REFUND`` success
    records it once (by its ``pspReference``); ``REFUND_FAILED`` or ``REFUNDED_REVERSED`` of
    one recorded before undoes it as for ours."""
    if not notification.about_refund or not notification.provider_reference:
        return []
    parts = _recorded_parts(repository, merchant_id, notification.provider_reference)
    if parts or not notification.succeeded:
        for part in parts:
            settle_refund(
                repository,
                merchant_id,
                notification.model_copy(update={"reference": part.refund_id}),
                now,
            )
        return parts
    order = repository.get_order(merchant_id, notification.reference)
    if (
        order is None
        or order.payment.provider != provider  # only its own provider's word counts
        or notification.authorization_reference is None
        or order.payment.reference != notification.authorization_reference
        or notification.provider_amount is None
        or notification.currency != order.currency
    ):
        logger.warning(
            "refund made at the provider for no order we can prove: not recorded",
            extra={
                "merchant_reference": notification.reference,
                "authorization_reference": notification.authorization_reference,
                "provider_reference": notification.provider_reference,
            },
        )
        return []
    try:
        amount = units_for(order.payment.provider).from_provider(
            notification.provider_amount, order.currency
        )
    except OrderCaptureError as error:  # not an amount of this order's provider
        logger.warning("refund made at the provider in units we cannot read: not recorded",
                       extra={"provider_reference": notification.provider_reference,
                              "error": str(error)})  # fmt: skip
        return []
    state = ProviderRefundState(
        provider_reference=notification.provider_reference,
        status="succeeded",
        amount=amount,
        currency=order.currency,
    )
    return _record(repository, merchant_id, order.order_id, state, now)


def _our_captures(repository: WebhookLedger, merchant_id: str, keys: list[str]) -> list[Capture]:
    """The captured captures of the order our keys name (our idempotency key of a capture is
    its capture id)."""
    for key in keys:
        found = repository.find_capture(merchant_id, key)
        if found is not None:
            return [
                capture
                for capture in repository.list_captures(merchant_id, found.order_id)
                if capture.status is CaptureStatus.CAPTURED
            ]
    return []


def _recorded_parts(
    repository: WebhookLedger, merchant_id: str, provider_reference: str
) -> list[Refund]:
    parts = []
    for part in range(MAX_PARTS):
        found = repository.find_refund(
            merchant_id, external_refund_id(merchant_id, provider_reference, part)
        )
        if found is None:
            break
        parts.append(found)
    return parts


def _settle_parts(
    repository: WebhookLedger,
    merchant_id: str,
    *,
    parts: list[Refund],
    state: ProviderRefundState,
    now: datetime,
    event: str,
) -> None:
    """A refund recorded before that the provider has decided since (pending to succeeded or
    failed, or failed after it succeeded): each part settled as one of ours would be."""
    if state.status == "pending":
        return
    for part in parts:
        notification = ProviderNotification(
            subject="refund",
            outcome=state.status,
            reference=part.refund_id,
            provider_reference=state.provider_reference,
            event=event,
            reason=state.reason or state.status,
        )
        settle_refund(repository, merchant_id, notification, now)


def allocation(captures: list[Capture], amount: int) -> list[tuple[Capture, int]]:
    """Which captures the provider's refund of ``amount`` comes out of: what each has left to
    refund, the largest first (fewest parts); then, if refunds of ours in flight hold the
    rest, what each has not refunded yet (see the module doc)."""
    left = amount
    parts: dict[str, int] = {}
    ordered = sorted(captures, key=lambda c: (-c.refundable_amount, c.capture_id))
    for over_ours_in_flight in (False, True):
        for capture in ordered:
            taken = parts.get(capture.capture_id, 0)
            room = (
                capture.amount - capture.refunded_amount - taken
                if over_ours_in_flight
                else capture.refundable_amount
            )
            take = min(left, max(room, 0))
            if take > 0:
                parts[capture.capture_id] = parts.get(capture.capture_id, 0) + take
                left -= take
    if left > 0:
        logger.error(
            "refund made elsewhere exceeds what the order's captures have not refunded: "
            "recorded what fits, the rest is for an operator",
            extra={"amount": amount, "not_recorded": left},
        )
    by_id = {capture.capture_id: capture for capture in captures}
    return [(by_id[capture_id], taken) for capture_id, taken in parts.items()]


def _record(
    repository: WebhookLedger,
    merchant_id: str,
    order_id: str,
    state: ProviderRefundState,
    now: datetime,
) -> list[Refund]:
    """The refund's parts in the ledger, recording those it lacks: resumed where an earlier
    delivery stopped (its parts are kept, only the rest is allocated)."""
    for _ in range(MAX_RECORD_ATTEMPTS):
        recorded = _recorded_parts(repository, merchant_id, state.provider_reference)
        left = state.amount - sum(part.amount for part in recorded)
        if left <= 0 or len(recorded) >= MAX_PARTS:
            return recorded
        captures = [
            c
            for c in repository.list_captures(merchant_id, order_id)
            if c.status is CaptureStatus.CAPTURED and c.currency == state.currency
        ]
        try:
            return recorded + [
                record_part(
                    repository,
                    capture,
                    state=state,
                    part=len(recorded) + offset,
                    amount=amount,
                    now=now,
                )
                for offset, (capture, amount) in enumerate(allocation(captures, left))
            ]
        except OrderChangedError:
            continue  # a capture's refund totals moved: allocate again from what is stored
    raise OrderChangedError(f"order {order_id} kept changing while recording a refund")


def record_part(
    repository: RefundLedger,
    capture: Capture,
    *,
    state: ProviderRefundState,
    part: int,
    amount: int,
    now: datetime,
) -> Refund:
    """Part ``part`` of the provider's refund ``state`` as a refund of ``capture``, once: the
    refund found if it was recorded before. Raises OrderChangedError when the capture's refund
    totals moved since ``capture`` was read."""
    refund = Refund(
        refund_id=external_refund_id(capture.merchant_id, state.provider_reference, part),
        merchant_id=capture.merchant_id,
        order_id=capture.order_id,
        capture_id=capture.capture_id,
        amount=amount,
        currency=capture.currency,
        status=RefundStatus.PENDING,
        provider_reference=state.provider_reference,
        created_at=now,
        updated_at=now,
    )
    stored = repository.reserve_refund(capture, refund)
    if stored is not None:
        return stored  # recorded meanwhile (another delivery of the same refund)
    state_log.refund_changed(refund, None, "recorded: made at the provider, not by us")
    if state.status == "pending":
        repository.await_refund(refund)
        return refund
    refunded = refund.model_copy(update={"status": RefundStatus.REFUNDED})
    if repository.confirm_refund(refunded):
        state_log.refund_changed(refunded, RefundStatus.PENDING, "refunded at the provider")
        return refunded
    return repository.find_refund(capture.merchant_id, refund.refund_id) or refund
