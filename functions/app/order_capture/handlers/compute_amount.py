"""ComputeAmount: what this shipment captures. Pure: no AWS client, no I/O."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture.domain import capture_rules
from order_capture.parsing import parse_as
from order_capture.ports import Clock, SystemClock
from order_capture.step_payloads import ComputeAmountStepInput
from order_capture.wiring import dump, lambda_entry, log_keys_of
from order_capture.workflow_state import PassedOn, StatePlanned, state_plan


def handle(
    event: dict[str, Any], context: LambdaContext, clock: Clock | None = None
) -> dict[str, Any]:
    validated = parse_as(ComputeAmountStepInput, event).validated
    log_keys_of(validated.request)
    if validated.duplicate_of is not None:
        # A redelivered shipment: its first result is handed on through Capture and Record
        # to the execution's output (no Choice state sorts it: see workflow_state.PassedOn).
        return dump(PassedOn(duplicate_of=validated.duplicate_of))
    # Planned on the order's figures, lines named by position (see workflow_state).
    plan = capture_rules.plan_capture(
        validated.order.planning_order(),
        validated.request.positional(),
        (clock or SystemClock()).now(),
    )
    planned = StatePlanned(request=validated.request, plan=state_plan(plan))
    if plan.nothing_to_capture:
        return dump(PassedOn(nothing_to_capture=planned))
    return dump(planned)


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
