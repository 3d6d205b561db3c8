"""Validate: parse what triggered the capture, read the order and any earlier result."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture.domain import service
from order_capture.ports import OrderReads
from order_capture.step_payloads import capture_request_from
from order_capture.wiring import default_repository, dump, lambda_entry, log_keys_of
from order_capture.workflow_state import (
    StateRequest,
    StateValidated,
    figures_of,
    state_request,
)


def handle(
    event: dict[str, Any], context: LambdaContext, repository: OrderReads | None = None
) -> dict[str, Any]:
    request = capture_request_from(event)
    log_keys_of(request)
    identity = request.identity() if isinstance(request, StateRequest) else request
    validated = service.load_for_capture(repository or default_repository(), identity)
    # This output becomes the whole state (the event is no longer needed: the request holds
    # all of it). It names lines by position and carries only their numbers, whatever the
    # ids (see workflow_state). A shipment settled already is not planned again: its items
    # are not resolved against units it closed itself.
    duplicate = validated.duplicate_of
    if duplicate is not None:
        positional = StateRequest(**identity.model_dump(exclude={"items"}))
    else:
        # Sent back to plan again (the order moved): its items are checked again against the
        # order as it is now, named as the request named them.
        named = request.named(validated.order) if isinstance(request, StateRequest) else request
        positional = state_request(named, validated.order)
    state = StateValidated(
        request=positional,
        order=figures_of(validated.order),
        duplicate_of=duplicate,
    )
    return {"validated": dump(state)}


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
