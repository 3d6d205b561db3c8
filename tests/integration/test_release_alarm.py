"""A release the provider refused, or never answers, counts in an alarmed metric (it was
alarmed nowhere: the shopper's money stayed held, silently)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from order_capture import observability
from order_capture.errors import ProviderDeclinedError, ProviderUnavailableError
from order_capture.handlers import reconcile
from order_capture.models import AuthorizationRelease, ReleaseStatus, release_id_for
from tests.support import FakeLambdaContext, FixedClock, RecordingPublisher
from tests.template_support import alarms_on


class _Refusing:
    name = "sandbox"
    idempotent_captures = True

    def __init__(self, error: Exception) -> None:
        self.error = error

    def release(self, request: Any) -> Any:
        raise self.error


class _Providers:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def provider(self, name: str, merchant_id: str) -> Any:
        return _Refusing(self.error)


@pytest.mark.parametrize(
    "error",
    [ProviderUnavailableError("no answer"), ProviderDeclinedError("refused")],
    ids=["never-answered", "refused"],
)
def test_review_a_release_left_pending_or_failed_counts_in_an_alarmed_metric(
    repository: Any, clock: FixedClock, monkeypatch: Any, error: Exception
) -> None:
    # Given an order's release stored pending an hour ago (its first provider call failed)
    release = AuthorizationRelease(
        release_id=release_id_for("merchant-1", "order-r"),
        merchant_id="merchant-1",
        order_id="order-r",
        provider="sandbox",
        authorization_reference="auth-r",
        amount=2500,
        currency="EUR",
        status=ReleaseStatus.PENDING,
        attempts=0,  # the retry is then a first request: a refusal fails it
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
    # When reconciliation runs and the provider does not release it
    result = reconcile.handle(
        {},
        FakeLambdaContext(),
        repository=repository,
        clock=clock,
        providers=_Providers(error),
        publisher=RecordingPublisher(),
    )
    assert result["releases"]["examined"] == 1
    # Then some alarmed metric counts it (2500 of the customer's money stays held)
    alarmed = {name for name, value in published if value and alarms_on(name)}
    assert alarmed, f"metrics {published}: none alarmed counts the release left unreleased"
