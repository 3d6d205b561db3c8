"""Notifications that race each other or fail half-way (on moto): a failure that loses its
conditional write to a success is not dropped, it reverses what the success did; an
announcement that failed is made when the provider delivers again, and only once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from order_capture.domain import capture_rules, provider_webhooks, refunds, service
from order_capture.errors import LedgerUnavailableError
from order_capture.models import (
    Capture,
    CaptureRequest,
    CaptureStatus,
    OrderPlacedDetail,
    PlannedCapture,
    Refund,
    RefundStatus,
)
from order_capture.ports import (
    ProviderNotification,
)
from tests.factories import order_placed
from tests.fake_providers import ReceivingProvider
from tests.integration.race_support import answer_lost
from tests.support import FixedClock

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class SuccessFirst:
    """The ledger, with the success notification applied just before the failure's write."""

    def __init__(self, repository: Any, success: Any) -> None:
        self.repository = repository
        self.success = success

    def __getattr__(self, name: str) -> Any:
        return getattr(self.repository, name)

    def settle_failure(self, *args: Any, announced: bool = False) -> bool:
        self.success()
        return bool(self.repository.settle_failure(*args, announced=announced))

    def fail_refund(self, refund: Refund) -> bool:
        self.success()
        return bool(self.repository.fail_refund(refund))


def notification(reference: str, event: str, success: bool) -> Any:
    subject = "refund" if event.startswith("REFUND") else "capture"
    outcome = "succeeded" if success and event in {"CAPTURE", "REFUND"} else "failed"
    return ProviderNotification(
        subject=subject,
        outcome=outcome,
        reference=reference,
        provider_reference="psp",
        event=event,
        reason="x",
    )


def received_capture(repository: Any) -> Capture:
    detail = OrderPlacedDetail.model_validate(order_placed()["detail"])
    service.register_order(repository, detail, FixedClock(NOW))
    request = CaptureRequest(
        merchant_id=detail.merchant_id, order_id=detail.order_id, shipment_id="s-1", amount=5000
    )
    plan = capture_rules.plan_capture(
        service.load_for_capture(repository, request).order, request, NOW
    )
    return service.execute_capture(
        repository,
        ReceivingProvider(),
        planned=PlannedCapture(request=request, plan=plan),
        execution_id="exec-1",
        now=NOW,
    )


def test_a_capture_failure_that_loses_the_race_to_its_success_reverses_it(repository: Any) -> None:
    pending = received_capture(repository)
    assert pending.status is CaptureStatus.PENDING

    def success() -> None:
        provider_webhooks.settle_capture(
            repository, pending, notification(pending.capture_id, "CAPTURE", True), NOW
        )

    settled = provider_webhooks.settle_capture(
        SuccessFirst(repository, success),
        pending,
        notification(pending.capture_id, "CAPTURE_FAILED", False),
        NOW,
    )

    assert settled.status is CaptureStatus.FAILED
    order = repository.get_order(pending.merchant_id, pending.order_id)
    assert (order.captured_amount, order.reserved_amount, order.capture_count) == (0, 0, 0)


def test_a_refund_failure_that_loses_the_race_to_its_success_reverses_it(repository: Any) -> None:
    pending = received_capture(repository)
    captured = service.record_capture(
        repository, pending.model_copy(update={"status_at_provider": "succeeded"}), NOW
    )
    provider = ReceivingProvider()
    _, _, refund = refunds.refund_capture(
        repository,
        provider,
        merchant_id=captured.merchant_id,
        order_id=captured.order_id,
        capture_id=captured.capture_id,
        amount=2000,
        idempotency_key="r-1",
        clock=FixedClock(NOW),
    )
    assert refund.status is RefundStatus.PENDING

    def success() -> None:
        provider_webhooks.settle_refund(
            repository, refund.merchant_id, notification(refund.refund_id, "REFUND", True), NOW
        )

    settled = provider_webhooks.settle_refund(
        SuccessFirst(repository, success),
        refund.merchant_id,
        notification(refund.refund_id, "REFUND", False),
        NOW,
    )

    assert settled is not None and settled.status is RefundStatus.FAILED
    stored = repository.get_capture(captured.merchant_id, captured.order_id, captured.capture_id)
    assert (stored.refunded_amount, stored.refund_pending_amount, stored.refundable_amount) == (
        0,
        0,
        5000,
    )
    assert repository.get_order(captured.merchant_id, captured.order_id).refunded_amount == 0


class FlakyPublisher:
    """EventBridge refusing the first ``failures`` publications."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.published: list[str] = []

    def publish(self, detail_type: str, details: list[Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise LedgerUnavailableError("EventBridge refused the event")
        self.published.extend(f"{detail_type}:{d.capture_id}" for d in details)


class NoWaiters:
    def succeed(self, task_token: str, capture: Capture) -> bool:
        raise AssertionError("nothing waits for a capture whose answer was lost")

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        raise AssertionError("nothing waits for a capture whose answer was lost")


def test_an_announcement_that_failed_is_made_when_the_provider_delivers_again(
    repository: Any,
) -> None:
    # Given a capture whose answer was lost: requires_action, nothing waits for it
    request = answer_lost(repository).request()
    publisher = FlakyPublisher(failures=1)

    def deliver() -> Any:
        return provider_webhooks.apply_notification(
            repository,
            NoWaiters(),
            publisher,
            merchant_id=request.merchant_id,
            provider="sandbox",
            notification=notification(request.capture_id, "CAPTURE", True),
            now=NOW,
        )

    # The first delivery settles the ledger, then EventBridge refuses: the webhook fails
    with pytest.raises(LedgerUnavailableError):
        deliver()
    assert repository.get_order(request.merchant_id, request.order_id).captured_amount == 5000
    # The provider delivers again: announced now, and only once however often it repeats
    for _ in range(3):
        assert deliver().status is CaptureStatus.CAPTURED
    assert publisher.published == [f"Payment Captured:{request.capture_id}"]
