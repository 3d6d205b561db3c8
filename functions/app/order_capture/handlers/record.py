"""Record: confirm a capture in the ledger and announce it, or record a failure and release its
reservation. A capture the provider only received goes to the confirmation workflow instead,
and a shipment handed on (``workflow_state.PassedOn``) becomes the execution's output."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture import errors
from order_capture.config import settings
from order_capture.domain import announcements, confirmation_handoff, failures, releases, service
from order_capture.models import AuthorizationRelease, Capture, CaptureStatus
from order_capture.observability import add_metric_by, log_release_error, logger, metrics
from order_capture.parsing import parse_as
from order_capture.ports import (
    CaptureConfirmations,
    Clock,
    ConfirmationWorkflows,
    EventPublisher,
    PaymentProviders,
    RecordLedger,
    SystemClock,
)
from order_capture.public_events import payment_capture_failed
from order_capture.step_payloads import (
    HandOverAnnouncementStepInput,
    RecordFailureStepInput,
    RecordFailureStepOutput,
    RecordStepInput,
)
from order_capture.wiring import (
    default_providers,
    default_publisher,
    default_repository,
    dump,
    lambda_entry,
    log_keys_of,
)
from order_capture.workflow_state import PassedOn, capture_output


@cache
def default_confirmation_workflows() -> ConfirmationWorkflows:
    from order_capture.adapters.stepfunctions import (  # noqa: PLC0415
        StepFunctionsConfirmationWorkflows,
    )

    config = settings()
    if config.confirmation_workflow_arn is None:
        raise errors.ConfirmationNotAwaitedError(
            "CONFIRMATION_WORKFLOW_ARN is not set: nothing can wait for the provider"
        )
    return StepFunctionsConfirmationWorkflows(
        config.confirmation_workflow_arn, config.provider_confirmation_timeout_seconds
    )


def handle_success(
    event: dict[str, Any],
    context: LambdaContext,
    repository: RecordLedger | None = None,
    clock: Clock | None = None,
    publisher: EventPublisher | None = None,
    *,
    providers: PaymentProviders | None = None,
    workflows: ConfirmationWorkflows | None = None,
) -> dict[str, Any]:
    step = parse_as(RecordStepInput, event)
    capture = step.capture
    if isinstance(capture, PassedOn):
        return capture.output()  # no capture of this execution's: the execution's answer
    log_keys_of(capture, capture.execution_id)
    if confirmation_handoff.awaits_provider(capture):
        started = confirmation_handoff.hand_over(
            workflows or default_confirmation_workflows(), capture, step.execution_id
        )
        logger.info(
            "awaiting provider confirmation",
            extra={"capture_id": capture.capture_id, "started_now": started},
        )
        return capture_output(capture)
    ledger = repository or default_repository()
    now = (clock or SystemClock()).now()
    # The release (a provider call that can fail or take time) runs before PutEvents: a
    # Record that dies after sending could only die in the instant after it answered.
    recorded = service.record_and_announce(
        ledger,
        publisher or default_publisher(),
        capture,
        now,
        execution_id=step.execution_id,
        before_announcing=lambda confirmed: _release_asked(
            lambda: releases.release_after_capture(
                ledger, providers or default_providers(), confirmed, now
            )
        ),
    )
    metrics.add_metric(name="Captures", unit=MetricUnit.Count, value=1)
    # Amounts only add up within one currency, so the amount metric is per currency.
    add_metric_by("Currency", recorded.currency, "CapturedAmount", recorded.amount, money=True)
    # No line of its own: the ledger's change logged it (state_log: "capture state changed",
    # confirmed, with its amount and the provider's reference); a duplicate changed nothing.
    return capture_output(_with_totals(recorded, capture))


def _release_asked(release: Callable[[], AuthorizationRelease | None]) -> bool:
    """Run the release quietly (its failure is logged, not this step's); True when it may have
    asked the provider (a release made or found, or one that failed): only then can time have
    passed for a reversal to settle the capture meanwhile (service.record_and_announce)."""
    failed: list[Exception] = []

    def on_error(error: Exception) -> None:
        failed.append(error)
        log_release_error(error)

    return releases.release_quietly(release, on_error) is not None or bool(failed)


def _with_totals(recorded: Capture, sent: Capture) -> Capture:
    """``recorded`` with the order's totals after it: those after its reservation (the
    Capture step's), confirmed. Captured by whoever (this step, or a webhook first), the
    capture moved its amount from reserved to captured; anything else is not answered so."""
    if sent.order_after is None or recorded.status is not CaptureStatus.CAPTURED:
        return recorded
    return recorded.model_copy(update={"order_after": sent.order_after.confirmed(sent.amount)})


def error_reason(error_type: str) -> str:
    """The ledger's reason for a Step Functions error name (our class names, or States.*)."""
    error_class = getattr(errors, error_type, None)
    if isinstance(error_class, type) and issubclass(error_class, errors.OrderCaptureError):
        return error_class.reason
    if error_type.startswith("States.Timeout"):
        return "timeout"
    return "internal_error"


def handle_failure(
    event: dict[str, Any],
    context: LambdaContext,
    repository: CaptureConfirmations | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("abandoned") is True:
        return _hand_over(event, repository)
    step = parse_as(RecordFailureStepInput, event)
    error_type = step.state.error.Error
    request = step.state.failed_request()
    log_keys_of(request, step.execution_id)
    failure, settled_here = failures.record_failure(
        repository or default_repository(),
        request=request,
        error_type=error_type,
        error_reason=error_reason(error_type),
        message=step.state.error.message(),
        execution_id=step.execution_id,
        now=(clock or SystemClock()).now(),
    )
    metrics.add_metric(name="CaptureFailures", unit=MetricUnit.Count, value=1)
    add_metric_by("Reason", failure.reason, "CaptureFailuresByReason", 1)
    announce = step.handed_over or settled_here
    logger.warning(
        "capture failed",
        extra={"reason": failure.reason, "error": error_type, "announced_here": announce},
    )
    # The workflow emits payment_capture_failed as Payment Capture Failed (EmitCaptureFailed)
    # when announce is true.
    return dump(
        RecordFailureStepOutput(
            payment_capture_failed=payment_capture_failed(failure), announce=announce
        )
    )


def _hand_over(event: dict[str, Any], repository: CaptureConfirmations | None) -> dict[str, Any]:
    """HandOverAnnouncement: Record gave up; what it confirmed and did not announce goes to
    reconciliation (``announcements.hand_over_abandoned``)."""
    step = parse_as(HandOverAnnouncementStepInput, event)
    if isinstance(step.capture, PassedOn):
        return {"handed_over": False}
    log_keys_of(step.capture, step.execution_id)
    handed = announcements.hand_over_abandoned(
        repository or default_repository(), step.capture, step.execution_id
    )
    logger.warning("record gave up", extra={"announcement_handed_to_reconciliation": handed})
    return {"handed_over": handed}


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_success(event, context)


@lambda_entry
def failure_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_failure(event, context)
