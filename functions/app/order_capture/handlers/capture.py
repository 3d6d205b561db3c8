"""Capture: reserve the amount in the ledger, then capture it at the payment provider."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture.adapters.providers import provider_for
from order_capture.config import settings
from order_capture.domain import service
from order_capture.parsing import parse_as
from order_capture.ports import CaptureLedger, Clock, PaymentProvider, SystemClock
from order_capture.step_payloads import CaptureStepInput
from order_capture.wiring import default_repository, dump, lambda_entry, log_keys_of
from order_capture.workflow_state import PassedOn, capture_output


def handle(
    event: dict[str, Any],
    context: LambdaContext,
    repository: CaptureLedger | None = None,
    provider: PaymentProvider | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    step = parse_as(CaptureStepInput, event)
    planned = step.planned
    if isinstance(planned, PassedOn):
        return dump(planned)  # nothing for this execution to capture: Record hands it on
    log_keys_of(planned.request, step.execution_id)
    capture = service.execute_capture(
        repository or default_repository(),
        provider
        or provider_for(planned.plan.provider, settings(), merchant_id=planned.request.merchant_id),
        planned=planned,
        execution_id=step.execution_id,
        now=(clock or SystemClock()).now(),
    )
    if capture.execution_id != step.execution_id:
        # Another execution of this shipment (a twin) reserved it: that one records and
        # announces the outcome. This one ends with the capture as it stands, as a duplicate
        # (an answer, not a Lambda error that alarms would count).
        return dump(PassedOn(duplicate_of=capture))
    return capture_output(capture)


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
