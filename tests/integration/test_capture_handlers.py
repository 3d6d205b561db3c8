"""The capture and record handlers on moto's DynamoDB and the sandbox provider over HTTP, invoked
as Lambda does: reservations made, reused, kept or released, and twins kept apart."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.errors import (
    OrderChangedError,
    ProviderDeclinedError,
)
from order_capture.handlers import (
    capture,
    compute_amount,
    record,
    validate,
)
from order_capture_local.sandbox import SandboxServer
from tests.factories import EXAMPLE_ORDER_TOTAL, order_shipped
from tests.integration.capture_support import Shipped, run_until_capture, until_capture
from tests.support import FixedClock, RecordingPublisher

__all__ = ["until_capture"]  # fixtures


def test_capture_then_record_moves_reserved_to_captured(
    until_capture: Shipped,
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
) -> None:
    _, _plan, captured = until_capture
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
    until_capture: Shipped,
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
) -> None:
    _validated, plan, _ = until_capture
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


def test_a_twin_failing_never_releases_another_executions_reservation(
    until_capture: Shipped,
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
) -> None:
    # Execution A reserved and is calling the provider; its twin B (the same shipment,
    # delivered twice) fails, e.g. because A holds the units it wanted.
    _, plan, _ = until_capture
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
    until_capture: Shipped,
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
) -> None:
    # An earlier attempt may have reached the provider before it became unavailable: only an
    # explicit decline proves nothing was captured.
    _, plan, _ = until_capture
    error = {"Error": "ProviderUnavailableError", "Cause": "{}"}
    failure = record.handle_failure(
        {"state": {"validated": plan, "error": error}, "execution_id": "exec-1"},
        lambda_context,
        repository=repository,
        clock=clock,
    )["payment_capture_failed"]
    assert failure["status"] == "requires_action"
    assert repository.get_order("merchant-1", "order-1001").reserved_amount == EXAMPLE_ORDER_TOTAL
