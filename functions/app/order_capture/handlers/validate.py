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
    """An `Order Shipped` EventBridge event, an API capture (``{"capture_request": ...}``), or
    the state of an execution sent back to plan again (``{"validated": {"request": ...}}``)."""
    if not isinstance(event, dict):
        raise InvalidEventError("the event must be a JSON object", field="(root)")
    validated = event.get("validated")
    if isinstance(validated, dict) and "request" in validated:
        return parse_as(CaptureRequest, validated["request"], prefix="validated.request")
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
    validated = service.load_for_capture(repository or default_repository(), request)
    # This output becomes the whole state (the event is no longer needed: the request holds
    # all of it), and order lines leave out their zero counters: together that keeps a
    # 1,000-line order well inside Step Functions' 256 KB state.
    state = dump(validated)
    state["order"]["lines"] = [
        line.model_dump(mode="json", exclude_defaults=True) for line in validated.order.lines
    ]
    return {"validated": state}


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
