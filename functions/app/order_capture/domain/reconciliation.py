"""Reconciliation: settle captures the pipeline left pending or requires_action.

A capture stays open when its execution died between reserving and recording (a crash, a
timeout after the provider captured, Record failing past its retries). Reconciliation asks the
provider, by the capture id it was sent as idempotency key, what became of it:

* captured there   -> confirmed in the ledger (reserved -> captured), as Record would have
                      (a provider without idempotency keys, Aplazame, finds it by
                      elimination: the one capture at the provider the ledger does not know);
* unknown there    -> released and recorded as failed (its units can ship again);
* failed there     -> released and recorded as failed (ProviderDeclinedError): the provider
                      received it, then failed it, and its webhook never came;
* still pending    -> left open (asynchronous providers confirm later);
* no answer        -> left open, counted, tried again on the next run.

Each capture is settled on its own: whatever goes wrong with one (an answer nobody foresaw, a
bug) is counted in ``errors`` and handed to ``on_error``, and the others are still settled.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from order_capture.domain import failures, service
from order_capture.domain.announcements import (
    NOBODY_WAITS,
    SETTLER_DEADLINE,
    make_known,
    make_known_unretried,
)
from order_capture.domain.reconciled import (
    HasTime,
    OnItem,
    ReconciledItem,
    error_reason,
    out_of_time,
    rotated,
)
from order_capture.errors import (
    CaptureNotFoundAtProviderError,
    ProviderDeclinedError,
    ProviderError,
)
from order_capture.history import Actor, acting, announcer_for, held_by_unretried
from order_capture.models import (
    SETTLED_CAPTURE_STATUSES,
    Capture,
    CaptureRequest,
    CaptureStatus,
    FailureReason,
    Model,
)
from order_capture.ports import (
    CaptureConfirmations,
    CaptureReconciliation,
    ConfirmationWaiters,
    EventPublisher,
    OrderReads,
    PaymentProvider,
    ProviderCapture,
    ProviderCaptureLookup,
)

#: Who settles what reconciliation settles (the ledger's history).
RECONCILIATION = Actor(kind="reconciliation")
#: Captures younger than this are probably still in flight in their own execution.
DEFAULT_GRACE = timedelta(minutes=15)


class ReconciliationReport(Model):
    examined: int = 0
    confirmed: int = 0
    released: int = 0
    #: Settled by an earlier run or an operator that died before announcing: announced now.
    announced: int = 0
    still_open: int = 0
    unanswered: int = 0
    amount_mismatches: int = 0
    #: Captures whose settling raised: left as they were, for the next run (and alarmed).
    errors: int = 0
    #: Captures this run had no time left for: for the next run.
    deferred: int = 0


def reconcile_open_captures(
    repository: CaptureReconciliation,
    provider_for_capture: Callable[[Capture], PaymentProvider],
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
    *,
    publisher: EventPublisher,
    waiters: ConfirmationWaiters | None = None,
    on_error: Callable[[Capture, Exception], None] | None = None,
    on_item: OnItem | None = None,
    has_time: HasTime | None = None,
) -> ReconciliationReport:
    """Settle the open captures older than ``grace``; each one settled is made known once
    (``announcements.make_known``): the confirmation workflow still waiting for it is
    completed and announces it, else it is announced here (``Payment Captured`` /
    ``Payment Capture Failed``), as its execution could not. ``on_item`` is told what became
    of each capture examined, and why."""
    waiters = waiters or NOBODY_WAITS
    counts = ReconciliationReport().model_dump()
    unannounced = repository.list_unannounced(now - grace)
    # Announcing asks no provider: those first; the open captures from a place that changes
    # from run to run (``rotated``), so stuck ones at the head cannot starve the rest.
    due = [*unannounced, *rotated(repository.list_open_captures(now - grace), now)]
    for position, capture in enumerate(due):
        if out_of_time(has_time):
            counts["deferred"] = len(due) - position
            break
        counts["examined"] += 1
        try:
            with acting(RECONCILIATION):
                if capture.status in SETTLED_CAPTURE_STATUSES:
                    outcome, reason = announce_unannounced(
                        repository, capture, now, publisher=publisher, waiters=waiters
                    )
                else:
                    outcome, reason = _reconcile(
                        repository,
                        provider_for_capture,
                        capture,
                        now,
                        publisher=publisher,
                        waiters=waiters,
                    )
        except Exception as error:  # one capture must not stop the others
            outcome, reason = "errors", error_reason(error)
            if on_error is not None:
                on_error(capture, error)
        counts[outcome] += 1
        if on_item is not None:
            on_item(
                ReconciledItem(
                    kind="capture",
                    id=capture.capture_id,
                    merchant_id=capture.merchant_id,
                    order_id=capture.order_id,
                    provider=capture.provider,
                    outcome=outcome,
                    reason=reason,
                )
            )
    return ReconciliationReport(**counts)


class _Ambiguous(Exception):  # noqa: N818 - a signal, not an error
    """Elimination cannot tell which capture at the provider is which."""


def _elimination_hints(
    repository: OrderReads, provider: PaymentProvider, capture: Capture
) -> dict[str, Any]:
    """What a provider without idempotency keys needs to find a capture by elimination: its
    amount and the provider references of the order's other captures in the ledger. Raises
    _Ambiguous when another capture of the order may be at the provider without the ledger
    knowing its reference (in flight, or itself of unknown outcome): then a capture found by
    elimination could be that one."""
    if provider.idempotent_captures or capture.provider_reference is not None:
        return {}
    others = [
        other
        for other in repository.list_captures(capture.merchant_id, capture.order_id)
        if other.capture_id != capture.capture_id
    ]
    if any(
        other.provider_reference is None and other.status is not CaptureStatus.FAILED
        for other in others
    ):
        raise _Ambiguous
    return {
        "amount": capture.amount,
        "known_references": sorted(
            other.provider_reference for other in others if other.provider_reference is not None
        ),
    }


def _reconcile(
    repository: CaptureConfirmations,
    provider_for_capture: Callable[[Capture], PaymentProvider],
    capture: Capture,
    now: datetime,
    *,
    publisher: EventPublisher,
    waiters: ConfirmationWaiters,
) -> tuple[str, str]:
    """The outcome (a report counter) and why."""
    order = repository.get_order(capture.merchant_id, capture.order_id)
    if order is None:
        return "still_open", "its order is not in the ledger"
    if service.captures_nothing(capture):
        # Never sent (nothing to ask the provider for): its step died before Record did.
        _confirm(repository, capture, None, now, publisher=publisher, waiters=waiters)
        return "confirmed", "a capture of 0 (its units held nothing left to capture): not sent"
    try:
        provider = provider_for_capture(capture)
        found = provider.find_capture(
            ProviderCaptureLookup(
                authorization_reference=order.payment.reference,
                merchant_id=capture.merchant_id,
                order_id=capture.order_id,
                idempotency_key=capture.capture_id,
                provider_reference=capture.provider_reference,
                **_elimination_hints(repository, provider, capture),
            )
        )
    except _Ambiguous:
        return "still_open", (
            "the provider takes no idempotency key and another capture of the order has an "
            "unknown outcome: elimination cannot tell them apart"
        )
    except ProviderError as error:  # no answer, or no credentials: named, never swallowed
        return "unanswered", error_reason(error)
    if found is None or found.status == "failed":
        cause = CaptureNotFoundAtProviderError if found is None else ProviderDeclinedError
        message = (
            "reconciliation: the provider has no capture with this idempotency key"
            if found is None
            else f"reconciliation: the provider failed capture {found.provider_reference}"
        )
        released, released_here = failures.fail_capture(
            repository,
            request=CaptureRequest(
                merchant_id=capture.merchant_id,
                order_id=capture.order_id,
                shipment_id=capture.shipment_id,
                trigger=capture.trigger,
            ),
            failure=FailureReason(reason=cause.reason, message=message, error=cause.__name__),
            execution_id=capture.execution_id,
            now=now,
            reopen_requires_action=True,
        )
        make_known_unretried(
            repository, waiters, publisher, released, settled_here=released_here, now=now
        )
        return "released", f"{cause.reason}: {message}"
    return _settle_found(repository, capture, found, now, publisher=publisher, waiters=waiters)


def _settle_found(
    repository: CaptureConfirmations,
    capture: Capture,
    found: ProviderCapture,
    now: datetime,
    *,
    publisher: EventPublisher,
    waiters: ConfirmationWaiters,
) -> tuple[str, str]:
    """Settle ``capture`` with what the provider answered it became (not failed)."""
    if found.status == "pending":
        return "still_open", f"pending at the provider ({found.provider_reference})"
    if found.amount != capture.amount:
        # Never guess with money: a person looks at it (the capture stays requires_action).
        return "amount_mismatches", (
            f"the provider captured {found.amount} ({found.provider_reference}), "
            f"the ledger reserved {capture.amount}"
        )
    _confirm(
        repository, capture, found.provider_reference, now, publisher=publisher, waiters=waiters
    )
    return "confirmed", f"captured at the provider as {found.provider_reference}"


def _confirm(
    repository: CaptureConfirmations,
    capture: Capture,
    provider_reference: str | None,
    now: datetime,
    *,
    publisher: EventPublisher,
    waiters: ConfirmationWaiters,
) -> None:
    """Confirm ``capture`` as captured (``provider_reference``: the provider's id of it) and
    make it known once."""
    confirmed, confirmed_here = service.confirm_capture(
        repository,
        capture.model_copy(
            update={"provider_reference": provider_reference, "status_at_provider": "succeeded"}
        ),
        now,
    )
    make_known_unretried(
        repository, waiters, publisher, confirmed, settled_here=confirmed_here, now=now
    )


def announce_unannounced(
    repository: CaptureConfirmations,
    capture: Capture,
    now: datetime,
    *,
    publisher: EventPublisher,
    waiters: ConfirmationWaiters,
) -> tuple[str, str]:
    """Make known a capture a settler nothing retries (an earlier run, an operator) settled
    and did not finish announcing: it died after its settling write, or its PutEvents
    failed. Only once that settler is over (``SETTLER_DEADLINE`` after the capture was last
    touched; longer than Reconcile's Timeout). A note it still holds is taken over with a
    conditional write (a lease: of two runs, one announces) and announced as its retry
    would, if the ledger still holds that outcome; a note taken back (its PutEvents failed)
    is claimed as anyone would; a note held by a settler something retries (Record, a
    webhook), or of another outcome since, is that settler's to announce."""
    if now < capture.updated_at + SETTLER_DEADLINE:
        return "still_open", "its settler may still be announcing it"
    ids = (capture.merchant_id, capture.order_id, capture.capture_id)
    state = repository.confirmation_state(*ids)
    if state.announced is None:
        make_known(repository, waiters, publisher, capture, claimed=False, state=state, now=now)
        repository.announcement_sent(*ids)
        return "announced", f"{capture.status.value}: its settler's announcement had failed"
    if state.announced is not capture.status or not held_by_unretried(state.announced_by):
        repository.announcement_sent(*ids)
        return "announced", "its note is held by a settler that announces it"
    relieving = announcer_for(capture.execution_id)
    if not repository.take_over_announcement(
        capture, holder=state.announced_by or "", announcer=relieving, now=now
    ):
        return "still_open", "another run is relieving its settler"
    stored = repository.get_capture(*ids)
    if stored is not None and stored.status is capture.status:
        # As listed: the take-over moved its updated_at (the lease), not its outcome.
        make_known(repository, waiters, publisher, capture, claimed=True, state=state, now=now)
    repository.announcement_sent(*ids)
    return "announced", f"{capture.status.value}: its settler died before announcing it"
