"""Two confirmers of one capture racing each other (on moto): whoever confirms (or fails) it,
``Payment Captured`` / ``Payment Capture Failed`` is announced once. Each test lets the first
confirmer read the ledger, then runs the second one whole, then lets the first one go on with
what it read: the interleaving the fault campaign saw ("announced captured 2x")."""

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
from order_capture.errors import AnnouncementFailedError, CaptureOutcomeUnknownError
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


def deliver(repository: Any, publisher: Publisher, capture: Capture, succeeded: bool) -> Any:
    return provider_webhooks.apply_notification(
        repository,
        NobodyWaits(),
        publisher,
        merchant_id=capture.merchant_id,
        notification=capture_notification(capture, succeeded, psp_prefix="cap-", reason="x"),
        now=LATER,
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


def test_campaign_a_record_retry_racing_reconciliation_announces_once(repository: Any) -> None:
    # Given a capture the provider made, whose Record confirmed it and could not announce it
    pending = captured_at_the_provider(repository)
    publisher = Publisher(failures=1)

    def record() -> Capture:
        return service.record_and_announce(repository, publisher, pending, LATER)

    # reconciliation lists it while still pending; then Record confirms it, fails to send
    def record_fails() -> None:
        with pytest.raises(AnnouncementFailedError):
            record()

    lists_first = ReadThenRace(repository, "list_open_captures", record_fails)
    # ... and reconciliation reads what was announced just before Record's retry announces
    racing = ReadThenRace(lists_first, "confirmation_state", record)
    # When reconciliation finds it at the provider meanwhile
    reconcile(racing, publisher, "captured")
    # Then it is announced once
    assert publisher.sent == ["Payment Captured captured"]
    # and a later Record retry or reconciliation announces nothing more
    record()
    reconcile(repository, publisher, "captured")
    assert publisher.sent == ["Payment Captured captured"]


def test_campaign_a_webhook_racing_reconciliation_announces_once(repository: Any) -> None:
    # Given a capture whose answer was lost (requires_action)
    lost = answer_lost(repository)
    publisher = Publisher()
    # When reconciliation confirms it, and the provider's webhook comes while it reads
    racing = ReadThenRace(
        repository, "confirmation_state", lambda: deliver(repository, publisher, lost, True)
    )
    report = reconcile(racing, publisher, "captured")
    # Then it is captured once and announced once
    assert report.confirmed == 1
    order = repository.get_order(lost.merchant_id, lost.order_id)
    assert (order.captured_amount, order.reserved_amount) == (5000, 0)
    assert publisher.sent == ["Payment Captured captured"]


def test_campaign_the_same_webhook_delivered_twice_at_once_announces_once(
    repository: Any,
) -> None:
    # Given a capture whose answer was lost (requires_action)
    lost = answer_lost(repository)
    publisher = Publisher()
    # When the provider delivers its CAPTURE notification twice, the second while the first
    # is reading what was announced
    racing = ReadThenRace(
        repository, "confirmation_state", lambda: deliver(repository, publisher, lost, True)
    )
    deliver(racing, publisher, lost, True)
    # Then it is announced once
    assert publisher.sent == ["Payment Captured captured"]


def test_campaign_an_operator_settling_while_the_webhook_comes_announces_once(
    repository: Any,
) -> None:
    # Given a capture whose answer was lost (requires_action), that an operator looked up
    lost = answer_lost(repository)
    publisher = Publisher()
    # When the operator settles it captured, and the provider's webhook comes meanwhile
    racing = ReadThenRace(
        repository, "confirmation_state", lambda: deliver(repository, publisher, lost, True)
    )
    settled = settle_by_operator(racing, publisher, lost)
    # Then it is captured and announced once
    assert settled.status is CaptureStatus.CAPTURED
    assert publisher.sent == ["Payment Captured captured"]


def test_campaign_a_failure_found_by_reconciliation_and_the_webhook_announces_once(
    repository: Any,
) -> None:
    # Given a capture whose answer was lost (requires_action)
    lost = answer_lost(repository)
    publisher = Publisher()
    # When reconciliation finds it failed at the provider, and the CAPTURE_FAILED webhook
    # comes while it reads what was announced
    racing = ReadThenRace(
        repository, "confirmation_state", lambda: deliver(repository, publisher, lost, False)
    )
    report = reconcile(racing, publisher, "failed")
    # Then it is released once and Payment Capture Failed announced once
    assert report.released == 1
    order = repository.get_order(lost.merchant_id, lost.order_id)
    assert (order.captured_amount, order.reserved_amount) == (0, 0)
    assert publisher.sent == ["Payment Capture Failed failed"]


def test_campaign_a_redelivery_racing_an_operator_after_a_failed_announcement_announces_once(
    repository: Any,
) -> None:
    # Given a capture whose answer was lost, confirmed by its webhook that could not announce
    lost = answer_lost(repository)
    publisher = Publisher(failures=1)
    with pytest.raises(ConnectionError):
        deliver(repository, publisher, lost, True)
    assert publisher.sent == []
    # When an operator settles it captured while the provider delivers again
    racing = ReadThenRace(
        repository, "confirmation_state", lambda: deliver(repository, publisher, lost, True)
    )
    settle_by_operator(racing, publisher, lost)
    deliver(repository, publisher, lost, True)
    # Then it is announced once
    assert publisher.sent == ["Payment Captured captured"]
