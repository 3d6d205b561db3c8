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


def handle(
    event: dict[str, Any],
    context: LambdaContext,
    repository: CaptureLedger | None = None,
    provider: PaymentProvider | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    step = parse_as(CaptureStepInput, event)
    planned = step.planned
    log_keys_of(planned.request, step.execution_id)
    capture = service.execute_capture(
        repository or default_repository(),
        provider
        or provider_for(planned.plan.provider, settings(), merchant_id=planned.request.merchant_id),
        planned=planned,
        execution_id=step.execution_id,
        now=(clock or SystemClock()).now(),
    )
    return dump(capture)


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
