"""Review: the refunds' phase of Reconcile has the same starvation as the captures' one. A
pending refund whose provider never answers is left as it was (no write, same ``updated_at``),
so the refunds listed first use up the refunds' share of every run and the ones behind them are
deferred forever (the shopper's refund never leaves)."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from order_capture.domain import refunds
from order_capture.errors import ProviderUnavailableError
from order_capture.handlers import reconcile
from order_capture.models import Capture, RefundStatus
from tests.fake_providers import RecordingProvider
from tests.integration.refund_support import NOW, capture  # noqa: F401 (a fixture)
from tests.support import FakeLambdaContext, FixedClock, RecordingPublisher

#: Refunds may start while more than 60 + 0.2 * 240 = 108 s of the 300 s are left: with no
#: capture open, 20 refunds unanswered after 10 s each use up their share.
TIMEOUT_MS, STUCK_MS, STUCK = 300_000, 10_000, 20


class _Down(RecordingProvider):
    def refund(self, request: Any) -> Any:
        raise ProviderUnavailableError("sent, but no answer within 10.0s")


def test_review_stuck_refunds_at_the_head_of_the_index_starve_the_others(
    repository: Any,
    capture: Capture,  # noqa: F811 (the fixture)
) -> None:
    # Given 20 refunds left pending by a provider that never answers, the oldest ...
    # (a second apart: the index lists them oldest first)
    def made(n: int) -> datetime:
        return NOW + timedelta(seconds=n)

    stuck = {_pending_refund(repository, capture, f"stuck-{n}", made(n)) for n in range(STUCK)}
    # ... and two newer ones its provider refunds at once when asked again
    healthy = [_pending_refund(repository, capture, f"ok-{n}", made(STUCK + n)) for n in range(2)]
    elapsed_ms = [0]

    class Context(FakeLambdaContext):
        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return TIMEOUT_MS - elapsed_ms[0]

    class Provider(RecordingProvider):
        def refund(self, request: Any) -> Any:
            if request.idempotency_key in stuck:
                elapsed_ms[0] += STUCK_MS
                raise ProviderUnavailableError("sent, but no answer within 10.0s")
            return super().refund(request)

    # When Reconcile runs every 15 minutes for three hours
    clock = FixedClock(NOW)
    for _ in range(12):
        clock.current += timedelta(minutes=15)
        elapsed_ms[0] = 0
        reconcile.handle(
            {},
            Context(),
            repository=repository,
            clock=clock,
            providers=Provider(),
            publisher=RecordingPublisher(),
        )

    # Then the refunds behind the stuck ones were refunded at some point
    statuses = {refund_id: _status(repository, capture, refund_id) for refund_id in healthy}
    assert statuses == dict.fromkeys(healthy, RefundStatus.REFUNDED), (
        f"refunds behind stuck ones were deferred on every run (starved): {statuses}"
    )


def _refunds(repository: Any, captured: Capture) -> dict[str, RefundStatus]:
    listed = repository.list_refunds(captured.merchant_id, captured.order_id, captured.capture_id)
    return {r.refund_id: r.status for r in listed}


def _pending_refund(repository: Any, captured: Capture, key: str, at: datetime) -> str:
    """A refund of 1.00 whose provider call went unanswered (left pending); its id."""
    before = set(_refunds(repository, captured))
    with contextlib.suppress(ProviderUnavailableError):
        refunds.refund_capture(
            repository,
            _Down(),
            merchant_id=captured.merchant_id,
            order_id=captured.order_id,
            capture_id=captured.capture_id,
            amount=100,
            idempotency_key=key,
            clock=FixedClock(at),
        )
    (new,) = set(_refunds(repository, captured)) - before
    assert _refunds(repository, captured)[new] is RefundStatus.PENDING
    return new


def _status(repository: Any, captured: Capture, refund_id: str) -> RefundStatus:
    return _refunds(repository, captured)[refund_id]
