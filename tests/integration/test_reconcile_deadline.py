"""Reconcile stops before its Lambda timeout and says what it left (it went on asking a
provider that never answered until Lambda killed it: no metrics, refunds and releases never
reached)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from order_capture.errors import ProviderUnavailableError
from order_capture.handlers import reconcile
from order_capture_local.sandbox import SandboxServer
from tests.integration.capture_support import NoProviders, captured_but_not_recorded
from tests.support import FakeLambdaContext, FixedClock, RecordingPublisher


class _Killed(BaseException):
    """Lambda stopping the function at its Timeout (nothing inside the handler catches it)."""


def test_review_reconcile_stops_before_its_lambda_timeout_and_leaves_the_rest(
    repository: Any, clock: FixedClock, sandbox: SandboxServer, monkeypatch: Any
) -> None:
    # Given four open captures at a provider that is down: every lookup waits for the
    # provider timeout before failing (10 s by default; 100 s here so four outlast 300 s)
    for order_id in ("order-a", "order-b", "order-c", "order-d"):
        captured_but_not_recorded(repository, clock, sandbox, order_id)
    timeout_ms, elapsed_ms = 300_000, [0]

    class Context(FakeLambdaContext):
        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return timeout_ms - elapsed_ms[0]

    class Down:
        idempotent_captures = True
        name = "sandbox"

        def find_capture(self, lookup: Any) -> Any:
            elapsed_ms[0] += 100_000
            if elapsed_ms[0] > timeout_ms:
                raise _Killed("Task timed out after 300.00 seconds")
            raise ProviderUnavailableError("no answer within 100.0s")

    monkeypatch.setattr(reconcile, "_provider_of", lambda capture: Down())
    clock.current += timedelta(hours=1)

    # When Reconcile runs with 300 s of Lambda time
    try:
        result = reconcile.handle(
            {},
            Context(),
            repository=repository,
            clock=clock,
            providers=NoProviders(),
            publisher=RecordingPublisher(),
        )
    except _Killed:
        raise AssertionError(
            "Reconcile kept asking the provider past its Lambda deadline: killed mid-run, "
            "no metrics flushed, refunds and releases (reconciled after captures) never "
            "reached, and the next run starts again from the same captures"
        ) from None
    # Then it stopped in time, saying what it left for the next run
    assert result["examined"] < 4
    assert result["deferred"] == 4 - result["examined"]
    assert "deferred" in result["refunds"] and "deferred" in result["releases"]
