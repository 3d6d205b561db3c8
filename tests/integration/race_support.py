"""What the announce-once race tests share (on moto): a ledger that lets a competitor run
between a read and what follows it (``ReadThenRace``), an EventBridge that can refuse
(``Publisher``), captures the provider made or whose answer was lost, and the settlers that
race (a webhook's delivery, reconciliation, an operator)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from order_capture.domain import (
    capture_rules,
    failures,
    operator_settlement,
    provider_webhooks,
    reconciliation,
    service,
)
from order_capture.errors import CaptureOutcomeUnknownError
from order_capture.models import (
    Capture,
    CaptureRequest,
    CaptureStatus,
    OrderPlacedDetail,
    PlannedCapture,
)
from order_capture.ports import (
    ProviderCapture,
    ProviderCaptureLookup,
    ProviderCaptureRequest,
)
from tests.factories import order_placed
from tests.fake_providers import RecordingProvider
from tests.integration.capture_support import capture_notification
from tests.support import FixedClock

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


class ReadThenRace:
    """The ledger, where the first read of ``method`` returns what it read and only then
    lets ``competitor`` run whole (so the caller goes on with a stale answer)."""

    def __init__(self, repository: Any, method: str, competitor: Callable[[], Any]) -> None:
        self.repository = repository
        self.method = method
        self.competitor: Callable[[], Any] | None = competitor

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.repository, name)
        if name != self.method or self.competitor is None:
            return attribute

        def read_then_race(*args: Any, **kwargs: Any) -> Any:
            answer = attribute(*args, **kwargs)
            competitor, self.competitor = self.competitor, None
            if competitor is not None:
                competitor()
            return answer

        return read_then_race


class Publisher:
    """EventBridge, refusing the first ``failures`` publications."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[str] = []

    def publish(self, detail_type: str, details: list[Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("EventBridge unreachable")
        self.sent.extend(f"{detail_type} {detail.status}" for detail in details)


class NobodyWaits:
    def succeed(self, task_token: str, capture: Capture) -> bool:
        return False

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        return False


class FoundProvider(RecordingProvider):
    """What reconciliation asks: the capture is at the provider as ``found`` says (None:
    the provider has no such capture)."""

    def __init__(self, found: str | None) -> None:
        super().__init__()
        self.found = found

    def capture(self, request: ProviderCaptureRequest) -> ProviderCapture:
        raise CaptureOutcomeUnknownError("sent, no answer")

    def find_capture(self, lookup: ProviderCaptureLookup) -> ProviderCapture | None:
        if self.found is None:
            return None
        return ProviderCapture(
            provider_reference=f"cap-{lookup.idempotency_key}",
            amount=5000,
            currency="EUR",
            status="succeeded" if self.found == "captured" else "failed",
        )


def _planned(repository: Any) -> PlannedCapture:
    detail = OrderPlacedDetail.model_validate(order_placed()["detail"])
    service.register_order(repository, detail, FixedClock(NOW))
    request = CaptureRequest(
        merchant_id=detail.merchant_id, order_id=detail.order_id, shipment_id="s-1", amount=5000
    )
    plan = capture_rules.plan_capture(
        service.load_for_capture(repository, request).order, request, NOW
    )
    return PlannedCapture(request=request, plan=plan)


def captured_at_the_provider(repository: Any) -> Capture:
    """A capture the provider made, still pending in the ledger (Record has not run)."""
    return service.execute_capture(
        repository,
        RecordingProvider(),
        planned=_planned(repository),
        execution_id="exec-1",
        now=NOW,
    )


def answer_lost(repository: Any) -> Capture:
    """A capture whose request's answer was lost: requires_action, nothing waits for it."""
    planned = _planned(repository)
    with pytest.raises(CaptureOutcomeUnknownError):
        service.execute_capture(
            repository, FoundProvider(None), planned=planned, execution_id="exec-1", now=NOW
        )
    failures.record_failure(
        repository,
        request=planned.request,
        error_type=CaptureOutcomeUnknownError.__name__,
        error_reason=CaptureOutcomeUnknownError.reason,
        message="sent, no answer",
        execution_id="exec-1",
        now=NOW,
    )
    stored = repository.find_capture(planned.request.merchant_id, planned.request.capture_id)
    assert stored is not None and stored.status is CaptureStatus.REQUIRES_ACTION
    return stored  # type: ignore[no-any-return]


def deliver(
    repository: Any, publisher: Publisher, capture: Capture, succeeded: bool, now: datetime = LATER
) -> Any:
    """The provider's notification of ``capture`` (every copy the same), at ``now``."""
    return provider_webhooks.apply_notification(
        repository,
        NobodyWaits(),
        publisher,
        merchant_id=capture.merchant_id,
        provider=capture.provider,
        notification=capture_notification(capture, succeeded, psp_prefix="cap-", reason="x"),
        now=now,
    )


def reconcile(repository: Any, publisher: Publisher, found: str | None) -> Any:
    return reconciliation.reconcile_open_captures(
        repository,
        lambda _: FoundProvider(found),
        LATER,
        timedelta(seconds=0),
        publisher=publisher,
        waiters=NobodyWaits(),
        on_error=lambda _, error: (_ for _ in ()).throw(error),
    )


def settle_by_operator(repository: Any, publisher: Publisher, capture: Capture) -> Any:
    return operator_settlement.settle_capture(
        repository,
        NobodyWaits(),
        publisher,
        capture,
        providers=RecordingProvider(),
        provider_reference=f"cap-{capture.capture_id}",
        reason=None,
        operator="alice",
        now=LATER,
    )
