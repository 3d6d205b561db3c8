"""AwaitProviderConfirmation: note the workflow's task token beside a capture the provider
received and confirms later, so that its webhook can complete the wait."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture.domain import provider_webhooks
from order_capture.observability import logger
from order_capture.parsing import parse_as
from order_capture.ports import CaptureConfirmations, ConfirmationWaiters, EventPublisher
from order_capture.step_payloads import AwaitConfirmationStepInput
from order_capture.wiring import (
    default_publisher,
    default_repository,
    dump,
    lambda_entry,
    log_keys_of,
)


@cache
def default_waiters() -> ConfirmationWaiters:
    from order_capture.adapters.stepfunctions import (  # noqa: PLC0415
        StepFunctionsConfirmationWaiters,
    )

    # Where CONFIRMATION_WORKFLOW_ARN is set (ReconcileFunction), a refused token is told
    # apart by the execution's history (AwaitConfirmation's own wait is the one it notes).
    return StepFunctionsConfirmationWaiters()


def handle(
    event: dict[str, Any],
    context: LambdaContext,
    repository: CaptureConfirmations | None = None,
    waiters: ConfirmationWaiters | None = None,
    publisher: EventPublisher | None = None,
) -> dict[str, Any]:
    awaiting = parse_as(AwaitConfirmationStepInput, event)
    log_keys_of(awaiting.capture, awaiting.capture.execution_id)
    capture = provider_webhooks.await_confirmation(
        repository or default_repository(),
        waiters or default_waiters(),
        awaiting.capture,
        awaiting.task_token,
        publisher=publisher or default_publisher(),
    )
    logger.info(
        "awaiting provider confirmation",
        extra={"capture_id": capture.capture_id, "status": capture.status.value},
    )
    # Step Functions ignores this result: only the task token completes the task.
    return dump(capture)


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
