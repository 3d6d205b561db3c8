"""ComputeAmount: what this shipment captures. Pure: no AWS client, no I/O."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture.domain import capture_rules
from order_capture.handlers._wiring import dump, lambda_entry, log_keys_of
from order_capture.models import PlannedCapture, ValidatedCapture
from order_capture.parsing import parse_as
from order_capture.ports import Clock, SystemClock


def handle(
    event: dict[str, Any], context: LambdaContext, clock: Clock | None = None
) -> dict[str, Any]:
    validated = parse_as(ValidatedCapture, event.get("validated"), prefix="validated")
    log_keys_of(validated.request)
    plan = capture_rules.plan_capture(
        validated.order, validated.request, (clock or SystemClock()).now()
    )
    return dump(PlannedCapture(request=validated.request, plan=plan))


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
