"""The service's own events about captures (``Payment Captured`` / ``Payment Capture Failed``),
announced once per settled outcome whoever settles it: Record, a provider's webhook,
reconciliation, an operator.

Once, by one rule (``make_known``): the ``announced`` note on the capture's ledger item says
which outcome is being (or was) announced. Whoever settles a capture writes that note in the
same transaction as the settling write (``CaptureLedger.confirm`` / ``settle_failure`` with
``announced``), so the settler, and nobody else, announces it. If the announcement cannot be
sent, the note is taken back (conditionally), and whoever comes next (the step's retry, the
provider's redelivery, reconciliation) claims it with a conditional write and announces it: of
two callers that find a settled capture without the note, one wins. The settler alone completes a
waiting confirmation workflow; another caller does only once the settler is over
(``SETTLER_DEADLINE``). A ``failed`` note is final
and a claim is kept only while the ledger still holds its outcome: a success read just before
its reversal (a redelivered ``CAPTURE``, a Record retry) announces nothing (issue 12).

The note names its holder (``history.announcer_for``: the execution, the operator, ...), so
that a process that dies after its settling write and before PutEvents answered is relieved by
its own retry (``reannounce_own``: a Step Functions retry of Record): finding its own note and
no workflow waiting, it announces again. That is at least once: a death in the instant after
PutEvents answered repeats the announcement, with the same ``announcement_id``
(public_events). Another announcer that finds someone else's note still announces nothing.
A webhook's copy of the same notification does too, but only once its first handler is over
(``reannounce_own_once_over``). Reconciliation and operators, which nothing retries, keep
what they settle among the captures to announce until they have (``make_known_unretried``):
the next reconciliation run announces what one of them left (docs/guarantees.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from order_capture.errors import InvalidStateError, ProviderDeclinedError
from order_capture.history import ABANDONED_HOLDER, announcer_for
from order_capture.models import (
    SETTLED_CAPTURE_STATUSES,
    Capture,
    CaptureStatus,
    FailureReason,
    FailureRecord,
)
from order_capture.ports import (
    CaptureConfirmations,
    CompletedWaits,
    ConfirmationState,
    ConfirmationWaiters,
    EventPublisher,
)
from order_capture.public_events import (
    PaymentCaptured,
    PaymentCaptureFailed,
    payment_capture_failed,
    payment_captured,
)

PAYMENT_CAPTURED = PaymentCaptured.detail_type
PAYMENT_CAPTURE_FAILED = PaymentCaptureFailed.detail_type

#: How long after its settling write the settler of a capture may still be running: longer
#: than any function's Timeout (Lambda stops it by then). Only past it does a second
#: confirmer complete a wait the settler did not (it died before completing it).
SETTLER_DEADLINE = timedelta(minutes=6)


def announce(publisher: EventPublisher, capture: Capture) -> None:
    """The event the capture workflows send for this settled capture."""
    if capture.status is CaptureStatus.CAPTURED:
        publisher.publish(PAYMENT_CAPTURED, [payment_captured(capture)])
        return
    failure = capture.failure or FailureReason(
        reason=ProviderDeclinedError.reason, message="", error=ProviderDeclinedError.__name__
    )
    announce_failure(publisher, FailureRecord.of(capture, failure, capture.execution_id))


def announce_failure(publisher: EventPublisher, record: FailureRecord) -> None:
    publisher.publish(PAYMENT_CAPTURE_FAILED, [payment_capture_failed(record)])


def make_known(
    repository: CaptureConfirmations,
    waiters: ConfirmationWaiters,
    publisher: EventPublisher,
    settled: Capture,
    *,
    claimed: bool,
    state: ConfirmationState | None = None,
    now: datetime | None = None,
    reannounce_own: bool = False,
    reannounce_own_once_over: bool = False,
) -> bool:
    """Make the outcome of ``settled`` known once: complete the confirmation workflow waiting
    for it (which announces it), or, when nothing waits (any more), announce it here.

    ``claimed``: the caller's own settling write noted the outcome as announced (it settled
    the capture). Otherwise the note is claimed here, conditionally, and nothing is announced
    if somebody else holds it. If announcing raises, the note is taken back and the error
    raised, so that a retry announces it. True if this call announced (or handed it on).

    ``now``: when a caller that did not settle it finds the settler's note and a workflow
    waiting, it completes the wait only once the settler is over (``SETTLER_DEADLINE``): a
    live settler completes it itself, and one that lost that race would take its refused
    token for a timed-out wait and announce a second time.

    ``reannounce_own``: the caller is the retry of an announcer that may have died before
    PutEvents answered (Record): finding its own note (``is_announcer``) and no workflow
    waiting, it announces again (at least once, a repeat only after a death between
    PutEvents answering and the caller's end). Another holder's note still stops it.

    ``reannounce_own_once_over``: the same, but only once its first holder is over (``now``
    past ``SETTLER_DEADLINE`` after the note's moment): the provider's copy of a notification
    whose first handler may have died before PutEvents answered (a webhook). A copy inside the
    deadline announces nothing (its first handler may still be sending); one after it may
    repeat, with the same ``announcement_id``. Its note is read only after its claim failed."""
    if settled.status not in SETTLED_CAPTURE_STATUSES:
        return False
    if state is None:
        state = repository.confirmation_state(
            settled.merchant_id, settled.order_id, settled.capture_id
        )
    own = reannounce_own or (reannounce_own_once_over and _settler_over(settled, now))
    if not claimed and not _claim(repository, waiters, settled, state, now, reannounce_own=own):
        return False
    try:
        if state.task_token is not None:
            if complete_wait(waiters, state.task_token, settled):
                return True  # the workflow announces it
            if completed_as(waiters, settled) is settled.status:
                # Completed with this outcome before: an earlier call whose answer was lost
                # (or another completer's): the workflow announces it.
                return True
            # The wait timed out: announced here, unless the capture moved on while its wait
            # was being completed (a reversal, whose settler announces what it is now).
            if not _still(repository, settled):
                _withdraw(repository, settled)
                return False
        announce(publisher, settled)
    except Exception:
        _withdraw(repository, settled)
        raise
    return True


def make_known_unretried(
    repository: CaptureConfirmations,
    waiters: ConfirmationWaiters,
    publisher: EventPublisher,
    settled: Capture,
    *,
    settled_here: bool,
    now: datetime,
) -> None:
    """``make_known`` by a settler nothing retries (reconciliation, an operator): what it
    settled stays among the captures to announce (``history.kept_open_until_announced``)
    until it has made it known, so that if it dies, or its PutEvents fails, before that, the
    next reconciliation run does (``reconciliation.announce_unannounced``)."""
    make_known(repository, waiters, publisher, settled, claimed=settled_here, now=now)
    if settled_here:
        repository.announcement_sent(settled.merchant_id, settled.order_id, settled.capture_id)


def hand_over_abandoned(
    repository: CaptureConfirmations, capture: Capture, execution_id: str | None
) -> bool:
    """Record gave up past its retries (it died after its confirm, or PutEvents kept
    failing): if it confirmed ``capture`` and did not announce it, hand the announcement to
    reconciliation (``make_known_unretried``'s list: its next run announces it once
    ``SETTLER_DEADLINE`` has passed since the confirm). Only the capture's own execution
    hands it over (a twin's Record never confirmed it; its note is the other's). True if it
    was handed over."""
    if execution_id is not None and execution_id != capture.execution_id:
        return False
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    if stored is None or stored.status is not CaptureStatus.CAPTURED:
        return False  # still pending: reconciliation settles it as it is
    return repository.hand_over_announcement(stored, ABANDONED_HOLDER)


def _claim(
    repository: CaptureConfirmations,
    waiters: ConfirmationWaiters,
    settled: Capture,
    state: ConfirmationState,
    now: datetime | None,
    *,
    reannounce_own: bool,
) -> bool:
    """Claim the announcement of ``settled`` for a caller that did not settle it (or is the
    retry of the one that did); False if somebody else holds it, or it moved on since it was
    read."""
    if state.announced is settled.status:
        # Announced (or being) by its settler, who completes the waiting workflow. Once the
        # settler is over, a workflow still waiting is completed here: the settler died
        # before completing it (a completed or timed-out wait refuses the token).
        if state.task_token is not None:
            if _settler_over(settled, now):
                complete_wait(waiters, state.task_token, settled)
            return False
        return reannounce_own and _mine(repository, settled)
    if not repository.claim_announcement(
        settled.merchant_id,
        settled.order_id,
        settled.capture_id,
        settled.status,
        announcer_for(settled.execution_id),
    ):
        # Somebody claimed it meanwhile, or it failed since; or it is this caller's own note
        # (Record's retry reads no note first: its first try's confirm wrote it).
        return reannounce_own and state.task_token is None and _mine(repository, settled)
    if not _still(repository, settled):
        # Read before it moved on (a success read just before its reversal): what it is now
        # is its settler's to announce, not this stale outcome.
        _withdraw(repository, settled)
        return False
    return True


def _mine(repository: CaptureConfirmations, settled: Capture) -> bool:
    """Whether the note says ``settled``'s outcome is this caller's to announce: its settling
    write (or its claim) noted it, and it died, or raised, before PutEvents answered."""
    return repository.is_announcer(
        settled.merchant_id,
        settled.order_id,
        settled.capture_id,
        settled.status,
        announcer_for(settled.execution_id),
    )


def _withdraw(repository: CaptureConfirmations, settled: Capture) -> None:
    repository.withdraw_announcement(
        settled.merchant_id, settled.order_id, settled.capture_id, settled.status
    )


def _settler_over(settled: Capture, now: datetime | None) -> bool:
    """Whether whoever settled ``settled`` (at its ``updated_at``) cannot be running any more;
    a later write to the capture only makes it look younger (never completed too early)."""
    return now is not None and now >= settled.updated_at + SETTLER_DEADLINE


def _still(repository: CaptureConfirmations, settled: Capture) -> bool:
    """Whether the ledger still holds ``settled``'s outcome (read after claiming its note)."""
    stored = repository.get_capture(settled.merchant_id, settled.order_id, settled.capture_id)
    return stored is not None and stored.status is settled.status


class _NobodyWaits:
    """No confirmation workflow can be completed (a capture confirmed at once, tests, tools):
    every outcome is announced by whoever makes it known."""

    def succeed(self, task_token: str, capture: Capture) -> bool:
        return False

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        return False


NOBODY_WAITS: ConfirmationWaiters = _NobodyWaits()


def completed_as(waiters: ConfirmationWaiters, capture: Capture) -> CaptureStatus | None:
    """How ``capture``'s refused wait was completed, where ``waiters`` can tell
    (``CompletedWaits``); None (as a timed-out wait) where they cannot."""
    if isinstance(waiters, CompletedWaits):
        return waiters.completed_as(capture.capture_id)
    return None


def complete_wait(waiters: ConfirmationWaiters, task_token: str, capture: Capture) -> bool:
    """Complete the confirmation wait with the settled ``capture``; False if nothing waits."""
    if capture.status is CaptureStatus.CAPTURED:
        return waiters.succeed(task_token, capture)
    if capture.status is CaptureStatus.FAILED:
        message = capture.failure.message if capture.failure else ProviderDeclinedError.reason
        return waiters.fail(task_token, ProviderDeclinedError.__name__, message)
    raise InvalidStateError(f"capture {capture.capture_id} is {capture.status}, not settled")
