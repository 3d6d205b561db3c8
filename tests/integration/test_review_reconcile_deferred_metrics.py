"""Review: what a Reconcile run had no time for is counted in an alarmed metric for captures
and refunds (``deferred`` in CapturesStillOpen / RefundsStillOpen), but not for releases: a
release pending (the shopper's money held) that runs keep deferring alarms nowhere."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from order_capture import observability
from order_capture.handlers import reconcile
from order_capture.models import AuthorizationRelease, ReleaseStatus, release_id_for
from tests.support import FakeLambdaContext, FixedClock, RecordingPublisher
from tests.template_support import alarms_on


class _NeverAsked:
    def provider(self, name: str, merchant_id: str) -> Any:
        raise AssertionError("a run with no time left asks no provider")


def test_review_a_deferred_release_counts_in_an_alarmed_metric(
    repository: Any, clock: FixedClock, monkeypatch: Any
) -> None:
    # Given a release stored pending an hour ago (its first provider call failed)
    release = AuthorizationRelease(
        release_id=release_id_for("merchant-1", "order-r"),
        merchant_id="merchant-1",
        order_id="order-r",
        provider="sandbox",
        authorization_reference="auth-r",
        amount=2500,
        currency="EUR",
        status=ReleaseStatus.PENDING,
        attempts=1,
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    assert repository.begin_release(release) is None
    clock.current += timedelta(hours=1)
    published: list[tuple[str, float]] = []
    monkeypatch.setattr(
        observability.metrics,
        "add_metric",
        lambda name, unit, value: published.append((name, value)),
    )
    calls = [0]

    class Late(FakeLambdaContext):
        @staticmethod
        def get_remaining_time_in_millis() -> int:
            # 300 s when the run starts; then the run is past its reserve (earlier phases
            # used the time)
            calls[0] += 1
            return 300_000 if calls[0] == 1 else 30_000

    # When a run has no time left for releases
    result = reconcile.handle(
        {},
        Late(),
        repository=repository,
        clock=clock,
        providers=_NeverAsked(),
        publisher=RecordingPublisher(),
    )
    assert result["releases"]["deferred"] == 1
    # Then an alarmed metric counts it, as deferred captures and refunds are
    alarmed = {name for name, value in published if value and alarms_on(name)}
    assert alarmed, f"metrics {published}: the deferred release (2500 held) is alarmed nowhere"
