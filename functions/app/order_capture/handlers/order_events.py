"""`Order Placed` and `Order Items Canceled` events: keep the ledger's orders current."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture.domain import service
from order_capture.errors import InvalidEventError
from order_capture.handlers._wiring import default_repository, dump, lambda_entry, log_keys_of
from order_capture.models import OrderItemsCanceledDetail, OrderPlacedDetail
from order_capture.parsing import parse_as
from order_capture.ports import Clock, OrderRepository, SystemClock


class OrderPlacedEvent(EventBridgeModel):
    detail: OrderPlacedDetail


class OrderItemsCanceledEvent(EventBridgeModel):
    detail: OrderItemsCanceledDetail


def handle(
    event: dict[str, Any],
    context: LambdaContext,
    repository: OrderRepository | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    repository = repository or default_repository()
    clock = clock or SystemClock()
    detail_type = event.get("detail-type") if isinstance(event, dict) else None
    if detail_type == "Order Placed":
        placed = parse_as(OrderPlacedEvent, event).detail
        log_keys_of(placed)
        return dump(service.register_order(repository, placed, clock))
    if detail_type == "Order Items Canceled":
        canceled = parse_as(OrderItemsCanceledEvent, event).detail
        log_keys_of(canceled)
        return dump(service.cancel_items(repository, canceled, clock))
    raise InvalidEventError(
        f"detail-type: expected 'Order Placed' or 'Order Items Canceled', got {detail_type!r}",
        field="detail-type",
    )


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
