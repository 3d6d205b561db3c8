"""The order-events and validate handlers on moto's DynamoDB, invoked as Lambda does: orders
registered once, cancellations applied once, bad events refused naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.errors import (
    InvalidEventError,
    InvalidStateError,
    OrderConflictError,
    OrderNotFoundError,
)
from order_capture.handlers import (
    order_events,
    record,
    validate,
)
from order_capture_local.sandbox import SandboxServer
from tests.factories import items_canceled, order_placed, order_shipped
from tests.integration.capture_support import run_until_capture
from tests.support import FixedClock, RecordingPublisher


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
