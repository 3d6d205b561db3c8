"""Reconciliation of refunds, on the Reconcile schedule: refunds left pending are settled.

``reconcile_open_refunds`` asks again for a refund left pending without an answer when nobody
retried the request, with the same idempotency key, if the provider takes idempotency keys;
otherwise it never sends it again (the provider may have refunded: sending it again could
refund twice) but looks it up where the provider lists a capture's refunds (Aplazame, by
elimination, as the retry of the request does too), and else leaves it pending, counted for an
operator. A refund the provider received (it answered ``pending``) is settled by what the
provider shows of it now, where it shows it (Stripe), and else left to its webhook.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from order_capture.domain.listed_refunds import record_listed_refunds
from order_capture.domain.reconciled import (
    HasTime,
    OnItem,
    ReconciledItem,
    error_reason,
    out_of_time,
    rotated,
)
from order_capture.domain.refund_states import settle_refund_state
from order_capture.domain.refunds import settle_at_provider
from order_capture.errors import (
    OutcomeUnknownNotRetryableError,
    ProviderDeclinedError,
    ProviderError,
)
from order_capture.history import Actor, acting
from order_capture.models import Capture, Model, Order, Refund, RefundStatus
from order_capture.ports import (
    PaymentProviders,
    RefundLedger,
    RefundReconciliation,
    RefundStateReader,
)


class RefundReconciliationReport(Model):
    examined: int = 0
    refunded: int = 0
    failed: int = 0
    #: Received by the provider and awaiting its webhook, or not safe to send again.
    still_open: int = 0
    unanswered: int = 0
    #: Refunds whose settling raised: left as they were, for the next run (and alarmed).
    errors: int = 0
    #: Refunds this run had no time left for: for the next run.
    deferred: int = 0


def reconcile_open_refunds(
    repository: RefundReconciliation,
    providers: PaymentProviders,
    now: datetime,
    grace: timedelta,
    on_error: Callable[[Refund, Exception], None] | None = None,
    *,
    on_item: OnItem | None = None,
    has_time: HasTime | None = None,
) -> RefundReconciliationReport:
    """Settle refunds left pending longer than ``grace`` (see the module doc); one that
    raises is counted in ``errors`` and handed to ``on_error``, and the others go on.
    ``on_item`` is told what became of each refund examined, and why."""
    counts = RefundReconciliationReport().model_dump()
    due = rotated(repository.list_open_refunds(now - grace), now)
    for position, refund in enumerate(due):
        if out_of_time(has_time):
            counts["deferred"] = len(due) - position
            break
        counts["examined"] += 1
        try:
            with acting(Actor(kind="reconciliation")):
                outcome, reason, provider = _reconcile_refund(repository, providers, refund, now)
        except Exception as error:  # one refund must not stop the others
            outcome, reason, provider = "errors", error_reason(error), "?"
            if on_error is not None:
                on_error(refund, error)
        counts[outcome] += 1
        if on_item is not None:
            on_item(
                ReconciledItem(
                    kind="refund",
                    id=refund.refund_id,
                    merchant_id=refund.merchant_id,
                    order_id=refund.order_id,
                    provider=provider,
                    outcome=outcome,
                    reason=reason,
                )
            )
    return RefundReconciliationReport(**counts)


def _reconcile_refund(
    repository: RefundLedger, providers: PaymentProviders, refund: Refund, now: datetime
) -> tuple[str, str, str]:
    """The outcome (a report counter), why, and the provider. Once the refund is settled,
    the refunds its provider lists that the ledger lacks are recorded (``listed_refunds``:
    Aplazame's back office)."""
    order, capture = repository.get_order_and_capture(
        refund.merchant_id, refund.order_id, refund.capture_id
    )
    provider = order.payment.provider if order is not None else "?"
    if order is None or capture is None:
        return "still_open", "its order or capture is not in the ledger", provider
    outcome, why = _settle(
        repository, providers, order=order, capture=capture, refund=refund, now=now
    )
    recorded = record_listed_refunds(repository, providers, order, now).recorded
    if recorded:
        why = f"{why}; {len(recorded)} refund(s) made at {provider} recorded"
    return outcome, why, provider


def _settle(
    repository: RefundLedger,
    providers: PaymentProviders,
    *,
    order: Order,
    capture: Capture,
    refund: Refund,
    now: datetime,
) -> tuple[str, str]:
    if refund.provider_reference is not None:
        return _settle_by_lookup(repository, providers, order, refund, now)
    try:
        # Sent again only where the provider takes idempotency keys; elsewhere found by lookup
        # if the provider can, or left pending for an operator.
        settled = settle_at_provider(
            repository, providers, order=order, capture=capture, refund=refund, now=now
        )
    except ProviderDeclinedError as error:
        return "failed", error_reason(error)
    except OutcomeUnknownNotRetryableError as error:
        return "still_open", error_reason(error)
    except ProviderError as error:  # no answer, or no credentials: named, never swallowed
        return "unanswered", error_reason(error)
    if settled.status is RefundStatus.REFUNDED:
        outcome, why = "refunded", f"refunded at the provider as {settled.provider_reference}"
    else:
        outcome, why = "still_open", "pending at the provider"
    return outcome, why


def _settle_by_lookup(
    repository: RefundLedger,
    providers: PaymentProviders,
    order: Order,
    refund: Refund,
    now: datetime,
) -> tuple[str, str]:
    """A refund the provider received (it answered ``pending``) whose webhook has not come,
    settled by what the provider shows of it now (Stripe); left to the webhook where the
    provider shows no refund by its reference (Adyen)."""
    reference = refund.provider_reference or ""
    try:
        provider = providers.provider(order.payment.provider, order.merchant_id)
        if not isinstance(provider, RefundStateReader):
            return "still_open", f"received by the provider ({reference}): its webhook settles it"
        state = provider.refund_state(reference)
    except ProviderError as error:
        return "unanswered", error_reason(error)
    # Looked up by the reference the provider gave for this refund: it is this refund even
    # without our key in it (the amounts must still agree).
    state = state.model_copy(update={"reference": refund.refund_id})
    settled = settle_refund_state(repository, refund.merchant_id, state, now)
    if settled is None:
        return "still_open", (
            f"the provider's refund {state.provider_reference} is of {state.amount} "
            f"{state.currency}, not this refund's {refund.amount}: for an operator"
        )
    if settled.status is RefundStatus.REFUNDED:
        return "refunded", f"refunded at the provider as {state.provider_reference} (looked up)"
    if settled.status is RefundStatus.FAILED:
        return "failed", f"the provider failed refund {state.provider_reference}: {state.reason}"
    return "still_open", f"pending at the provider ({state.provider_reference}), looked up"
