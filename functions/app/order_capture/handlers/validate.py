"""Validate: parse what triggered the capture, read the order and any earlier result."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture.domain import service
from order_capture.errors import InvalidEventError
from order_capture.handlers._wiring import default_repository, dump, lambda_entry, log_keys_of
from order_capture.models import CaptureRequest, OrderShippedDetail
from order_capture.parsing import parse_as
from order_capture.ports import OrderRepository

ORDER_SHIPPED = "Order Shipped"


class OrderShippedEvent(EventBridgeModel):
    detail: OrderShippedDetail


def capture_request_from(event: Any) -> CaptureRequest:
    """An `Order Shipped` EventBridge event, or an API capture (``{"capture_request": ...}``)."""
    if not isinstance(event, dict):
        raise InvalidEventError("the event must be a JSON object", field="(root)")
    if "capture_request" in event:
        return parse_as(CaptureRequest, event["capture_request"], prefix="capture_request")
    if event.get("detail-type") != ORDER_SHIPPED:
        raise InvalidEventError(
            f"detail-type: expected {ORDER_SHIPPED!r}, got {event.get('detail-type')!r}",
            field="detail-type",
        )
    shipped = parse_as(OrderShippedEvent, event).detail
    return CaptureRequest(
        merchant_id=shipped.merchant_id,
        order_id=shipped.order_id,
        shipment_id=shipped.shipment_id,
        items=shipped.items,
        trigger="event",
    )


def handle(
    event: dict[str, Any], context: LambdaContext, repository: OrderRepository | None = None
) -> dict[str, Any]:
    request = capture_request_from(event)
    log_keys_of(request)
    return dump(service.load_for_capture(repository or default_repository(), request))


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
