"""Each handler on moto's DynamoDB (and the sandbox provider over HTTP), invoked as Lambda does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.domain import service
from order_capture.domain.reconciliation import reconcile_open_captures
from order_capture.errors import (
    AnnouncementFailedError,
    InvalidEventError,
    InvalidStateError,
    OrderChangedError,
    OrderConflictError,
    OrderNotFoundError,
    ProviderDeclinedError,
)
from order_capture.handlers import (
    await_confirmation,
    capture,
    compute_amount,
    order_events,
    record,
    validate,
)
from order_capture.models import Capture
from order_capture.public_events import payment_captured
from order_capture_local.sandbox import SandboxServer
from tests.factories import EXAMPLE_ORDER_TOTAL, items_canceled, order_placed, order_shipped
from tests.integration.capture_support import run_until_capture
from tests.support import FixedClock


@pytest.fixture
def registered(
    repository: Any, lambda_context: Any, clock: FixedClock, sandbox: SandboxServer
) -> dict[str, Any]:
    event = order_placed()
    payment = event["detail"]["payment"]
    sandbox.authorize(
        payment["reference"], payment["authorized_amount"], "EUR", payment["expires_at"]
    )
    return order_events.handle(event, lambda_context, repository=repository, clock=clock)


def test_order_placed_registers_once_and_refuses_different_content(
    registered: dict[str, Any], repository: Any, lambda_context: Any, clock: FixedClock
) -> None:
    assert registered["version"] == 0
    again = order_events.handle(order_placed(), lambda_context, repository=repository, clock=clock)
    assert again == registered
    with pytest.raises(OrderConflictError):
        order_events.handle(
            order_placed(shipping_amount=0), lambda_context, repository=repository, clock=clock
        )


def test_order_placed_with_bad_field_names_it(repository: Any, lambda_context: Any) -> None:
    event = order_placed(currency="XYZ")
    with pytest.raises(InvalidEventError) as error:
        order_events.handle(event, lambda_context, repository=repository)
    assert error.value.field == "detail.currency"
    assert repository.get_order("merchant-1", "order-1001") is None


def test_items_canceled_updates_capturable_amount(
    registered: dict[str, Any], repository: Any, lambda_context: Any, clock: FixedClock
) -> None:
    canceled = order_events.handle(
        items_canceled([{"item_id": "line-2", "quantity": 2}]),
        lambda_context,
        repository=repository,
        clock=clock,
    )
    assert canceled["canceled_amount"] == 2 * 1250 + 525
    assert canceled["version"] == 1


def test_validate_reports_unknown_order(repository: Any, lambda_context: Any) -> None:
    with pytest.raises(OrderNotFoundError, match="order-404"):
        validate.handle(
            order_shipped("s1", order_id="order-404"), lambda_context, repository=repository
        )


def test_validate_refuses_other_detail_types(lambda_context: Any, repository: Any) -> None:
    event = order_shipped("s1") | {"detail-type": "Order Placed"}
    with pytest.raises(InvalidEventError) as error:
        validate.handle(event, lambda_context, repository=repository)
    assert error.value.field == "detail-type"


def test_capture_then_record_moves_reserved_to_captured(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    _, _plan, captured = run_until_capture(
        repository, lambda_context, clock, sandbox, order_shipped("s1")
    )
    assert captured["status"] == "pending"
    assert captured["provider_reference"].startswith("cap_")
    order = repository.get_order("merchant-1", "order-1001")
    assert (order.reserved_amount, order.captured_amount) == (EXAMPLE_ORDER_TOTAL, 0)
    recorded = record.handle_success(
        {"capture": captured},
        lambda_context,
        repository=repository,
        clock=clock,
        publisher=RecordingPublisher(),
    )
    assert recorded["status"] == "captured"
    order = repository.get_order("merchant-1", "order-1001")
    assert (order.reserved_amount, order.captured_amount, order.capture_count) == (
        0,
        EXAMPLE_ORDER_TOTAL,
        1,
    )
    # Recording twice (a Lambda retry) changes nothing.
    again = record.handle_success(
        {"capture": captured},
        lambda_context,
        repository=repository,
        clock=clock,
        publisher=RecordingPublisher(),
    )
    assert again["status"] == "captured"
    assert repository.get_order("merchant-1", "order-1001").captured_amount == EXAMPLE_ORDER_TOTAL


def test_capture_retry_reuses_the_reservation_and_the_key(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    _validated, plan, first = run_until_capture(
        repository, lambda_context, clock, sandbox, order_shipped("s1")
    )
    # The step runs again with the same input (as after a timeout): no second reservation,
    # and the provider replays its first answer for the same idempotency key.
    second = capture.handle(
        {"planned": plan, "execution_id": "exec-1"},
        lambda_context,
        repository=repository,
        provider=SandboxProvider(sandbox.url),
        clock=clock,
    )
    assert second["provider_reference"] == first["provider_reference"]
    assert len(sandbox.state.captures) == 1
    assert repository.get_order("merchant-1", "order-1001").reserved_amount == EXAMPLE_ORDER_TOTAL


def test_capture_with_a_stale_plan_plans_again_on_the_order_as_read(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    # Given a plan for line-1, made before another shipment reserved line-2
    validated = validate.handle(
        order_shipped("s1", [{"item_id": "line-1", "quantity": 1}]),
        lambda_context,
        repository=repository,
    )
    plan = compute_amount.handle(validated, lambda_context, clock=clock)
    run_until_capture(
        repository,
        lambda_context,
        clock,
        sandbox,
        order_shipped("s2", [{"item_id": "line-2", "quantity": 1}]),
    )
    # When the Capture step runs it, the order has moved: it plans again (defect 13: no round
    # through Validate) and captures the same unit
    captured = capture.handle(
        {"planned": plan},
        lambda_context,
        repository=repository,
        provider=SandboxProvider(sandbox.url),
        clock=clock,
    )
    stored = repository.get_capture("merchant-1", "order-1001", captured["capture_id"])
    assert [(line.item_id, line.quantity) for line in stored.lines] == [("line-1", 1)]
    assert len(sandbox.state.captures) == 2


def test_capture_with_a_stale_plan_for_units_taken_meanwhile_raises_order_changed(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    validated = validate.handle(order_shipped("s1"), lambda_context, repository=repository)
    plan = compute_amount.handle(validated, lambda_context, clock=clock)
    # Another shipment takes everything first
    run_until_capture(repository, lambda_context, clock, sandbox, order_shipped("s2"))
    with pytest.raises(OrderChangedError):
        capture.handle(
            {"planned": plan},
            lambda_context,
            repository=repository,
            provider=SandboxProvider(sandbox.url),
            clock=clock,
        )
    assert len(sandbox.state.captures) == 1


def test_failure_after_reservation_releases_it(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    sandbox.add_fault("decline")
    validated = validate.handle(order_shipped("s1"), lambda_context, repository=repository)
    plan = compute_amount.handle(validated, lambda_context, clock=clock)
    with pytest.raises(ProviderDeclinedError, match="card_declined"):
        capture.handle(
            {"planned": plan, "execution_id": "exec-1"},
            lambda_context,
            repository=repository,
            provider=SandboxProvider(sandbox.url),
            clock=clock,
        )
    error = {
        "Error": "ProviderDeclinedError",
        "Cause": '{"errorMessage": "declined", "errorType": "ProviderDeclinedError"}',
    }
    state = order_shipped("s1") | {"validated": plan, "error": error}
    failure = record.handle_failure(
        {"state": state, "execution_id": "exec-1"},
        lambda_context,
        repository=repository,
        clock=clock,
    )["payment_capture_failed"]
    assert (failure["status"], failure["reason"], failure["message"]) == (
        "failed",
        "provider_declined",
        "declined",
    )
    order = repository.get_order("merchant-1", "order-1001")
    assert order.reserved_amount == 0
    assert [line.shipped_quantity for line in order.lines] == [0, 0]
    # Recording the same failure again (a retry) neither releases twice nor rewrites it.
    record.handle_failure(
        {"state": state, "execution_id": "exec-1"},
        lambda_context,
        repository=repository,
        clock=clock,
    )
    assert repository.get_order("merchant-1", "order-1001") == order


def test_outcome_unknown_keeps_the_reservation_as_requires_action(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    _validated, plan, _ = run_until_capture(
        repository, lambda_context, clock, sandbox, order_shipped("s1")
    )
    error = {"Error": "CaptureOutcomeUnknownError", "Cause": "timeout"}
    state = order_shipped("s1") | {"validated": plan, "error": error}
    failure = record.handle_failure(
        {"state": state, "execution_id": "exec-1"},
        lambda_context,
        repository=repository,
        clock=clock,
    )["payment_capture_failed"]
    assert failure["status"] == "requires_action"
    assert repository.get_order("merchant-1", "order-1001").reserved_amount == EXAMPLE_ORDER_TOTAL


def test_handlers_run_as_lambda_invokes_them(runtime: Any) -> None:
    placed = runtime.invoke("OrderEventsFunction", order_placed())
    assert not placed.failed
    shipped = runtime.invoke("ValidateFunction", order_shipped("s1"))
    assert shipped.payload["validated"]["order"]["order_id"] == "order-1001"
    invalid = runtime.invoke("ValidateFunction", {"detail-type": "Order Shipped", "detail": {}})
    assert invalid.error_type == "InvalidEventError"
    assert "detail.merchant_id" in invalid.payload["errorMessage"]


def test_redelivered_cancellation_cancels_once(runtime: Any) -> None:
    assert not runtime.invoke("OrderEventsFunction", order_placed()).failed
    cancel = items_canceled([{"item_id": "line-2", "quantity": 1}])
    first = runtime.invoke("OrderEventsFunction", cancel)
    again = runtime.invoke("OrderEventsFunction", cancel)
    assert not first.failed and not again.failed
    assert again.payload == first.payload
    order = runtime.repository().get_order("merchant-1", "order-1001")
    assert [line.canceled_quantity for line in order.lines] == [0, 1]
    # A different event id is a different cancellation.
    runtime.invoke("OrderEventsFunction", cancel | {"id": "another-event"})
    order = runtime.repository().get_order("merchant-1", "order-1001")
    assert [line.canceled_quantity for line in order.lines] == [0, 2]


def test_a_twin_failing_never_releases_another_executions_reservation(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    # Execution A reserved and is calling the provider; its twin B (the same shipment,
    # delivered twice) fails, e.g. because A holds the units it wanted.
    _, plan, _ = run_until_capture(repository, lambda_context, clock, sandbox, order_shipped("s1"))
    error = {"Error": "InvalidStateError", "Cause": '{"errorMessage": "units taken"}'}
    state = {"validated": plan, "error": error}
    record.handle_failure(
        {"state": state, "execution_id": "exec-twin"},
        lambda_context,
        repository=repository,
        clock=clock,
    )
    (capture,) = repository.list_captures("merchant-1", "order-1001")
    assert capture.status == "pending"
    assert repository.get_order("merchant-1", "order-1001").reserved_amount == EXAMPLE_ORDER_TOTAL
    # A finishes: captured once, as the provider did.
    recorded = record.handle_success(
        {"capture": capture.model_dump(mode="json")},
        lambda_context,
        repository=repository,
        clock=clock,
        publisher=RecordingPublisher(),
    )
    assert recorded["status"] == "captured"


def test_provider_unavailable_after_a_reservation_keeps_it_for_reconciliation(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    # An earlier attempt may have reached the provider before it became unavailable: only an
    # explicit decline proves nothing was captured.
    _, plan, _ = run_until_capture(repository, lambda_context, clock, sandbox, order_shipped("s1"))
    error = {"Error": "ProviderUnavailableError", "Cause": "{}"}
    failure = record.handle_failure(
        {"state": {"validated": plan, "error": error}, "execution_id": "exec-1"},
        lambda_context,
        repository=repository,
        clock=clock,
    )["payment_capture_failed"]
    assert failure["status"] == "requires_action"
    assert repository.get_order("merchant-1", "order-1001").reserved_amount == EXAMPLE_ORDER_TOTAL


def test_defect_3_order_items_canceled_never_takes_money_captured_by_amount(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    # Given an API capture of 9000 of the 10171 order (by amount, not tied to lines)
    request = {
        "merchant_id": "merchant-1",
        "order_id": "order-1001",
        "shipment_id": "api-1",
        "amount": 9000,
        "trigger": "api",
    }
    _, _, captured = run_until_capture(
        repository, lambda_context, clock, sandbox, {"capture_request": request}
    )
    record.handle_success(
        {"capture": captured},
        lambda_context,
        repository=repository,
        clock=clock,
        publisher=RecordingPublisher(),
    )
    before = repository.get_order("merchant-1", "order-1001")
    assert before.captured_amount == 9000
    # When the shop cancels line-1 (worth 6651; only 1171 is uncaptured)
    with pytest.raises(InvalidStateError) as refused:
        order_events.handle(
            items_canceled([{"item_id": "line-1", "quantity": 3}]),
            lambda_context,
            repository=repository,
            clock=clock,
        )
    # Then it is refused, naming the units, and the order is unchanged
    assert refused.value.field == "items" and "'line-1'" in refused.value.message
    after = repository.get_order("merchant-1", "order-1001")
    assert after == before
    assert after.captured_amount <= after.total - after.canceled_amount


class RecordingPublisher:
    """EventPublisher that keeps what it was asked to send; fails the first ``failures``."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[tuple[str, list[Any]]] = []

    def publish(self, detail_type: str, details: list[Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("EventBridge unreachable")
        self.sent.append((detail_type, details))


def test_record_announces_the_capture_it_confirms_once_and_again_after_a_failed_send(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    _, _, captured = run_until_capture(
        repository, lambda_context, clock, sandbox, order_shipped("s1")
    )
    # Given EventBridge failing once
    publisher = RecordingPublisher(failures=1)

    # When Record confirms and the announcement fails
    with pytest.raises(AnnouncementFailedError, match="is recorded"):
        record.handle_success(
            {"capture": captured}, lambda_context, repository, clock, publisher=publisher
        )

    # Then the ledger holds the capture confirmed, once
    order = repository.get_order("merchant-1", "order-1001")
    assert (order.reserved_amount, order.captured_amount) == (0, EXAMPLE_ORDER_TOTAL)
    # And Step Functions' retry confirms nothing twice and announces it
    recorded = record.handle_success(
        {"capture": captured}, lambda_context, repository, clock, publisher=publisher
    )
    assert repository.get_order("merchant-1", "order-1001").captured_amount == EXAMPLE_ORDER_TOTAL
    ((detail_type, (announced,)),) = publisher.sent
    assert detail_type == "Payment Captured"
    assert announced.model_dump(mode="json") == payment_captured(
        Capture.model_validate(recorded)
    ).model_dump(mode="json")
    assert recorded["status"] == "captured"


def test_record_of_another_executions_capture_announces_nothing(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    _, _, captured = run_until_capture(
        repository, lambda_context, clock, sandbox, order_shipped("s1")
    )
    record.handle_success(
        {"capture": captured}, lambda_context, repository, clock, publisher=RecordingPublisher()
    )
    # A twin execution (the same shipment delivered twice) reaching Record for it
    twin = RecordingPublisher()
    record.handle_success(
        {"capture": {**captured, "execution_id": "exec-twin"}},
        lambda_context,
        repository,
        clock,
        publisher=twin,
    )
    assert twin.sent == []


class RecordsWhileListed:
    """The ledger, with Record finishing right after reconciliation listed the open captures
    (a live execution slower than reconciliation's grace)."""

    def __init__(self, repository: Any, record_now: Any) -> None:
        self._repository = repository
        self._record_now = record_now

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repository, name)

    def list_open_captures(self, updated_before: Any) -> Any:
        listed = self._repository.list_open_captures(updated_before)
        self._record_now()
        return listed


def test_campaign_reconciliation_racing_record_for_the_same_capture_announces_once(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    # Given a capture the provider made, still pending in the ledger
    _, _, captured = run_until_capture(
        repository, lambda_context, clock, sandbox, order_shipped("s1")
    )
    publisher = RecordingPublisher()

    def record_now() -> None:
        record.handle_success(
            {"capture": captured}, lambda_context, repository, clock, publisher=publisher
        )

    # When reconciliation lists it, its execution's Record confirms and announces it, and
    # reconciliation then finds it at the provider
    report = reconcile_open_captures(
        RecordsWhileListed(repository, record_now),
        lambda _: SandboxProvider(sandbox.url),
        clock.now() + timedelta(seconds=3),
        timedelta(seconds=2),
        publisher=publisher,
    )

    # Then it is captured once and announced once (the make chaos campaign, whose
    # reconciliation runs with a 2-second grace, saw it announced twice)
    assert report.examined == 1
    order = repository.get_order("merchant-1", "order-1001")
    assert (order.reserved_amount, order.captured_amount) == (0, EXAMPLE_ORDER_TOTAL)
    assert [detail_type for detail_type, _ in publisher.sent] == ["Payment Captured"]


class TimedOutWaiters:
    """Step Functions answering TaskTimedOut: the confirmation wait is over."""

    def succeed(self, task_token: str, capture: Any) -> bool:
        return False

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        return False


def test_campaign_a_wait_that_timed_out_before_it_was_noted_announces_the_webhooks_outcome(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    # Given a capture the provider received ("pending" there), whose webhook then confirmed
    # it before the confirmation wait was noted (the webhook leaves the announcing to it)
    _, _, captured = run_until_capture(
        repository, lambda_context, clock, sandbox, order_shipped("s1")
    )
    received = Capture.model_validate(captured | {"status_at_provider": "pending"})
    repository.await_provider(received)
    service.record_capture(
        repository, received.model_copy(update={"status_at_provider": "succeeded"}), clock.now()
    )
    publisher = RecordingPublisher()

    # When the AwaitConfirmation step, slower than the wait's timeout, notes it only after
    # the wait timed out (the make chaos campaign: a capture captured and never announced)
    await_confirmation.handle(
        {"capture": received.model_dump(mode="json"), "task_token": "token-1"},
        lambda_context,
        repository,
        waiters=TimedOutWaiters(),
        publisher=publisher,
    )

    # Then it announces the capture itself, once
    ((detail_type, (announced,)),) = publisher.sent
    assert (detail_type, announced.capture_id, announced.status) == (
        "Payment Captured",
        received.capture_id,
        "captured",
    )


def test_a_twin_given_the_settled_capture_by_its_capture_step_announces_nothing(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    """Found by the fault campaign: a twin execution whose Capture step found the first
    execution's capture already settled gets that capture back (execution id and all), so
    Record must tell the executions apart by the one running it, not by the capture."""
    _, _, captured = run_until_capture(
        repository, lambda_context, clock, sandbox, order_shipped("s1")
    )
    first = RecordingPublisher()
    record.handle_success(
        {"capture": captured, "execution_id": captured["execution_id"]},
        lambda_context,
        repository,
        clock,
        publisher=first,
    )
    twin = RecordingPublisher()
    settled = repository.get_capture("merchant-1", "order-1001", captured["capture_id"])
    record.handle_success(
        {"capture": settled.model_dump(mode="json"), "execution_id": "exec-twin"},
        lambda_context,
        repository,
        clock,
        publisher=twin,
    )
    assert [detail_type for detail_type, _ in first.sent] == ["Payment Captured"]
    assert twin.sent == []
