"""A capture's history: every change of its state (and of its refunds'), one small ledger item
each, written in the same transaction as the change itself (no extra request, no item grows).

Who made a change is the unit of work's actor: the execution that reserved the capture by
default; a provider's webhook, reconciliation or an operator (with a reason) when they settle
it. The actor is set once where such a unit of work starts (``acting``) rather than passed
through every domain function to every ledger write: like a log's correlation id it belongs
to the whole unit, and each write reads it (``actor_for``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from order_capture.models import (
    Capture,
    CaptureStatus,
    FailureReason,
    Model,
    Refund,
    RefundStatus,
)

#: What changed. A capture: reserved (its amount held on the order), sent (the provider
#: received it and confirms later), confirmed (captured), requires_action (outcome unknown),
#: failed (nothing captured; ``released``: its reservation given back), reversed (the provider
#: failed it after confirming). A refund: refund_reserved, refund_sent, refunded,
#: refund_failed, refund_reversed.
Change = Literal[
    "reserved",
    "sent",
    "confirmed",
    "requires_action",
    "failed",
    "released",
    "reversed",
    "refund_reserved",
    "refund_sent",
    "refunded",
    "refund_failed",
    "refund_reversed",
]
ActorKind = Literal["execution", "api", "webhook", "reconciliation", "operator"]
#: The longest error text a history item keeps (an item stays small: issue 15's budget).
MAX_ERROR_LENGTH = 240


class Actor(Model):
    """Who made a change: its kind, its name (execution id, provider, operator) and why."""

    kind: ActorKind
    name: str | None = None
    reason: str | None = None


class HistoryEntry(Model):
    """One change of a capture or of one of its refunds."""

    capture_id: str
    #: Set when the change is a refund's.
    refund_id: str | None = None
    change: Change
    from_status: str | None = None
    to_status: str
    by: Actor
    at: datetime
    amount: int
    provider_reference: str | None = None
    #: ``reason: message`` of the failure, when the change is one.
    error: str | None = None


@runtime_checkable
class HistoryReader(Protocol):
    def capture_history(
        self, merchant_id: str, order_id: str, capture_id: str
    ) -> list[HistoryEntry]:
        """The capture's changes and its refunds', oldest first."""
        ...


_acting: ContextVar[Actor | None] = ContextVar("acting", default=None)
_notification: ContextVar[str | None] = ContextVar("notification", default=None)


@contextmanager
def acting(actor: Actor, notification: str | None = None) -> Iterator[None]:
    """Ledger writes made in the block are ``actor``'s; ``notification``: the identity of the
    provider's notification being applied (the same in every redelivery of it), which makes
    the block's announcer that notification (``announcer_for``), not the history's actor."""
    token = _acting.set(actor)
    noted = _notification.set(notification)
    try:
        yield
    finally:
        _notification.reset(noted)
        _acting.reset(token)


def actor_for(execution_id: str | None, default: ActorKind = "execution") -> Actor:
    """The actor of a write: the block's (``acting``), else ``execution_id``'s execution (or
    ``default`` without one: the API, for refunds)."""
    current = _acting.get()
    if current is not None:
        return current
    if execution_id is not None:
        return Actor(kind="execution", name=execution_id)
    return Actor(kind=default)


#: Settlers that nothing retries once they die after their settling write (a Reconcile run, an
#: operator's command; Step Functions retries Record, a provider redelivers its webhook).
_UNRETRIED_SETTLERS = frozenset({"reconciliation", "operator", "abandoned"})
#: The holder of a note its execution's Record gave up announcing (past its retries), handed
#: to reconciliation (``announcements.hand_over_abandoned``).
ABANDONED_HOLDER = "abandoned::"


def kept_open_until_announced() -> bool:
    """Whether what this block settles stays among the captures to announce until its
    announcement is sent (``announcement_sent``), so that the next reconciliation run
    announces it if this settler dies before: the block's actor is one nothing retries."""
    current = _acting.get()
    return current is not None and current.kind in _UNRETRIED_SETTLERS


def held_by_unretried(holder: str | None) -> bool:
    """Whether the note's ``holder`` (``announcer_for``) is a settler nothing retries: a
    Reconcile run or an operator's command, not an execution or a webhook (whose own retry
    or redelivery relieves it)."""
    return holder is not None and holder.split(":", 1)[0] in _UNRETRIED_SETTLERS


def announcer_for(execution_id: str | None) -> str:
    """Who announces what a write of the block settles (the holder of the ``announced`` note it
    writes or claims): the block's actor, and for a webhook the notification it applies. The
    retry of the same announcer (a Step Functions retry of Record, the provider's redelivery of
    one notification, an operator's command run again) is the same one: it may announce again
    what its note says it announced (domain.announcements)."""
    actor = actor_for(execution_id)
    if actor.kind == "execution":
        # Always the capture's own execution (a twin's Record announces nothing): its name,
        # about 100 bytes, would only grow the capture item (issue 15: 1 KB per WRU).
        return actor.kind
    return ":".join([actor.kind, actor.name or "", _notification.get() or ""])


def _error_text(failure: FailureReason | None) -> str | None:
    if failure is None:
        return None
    return f"{failure.reason}: {failure.message}"[:MAX_ERROR_LENGTH]


def capture_change(
    capture: Capture, change: Change, from_status: CaptureStatus | None
) -> HistoryEntry:
    """The history entry of ``capture`` as just written by ``change``."""
    return HistoryEntry(
        capture_id=capture.capture_id,
        change=change,
        from_status=from_status.value if from_status is not None else None,
        to_status=capture.status.value,
        by=actor_for(capture.execution_id),
        at=capture.updated_at,
        amount=capture.amount,
        provider_reference=capture.provider_reference,
        error=_error_text(capture.failure) if change != "confirmed" else None,
    )


def failure_change(
    capture: Capture, expected_status: CaptureStatus | None, released: bool
) -> HistoryEntry:
    """The entry of a failed or requires_action ``capture`` (``released``: its reservation
    given back in the same write)."""
    change: Change
    if capture.status is CaptureStatus.REQUIRES_ACTION:
        change = "requires_action"
    elif expected_status is CaptureStatus.CAPTURED:
        change = "reversed"
    else:
        change = "released" if released else "failed"
    return capture_change(capture, change, expected_status)


def confirmed_from(capture: Capture) -> CaptureStatus:
    """What a confirmed capture was: requires_action if a failure (outcome unknown) was noted
    on it, else pending (confirm accepts both; only those two carry no or that failure)."""
    return CaptureStatus.REQUIRES_ACTION if capture.failure is not None else CaptureStatus.PENDING


def refund_change(refund: Refund, change: Change, from_status: str | None) -> HistoryEntry:
    return HistoryEntry(
        capture_id=refund.capture_id,
        refund_id=refund.refund_id,
        change=change,
        from_status=from_status,
        to_status=refund.status.value,
        by=actor_for(None, default="api"),
        at=refund.updated_at,
        amount=refund.amount,
        provider_reference=refund.provider_reference,
        error=_error_text(refund.failure),
    )


def settling_change(expected: RefundStatus, refund: Refund) -> Change:
    """The name of a refund's settling write (from ``expected`` to its status)."""
    if expected is RefundStatus.REFUNDED:
        return "refund_reversed"
    return "refunded" if refund.status is RefundStatus.REFUNDED else "refund_failed"
