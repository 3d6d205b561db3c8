"""What reconciliation did with one capture or refund: reported item by item (the CLI prints
one line each; an operator sees which one needs a person, and why)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from order_capture.models import Model

#: Outcomes that leave the item for a person or another run: a run with any of them has not
#: settled everything. ("still_open" is waiting on the provider or on elimination: not settled
#: either, but nothing is wrong yet.)
UNSETTLED_OUTCOMES = frozenset({"unanswered", "amount_mismatches", "errors"})


class ReconciledItem(Model):
    kind: Literal["capture", "refund", "release"]
    id: str
    merchant_id: str
    order_id: str
    provider: str
    #: The report's counter this item was counted in (confirmed, released, still_open, ...).
    outcome: str
    reason: str

    @property
    def settled(self) -> bool:
        return self.outcome not in UNSETTLED_OUTCOMES


def error_reason(error: Exception) -> str:
    """An error as an operator reads it: its class (an ASL error name) and message."""
    return f"{type(error).__name__}: {error}"


OnItem = Callable[[ReconciledItem], None]

#: Asked before each item: whether this run has time to settle one more (Reconcile stops
#: before its Lambda timeout; what it leaves is ``deferred`` to the next run).
HasTime = Callable[[], bool]


def out_of_time(has_time: HasTime | None) -> bool:
    return has_time is not None and not has_time()


def rotated[T](due: list[T], now: datetime) -> list[T]:
    """``due`` (oldest first) begun at a place that changes from run to run (derived from the
    run's ``now``), wrapping around. An item its provider never answers is left as it was
    (same ``updated_at``), so oldest first alone would spend every run's budget on the same
    stuck items at the head and defer the ones behind them forever."""
    if len(due) < 2:
        return due
    start = int(hashlib.sha256(now.isoformat().encode()).hexdigest()[:8], 16) % len(due)
    return [*due[start:], *due[:start]]
