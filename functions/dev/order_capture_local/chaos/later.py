"""Reconciliation's next scheduled run, once ``SETTLER_DEADLINE`` has passed: what a settler
that gave up handed over (a Record past its retries; a reconciliation run or an operator that
died before announcing) is announced only then, and the campaign must not wait six minutes of
wall time for it. The clock of ReconcileFunction alone is moved on, for that one invocation
(the runtime invokes handlers in this process)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from order_capture.domain.announcements import SETTLER_DEADLINE
from order_capture_local.runtime import LocalRuntime


class _Later:
    """A clock ``ahead`` of the system's."""

    def __init__(self, ahead: timedelta) -> None:
        self.ahead = ahead

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@contextmanager
def _reconcile_clock_ahead(ahead: timedelta) -> Iterator[None]:
    with mock.patch("order_capture.handlers.reconcile.SystemClock", lambda: _Later(ahead)):
        yield


def reconcile_after_the_deadline(runtime: LocalRuntime) -> Any:
    """ReconcileFunction's invocation as the run after ``SETTLER_DEADLINE`` would make it."""
    with _reconcile_clock_ahead(SETTLER_DEADLINE + timedelta(seconds=1)):
        return runtime.invoke("ReconcileFunction", {"grace_seconds": 0})
