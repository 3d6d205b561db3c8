"""Validate: parse what triggered the capture, read the order and any earlier result."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture.domain import service
from order_capture.ports import OrderReads
from order_capture.step_payloads import api_read_from, capture_request_from
from order_capture.wiring import default_repository, dump, lambda_entry, log_keys_of
from order_capture.workflow_state import StateRequest, validated_state


def handle(
    event: dict[str, Any], context: LambdaContext, repository: OrderReads | None = None
) -> dict[str, Any]:
    read_by_api = api_read_from(event)
    if read_by_api is not None:
        # ApiFunction read the order and the shipment's capture just before starting this
        # execution: not read again. The Capture step reads the order anyway, and plans
        # again if it moved in between (or finds the capture settled).
        log_keys_of(read_by_api.request)
        return {"validated": dump(read_by_api)}
    request = capture_request_from(event)
    log_keys_of(request)
    identity = request.identity() if isinstance(request, StateRequest) else request
    loaded = service.load_for_capture(repository or default_repository(), identity)
    # This output becomes the whole state (the event is no longer needed: the request holds
    # all of it).
    state = validated_state(request, loaded.order, loaded.duplicate_of)
    return {"validated": dump(state)}


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
