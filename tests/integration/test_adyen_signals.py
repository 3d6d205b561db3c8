"""What Adyen's webhooks prove, applied to the ledger on moto: ``REFUNDED_REVERSED`` undoes a
refund; a later partial capture's ``CAPTURE_FAILED`` (Adyen cancels what a partial capture
leaves unless the account allows multiple partial captures) is told apart from a refusal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from order_capture.adapters.adyen import notification_of
from order_capture.domain import capture_rules, provider_webhooks, refunds, service
from order_capture.models import (
    Capture,
    CaptureRequest,
    CaptureStatus,
    OrderPlacedDetail,
    PlannedCapture,
    RefundStatus,
)
from tests.factories import order_placed
from tests.fake_providers import ReceivingProvider
from tests.support import FixedClock

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def adyen_item(event: str, reference: str, success: str = "true") -> dict[str, Any]:
    return {
        "eventCode": event,
        "success": success,
        "pspReference": f"psp-{event}-{reference}",
        "originalReference": "auth",
        "merchantReference": reference,
        "merchantAccountCode": "Shop",
        "amount": {"value": 0, "currency": "EUR"},
    }


class _Quiet:
    def publish(self, detail_type: str, details: list[Any]) -> None:
        pass


def sent_capture(repository: Any, shipment: str, amount: int) -> Capture:
    """A capture by amount of the Adyen order, received by Adyen (pending its webhook)."""
    request = CaptureRequest(
        merchant_id="merchant-1", order_id="order-1001", shipment_id=shipment, amount=amount
    )
    plan = capture_rules.plan_capture(
        service.load_for_capture(repository, request).order, request, NOW
    )
    pending = service.execute_capture(
        repository,
        ReceivingProvider(),
        planned=PlannedCapture(request=request, plan=plan),
        execution_id=f"exec-{shipment}",
        now=NOW,
    )
    # Its waiter noted: the webhook settles it and leaves the announcing to the workflow.
    repository.await_confirmation(pending, f"token-{shipment}")
    return pending


def register_adyen_order(repository: Any) -> None:
    detail = OrderPlacedDetail.model_validate(order_placed(provider="adyen")["detail"])
    service.register_order(repository, detail, FixedClock(NOW))


class _Waiters:
    def succeed(self, task_token: str, capture: Capture) -> bool:
        return True

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        return True


def settle(repository: Any, event: str, reference: str, success: str = "true") -> Any:
    notification = notification_of(adyen_item(event, reference, success))
    assert notification is not None
    return provider_webhooks.apply_notification(
        repository,
        _Waiters(),
        _Quiet(),
        merchant_id="merchant-1",
        provider="adyen",
        notification=notification,
        now=NOW,
    )


def test_refunded_reversed_counts_the_refund_back_and_makes_it_refundable_again(
    repository: Any,
) -> None:
    register_adyen_order(repository)
    captured = settle(repository, "CAPTURE", sent_capture(repository, "s-1", 6000).capture_id)
    assert captured.status is CaptureStatus.CAPTURED
    _, _, refund = refunds.refund_capture(
        repository,
        ReceivingProvider(),
        merchant_id="merchant-1",
        order_id="order-1001",
        capture_id=captured.capture_id,
        amount=2500,
        idempotency_key="r-1",
        clock=FixedClock(NOW),
    )
    assert settle(repository, "REFUND", refund.refund_id).status is RefundStatus.REFUNDED

    reversed_once = settle(repository, "REFUNDED_REVERSED", refund.refund_id)
    again = settle(repository, "REFUNDED_REVERSED", refund.refund_id)  # Adyen repeats

    assert reversed_once.status is RefundStatus.FAILED
    assert reversed_once.failure.reason == "refund_reversed"
    assert "REFUNDED_REVERSED" in reversed_once.failure.message
    assert again.status is RefundStatus.FAILED
    stored = repository.get_capture("merchant-1", "order-1001", captured.capture_id)
    assert (stored.refunded_amount, stored.refund_pending_amount, stored.refundable_amount) == (
        0,
        0,
        6000,
    )
    assert repository.get_order("merchant-1", "order-1001").refunded_amount == 0


def test_refunded_reversed_of_a_refund_not_yet_confirmed_fails_it(repository: Any) -> None:
    register_adyen_order(repository)
    captured = settle(repository, "CAPTURE", sent_capture(repository, "s-1", 6000).capture_id)
    _, _, refund = refunds.refund_capture(
        repository,
        ReceivingProvider(),
        merchant_id="merchant-1",
        order_id="order-1001",
        capture_id=captured.capture_id,
        amount=2500,
        idempotency_key="r-1",
        clock=FixedClock(NOW),
    )

    failed = settle(repository, "REFUNDED_REVERSED", refund.refund_id)

    assert failed.status is RefundStatus.FAILED and failed.failure.reason == "refund_reversed"
    stored = repository.get_capture("merchant-1", "order-1001", captured.capture_id)
    assert stored.refundable_amount == 6000


def test_a_later_partial_captures_failure_is_told_apart_and_its_amount_capturable_again(
    repository: Any,
) -> None:
    register_adyen_order(repository)
    settle(repository, "CAPTURE", sent_capture(repository, "s-1", 6000).capture_id)
    second = sent_capture(repository, "s-2", 3000)

    failed = settle(repository, "CAPTURE_FAILED", second.capture_id)

    assert failed.status is CaptureStatus.FAILED
    assert failed.failure.reason == "partial_capture_not_allowed"
    assert "multiple partial captures" in failed.failure.message
    order = repository.get_order("merchant-1", "order-1001")
    assert (order.captured_amount, order.reserved_amount) == (6000, 0)
    assert order.capturable_amount == order.total - 6000


def test_a_first_captures_failure_is_a_plain_refusal(repository: Any) -> None:
    register_adyen_order(repository)
    first = sent_capture(repository, "s-1", 6000)

    failed = settle(repository, "CAPTURE_FAILED", first.capture_id)

    assert failed.status is CaptureStatus.FAILED
    assert failed.failure.reason == "provider_declined"
    order = repository.get_order("merchant-1", "order-1001")
    assert (order.captured_amount, order.reserved_amount) == (0, 0)
