"""Refunds against a capture: the rules (pure) and the use cases over the ports.

A refund follows the pattern of a capture: reserve its amount in the ledger first (a conditional
write on the capture's refund totals, so two concurrent refunds can never add up to more than
the capture), then ask the provider with one idempotency key, then confirm or release:

* the provider refunded: the refund becomes ``refunded``, its amount moves to the capture's and
  the order's ``refunded_amount``;
* the provider refused (``ProviderDeclinedError``): the refund becomes ``failed`` and its amount
  is refundable again; a retry of the request gets the same refusal;
* no answer, or nothing sent (unavailable, outcome unknown, not configured): the refund stays
  ``pending`` and reserved. A retry with the same Idempotency-Key finds it and asks the provider
  again with the same key, so the money leaves at most once, if the provider takes idempotency
  keys. A provider that takes none (Aplazame) may have refunded already: the retry sends
  nothing and answers ``OutcomeUnknownNotRetryableError`` again; the refund stays pending for
  an operator (``RefundsRequiringActionAlarm``);
* the provider answered "received" (Adyen): the refund stays ``pending`` until its webhook
  (``REFUND`` / ``REFUND_FAILED``, see ``provider_webhooks.settle_refund``).

Reconciliation settles the refunds left pending (``refund_reconciliation``).

The refund id is derived from the merchant, the capture and the request's Idempotency-Key, and
it is the idempotency key sent to the provider.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime

from order_capture.domain import state_log
from order_capture.domain.listed_refunds import ListedRefunds, record_listed_refunds
from order_capture.domain.merchant_api import error_from_failure, order_and_capture
from order_capture.domain.service import provider_items
from order_capture.errors import (
    InvalidEventError,
    InvalidStateError,
    OrderChangedError,
    OutcomeUnknownNotRetryableError,
    OverRefundError,
    ProviderDeclinedError,
    ProviderError,
)
from order_capture.models import (
    Capture,
    CaptureStatus,
    FailureReason,
    Order,
    Refund,
    RefundStatus,
)
from order_capture.ports import (
    Clock,
    PaymentProvider,
    PaymentProviders,
    ProviderRefund,
    ProviderRefundLookup,
    ProviderRefundRequest,
    RefundFinder,
    RefundLedger,
)
from order_capture.provider_units import units_for

#: How often reserving a refund is tried while other refunds of the capture move its totals.
MAX_RESERVE_ATTEMPTS = 8


# --- Rules (pure) --------------------------------------------------------------------------------


def refund_id_for(merchant_id: str, capture_id: str, idempotency_key: str) -> str:
    """The refund a request stands for: the same key on the same capture is the same refund."""
    digest = hashlib.sha256(f"{merchant_id}\x1f{capture_id}\x1f{idempotency_key}".encode())
    return digest.hexdigest()[:32]


def check_refundable(
    capture: Capture, amount: int, refundable_at_provider: int | None = None
) -> None:
    """Raise unless ``amount`` can be refunded from ``capture`` now: by the ledger, and by
    what the provider says the capture has left, where it was asked (``listed_refunds``)."""
    if capture.status is not CaptureStatus.CAPTURED or capture.provider_reference is None:
        raise InvalidStateError(
            f"capture_id: capture {capture.capture_id} is {capture.status.value}; "
            "only a captured capture can be refunded",
            field="capture_id",
        )
    units_for(capture.provider).check(amount, capture.currency)
    if amount > capture.refundable_amount:
        raise OverRefundError(
            f"amount: {amount} is more than the {capture.refundable_amount} capture "
            f"{capture.capture_id} has left to refund",
            field="amount",
        )
    if refundable_at_provider is not None and amount > refundable_at_provider:
        raise OverRefundError(
            f"amount: {amount} is more than the {refundable_at_provider} {capture.provider} "
            f"has left to refund of capture {capture.capture_id} (refunds made at "
            f"{capture.provider}, outside this service, included)",
            field="amount",
        )


def new_refund(capture: Capture, refund_id: str, amount: int, now: datetime) -> Refund:
    return Refund(
        refund_id=refund_id,
        merchant_id=capture.merchant_id,
        order_id=capture.order_id,
        capture_id=capture.capture_id,
        amount=amount,
        currency=capture.currency,
        status=RefundStatus.PENDING,
        created_at=now,
        updated_at=now,
    )


def same_request(refund: Refund, amount: int) -> Refund:
    """An earlier refund found under the request's key must be for the same amount."""
    if refund.amount != amount:
        raise InvalidEventError(
            f"Idempotency-Key: this key already refunded {refund.amount}, not {amount}; use a "
            "new key for a new refund",
            field="Idempotency-Key",
        )
    return refund


def refund_totals(capture: Capture, capture_refunds: list[Refund] | None) -> tuple[int, int]:
    """The capture's refunded and still refundable amounts, from its refunds when they are
    given: a response built from the capture and its refunds, read one after the other, then
    agrees with itself even while a refund settles between the two reads. A capture not
    captured (pending, outcome unknown, failed or reversed) has nothing to refund."""
    if capture_refunds is None:
        refunded, refundable = capture.refunded_amount, capture.refundable_amount
    else:
        refunded = sum(r.amount for r in capture_refunds if r.status is RefundStatus.REFUNDED)
        pending = sum(r.amount for r in capture_refunds if r.status is RefundStatus.PENDING)
        refundable = max(0, capture.amount - refunded - pending)  # as ``refundable_amount``
    return refunded, refundable if capture.status is CaptureStatus.CAPTURED else 0


def visible_refunds(refunds: list[Refund]) -> list[Refund]:
    """The refunds a capture shows: made or in flight (a refused refund moved no money)."""
    return [refund for refund in refunds if refund.status is not RefundStatus.FAILED]


# --- Use cases -----------------------------------------------------------------------------------


def refunds_by_capture(
    repository: RefundLedger, merchant_id: str, order_id: str
) -> dict[str, list[Refund]]:
    grouped: dict[str, list[Refund]] = defaultdict(list)
    for refund in repository.list_refunds(merchant_id, order_id):
        grouped[refund.capture_id].append(refund)
    return grouped


def refund_capture(
    repository: RefundLedger,
    providers: PaymentProviders,
    *,
    merchant_id: str,
    order_id: str,
    capture_id: str,
    amount: int,
    idempotency_key: str,
    clock: Clock,
) -> tuple[Order, Capture, Refund]:
    """Refund ``amount`` of a capture (see the module doc). Returns the order and the capture
    as the ledger holds them afterwards, and the refund."""
    refund_id = refund_id_for(merchant_id, capture_id, idempotency_key)
    order, capture, refund, reserved_now = _reserve(
        repository,
        providers,
        merchant_id=merchant_id,
        order_id=order_id,
        capture_id=capture_id,
        refund_id=refund_id,
        amount=amount,
        now=clock.now(),
    )
    refund = settle_at_provider(
        repository,
        providers,
        order=order,
        capture=capture,
        refund=refund,
        now=clock.now(),
        sent_before=not reserved_now,
    )
    order, capture = order_and_capture(repository, merchant_id, order_id, capture_id)
    return order, capture, refund


def _stored(repository: RefundLedger, refund: Refund) -> Refund | None:
    refunds = repository.list_refunds(refund.merchant_id, refund.order_id, refund.capture_id)
    return next((stored for stored in refunds if stored.refund_id == refund.refund_id), None)


def _reserve(
    repository: RefundLedger,
    providers: PaymentProviders,
    *,
    merchant_id: str,
    order_id: str,
    capture_id: str,
    refund_id: str,
    amount: int,
    now: datetime,
) -> tuple[Order, Capture, Refund, bool]:
    """The refund of the request, and whether this call reserved it (False: an earlier or a
    concurrent request with the same key did, and may have sent it). A new refund first
    records the refunds the provider lists that the ledger lacks (``listed_refunds``)."""
    listed: ListedRefunds | None = None
    for _ in range(MAX_RESERVE_ATTEMPTS):
        order, capture = order_and_capture(repository, merchant_id, order_id, capture_id)
        refund = new_refund(capture, refund_id, amount, now)
        earlier = _stored(repository, refund)
        if earlier is not None:
            return order, capture, same_request(earlier, amount), False
        if listed is None:
            listed = record_listed_refunds(repository, providers, order, now, for_new_refund=True)
            if listed.recorded:
                continue  # the capture's totals moved: read them again
        check_refundable(capture, amount, listed.refundable_at_provider.get(capture_id))
        try:
            stored = repository.reserve_refund(capture, refund)
        except OrderChangedError:
            continue  # another refund of this capture moved its totals: check again
        if stored is None:
            state_log.refund_changed(refund, None, "reserved")
            return order, capture, refund, True
        return order, capture, same_request(stored, amount), False
    raise OrderChangedError(f"capture {capture_id} kept changing while reserving a refund")


def settle_at_provider(
    repository: RefundLedger,
    providers: PaymentProviders,
    *,
    order: Order,
    capture: Capture,
    refund: Refund,
    now: datetime,
    sent_before: bool = True,
) -> Refund:
    """Ask the provider for a pending ``refund`` and settle the ledger with its answer.

    ``sent_before``: the refund may have been sent already (it was found pending, not reserved
    now). It is then sent again only to a provider that takes idempotency keys.
    """
    if refund.status is RefundStatus.FAILED and refund.failure is not None:
        raise error_from_failure(refund.failure)
    if refund.status is not RefundStatus.PENDING:
        return refund
    provider = providers.provider(order.payment.provider, order.merchant_id)
    if sent_before and not provider.idempotent_captures:
        found = _find_at_provider(repository, provider, order=order, capture=capture, refund=refund)
        if found is None:
            raise OutcomeUnknownNotRetryableError(
                f"refund {refund.refund_id} may already have been sent to {provider.name}, "
                "which takes no idempotency key, and its answer was lost: it is not sent again; "
                "it stays pending (reserved) until an operator settles it with the provider"
            )
        return _confirm_refunded(repository, refund, found.provider_reference, now)
    try:
        answer = provider.refund(
            ProviderRefundRequest(
                authorization_reference=order.payment.reference,
                capture_reference=capture.provider_reference or "",
                amount=refund.amount,
                currency=refund.currency,
                idempotency_key=refund.refund_id,
                merchant_id=order.merchant_id,
                order_id=order.order_id,
                capture_amount=capture.amount,
                lines=capture.lines,
                shipping_amount=capture.shipping_amount,
                items=provider_items(order, capture),
                earlier_refund_amounts=_earlier_amounts(repository, capture, refund),
                reserved_at=refund.created_at,
            )
        )
    except ProviderDeclinedError as error:
        failed = refund.model_copy(
            update={
                "status": RefundStatus.FAILED,
                "failure": FailureReason(
                    reason=error.reason, message=error.message, error=type(error).__name__
                ),
                "updated_at": now,
            }
        )
        if repository.fail_refund(failed):
            state_log.refund_changed(failed, RefundStatus.PENDING, "declined")
        error.recorded = True  # the refund's answer from now on
        raise
    if answer.status == "pending":
        # Received, not done (Adyen): the amount stays reserved until the provider's webhook
        # confirms or fails it, which names the refund by our idempotency key.
        received = refund.model_copy(update={"provider_reference": answer.provider_reference})
        repository.await_refund(received)
        state_log.refund_changed(received, RefundStatus.PENDING, "received by the provider")
        return received
    return _confirm_refunded(repository, refund, answer.provider_reference, now)


def _earlier_amounts(repository: RefundLedger, capture: Capture, refund: Refund) -> list[int]:
    """The amounts of ``capture``'s other refunds that moved or hold money, oldest first (by
    creation, then id: refunds created in the same instant replay in id order). Read only
    for a capture of lines, the only one whose refunds a provider itemizes."""
    if not capture.lines and not capture.shipping_amount:
        return []

    def order_of(r: Refund) -> tuple[datetime, str]:
        return r.created_at, r.refund_id

    refunds = repository.list_refunds(capture.merchant_id, capture.order_id, capture.capture_id)
    earlier = [
        other
        for other in refunds
        if order_of(other) < order_of(refund) and other.status is not RefundStatus.FAILED
    ]
    return [other.amount for other in sorted(earlier, key=order_of)]


def _confirm_refunded(
    repository: RefundLedger, refund: Refund, provider_reference: str, now: datetime
) -> Refund:
    refunded = refund.model_copy(
        update={
            "status": RefundStatus.REFUNDED,
            "provider_reference": provider_reference,
            "updated_at": now,
        }
    )
    if not repository.confirm_refund(refunded):
        stored = _stored(repository, refund)
        if stored is None:
            raise InvalidStateError(f"refund {refund.refund_id} vanished from the ledger")
        return stored
    state_log.refund_changed(refunded, refund.status, "confirmed")
    return refunded


def _find_at_provider(
    repository: RefundLedger,
    provider: PaymentProvider,
    *,
    order: Order,
    capture: Capture,
    refund: Refund,
) -> ProviderRefund | None:
    """The provider's refund of a pending ``refund`` that may have been sent without an
    idempotency key, if the provider can list the capture's refunds and exactly one of them is
    unknown to the ledger, of the refund's amount; None when it cannot tell (another refund of
    the capture is also of unknown outcome, the lookup failed or is ambiguous) or finds none
    (then it is still not sent again: a concurrent request may be sending it right now)."""
    if not isinstance(provider, RefundFinder):
        return None
    others = [
        other
        for other in repository.list_refunds(refund.merchant_id, refund.order_id, refund.capture_id)
        if other.refund_id != refund.refund_id
    ]
    if any(o.status is RefundStatus.PENDING and o.provider_reference is None for o in others):
        return None  # two refunds of unknown outcome cannot be told apart
    try:
        return provider.find_refund(
            ProviderRefundLookup(
                authorization_reference=order.payment.reference,
                capture_reference=capture.provider_reference or "",
                amount=refund.amount,
                currency=refund.currency,
                known_references=[o.provider_reference for o in others if o.provider_reference],
            )
        )
    except ProviderError:
        return None
