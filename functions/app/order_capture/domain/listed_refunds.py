"""Refunds a provider lists per capture, those made in its back office included, recorded in
the ledger (Aplazame: ``GET /orders/{id}/captures`` lists every capture with its refunds, and
Aplazame sends no webhook for a refund made in its back office).

Left out of the ledger, such a refund leaves the capture's refundable amount too high: our API
would offer that money again, and a later refund through us would ask for more than the
capture has left. So the list is read before every new refund through us (``refunds``) and
for every order whose refunds reconciliation examines (``refund_reconciliation``), and each
refund in it that the ledger does not know is recorded:

* known means a refund of the order whose ``provider_reference`` is the provider's refund id
  (ours, confirmed, and those recorded here before); a refund recorded here has an id derived
  from the merchant and the provider's refund id (``external_refund_id``, part 0), so two
  readers recording it at once write it once;
* it is recorded on the capture the provider lists it under (a provider that refunds per
  capture needs no allocation), as refunded at once, under the actor of the caller;
* a capture holding a refund of ours of unknown outcome (reserved, sent, its answer lost:
  pending without a provider reference) is skipped: the refund the provider lists may be that
  one, and recording it would count it twice. Reconciliation's lookup by elimination settles
  ours first (``refunds._find_at_provider``), and the next reading records the rest.

The list is read before the ledger: any refund of ours the list shows was reserved in the
ledger before it was sent, so the ledger read after it knows it (confirmed with its reference,
or pending of unknown outcome): it is never mistaken for a refund made elsewhere.

A list that cannot be read refuses a new refund (retryable, nothing reserved or sent): what
the captures have left is then unknown. Reconciliation logs it and reads it on its next run.

What the provider says each capture has left is returned too: a new refund above it is
refused (``OverRefundError``, ``refunds.check_refundable``) even where the ledger could not
record the difference (the skipped captures above).
"""

from __future__ import annotations

from datetime import datetime

from order_capture.domain import external_refunds
from order_capture.errors import (
    OrderChangedError,
    ProviderDeclinedError,
    ProviderError,
    ProviderNotConfiguredError,
    ProviderUnavailableError,
)
from order_capture.models import Capture, CaptureStatus, Model, Order, Refund, RefundStatus
from order_capture.observability import logger
from order_capture.ports import (
    CaptureRefundsReader,
    PaymentProviders,
    ProviderRefundState,
    RefundLedger,
)

#: How often recording one refund is tried while other refunds of its capture move the totals.
MAX_RECORD_ATTEMPTS = 8


class ListedRefunds(Model):
    """What reading the provider's list did."""

    #: The refunds made elsewhere recorded now, in the provider's order.
    recorded: list[Refund] = []
    #: What the provider would still refund of each capture it listed, by our capture id.
    refundable_at_provider: dict[str, int] = {}
    #: Whether the list was read (False: the provider lists nothing, or the reading failed).
    read: bool = False


def record_listed_refunds(
    repository: RefundLedger,
    providers: PaymentProviders,
    order: Order,
    now: datetime,
    *,
    for_new_refund: bool = False,
) -> ListedRefunds:
    """Read the order's captures with their refunds at its provider and record the refunds
    the ledger does not know (see the module doc). A provider that lists none changes nothing.

    A list that cannot be had (a timeout, a 5xx, an answer we cannot read) proves nothing
    about what was refunded elsewhere. Before a new refund (``for_new_refund``) it refuses the
    refund: ``ProviderUnavailableError`` (retryable, field ``amount``; a decline or missing
    credentials are raised as they are), before anything is reserved or sent, as the capture
    may have less left than the ledger knows and sending could refund more than it captured.
    For reconciliation it is logged and changes nothing (the next run reads it again)."""
    try:
        provider = providers.provider(order.payment.provider, order.merchant_id)
        if not isinstance(provider, CaptureRefundsReader):
            return ListedRefunds()
        listed = provider.listed_captures(order.payment.reference, order.currency)
    except ProviderError as error:
        if for_new_refund and isinstance(error, ProviderDeclinedError | ProviderNotConfiguredError):
            raise  # the provider's clear answer (no such order, bad key): nothing reserved
        if for_new_refund:
            raise ProviderUnavailableError(
                f"{order.payment.provider} could not list the captures of order "
                f"{order.order_id} with their refunds ({error.reason}), so what they have left "
                "after refunds made outside this service is unknown: nothing was reserved or "
                "sent; retry later with the same Idempotency-Key",
                field="amount",
            ) from error
        logger.warning(
            "the provider's list of refunds could not be read: refunds made elsewhere not "
            "recorded now",
            extra={"order_id": order.order_id, "error": str(error)},
        )
        return ListedRefunds()
    captures = {
        capture.provider_reference: capture
        for capture in repository.list_captures(order.merchant_id, order.order_id)
        if capture.status is CaptureStatus.CAPTURED and capture.provider_reference
    }
    refunds = repository.list_refunds(order.merchant_id, order.order_id)
    known = {refund.provider_reference for refund in refunds if refund.provider_reference}
    unknown_outcome = {
        refund.capture_id
        for refund in refunds
        if refund.status is RefundStatus.PENDING and refund.provider_reference is None
    }
    result = ListedRefunds(read=True)
    for item in listed:
        capture = captures.get(item.provider_reference)
        if capture is None:
            continue  # not captured in the ledger (yet): the capture's reconciliation's
        result.refundable_at_provider[capture.capture_id] = item.refundable_amount
        new = [state for state in item.refunds if state.provider_reference not in known]
        if not new:
            continue
        if capture.capture_id in unknown_outcome:
            logger.warning(
                "refunds listed at the provider beside one of ours of unknown outcome: not "
                "recorded until ours is settled",
                extra={"capture_id": capture.capture_id, "listed": _references(new)},
            )
            continue
        result.recorded.extend(_record(repository, capture, new, now))
    return result


def _references(states: list[ProviderRefundState]) -> list[str]:
    return [state.provider_reference for state in states]


def _record(
    repository: RefundLedger, capture: Capture, states: list[ProviderRefundState], now: datetime
) -> list[Refund]:
    recorded: list[Refund] = []
    for state in states:
        for _ in range(MAX_RECORD_ATTEMPTS):
            current = repository.get_capture(
                capture.merchant_id, capture.order_id, capture.capture_id
            )
            if current is None:
                return recorded
            try:
                refund = external_refunds.record_part(
                    repository, current, state=state, part=0, amount=state.amount, now=now
                )
            except OrderChangedError:
                continue  # another refund of the capture moved its totals: read them again
            recorded.append(refund)
            break
        else:
            raise OrderChangedError(
                f"capture {capture.capture_id} kept changing while recording refund "
                f"{state.provider_reference} made at the provider"
            )
    return recorded
