"""How a confirmation wait whose task token was refused was completed, read from its
execution's history (adapters/stepfunctions.completion_in): the event types and details are
those of Step Functions' GetExecutionHistory (HistoryEvent), as moto's history of the real
confirmation workflow also shows them (tests/integration/test_async_confirmation.py)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError

from order_capture.adapters.stepfunctions import StepFunctionsConfirmationWaiters, completion_in
from order_capture.models import CaptureStatus

WAIT = "invoke.waitForTaskToken"


def succeeded(resource: str = WAIT) -> dict[str, Any]:
    return {"type": "TaskSucceeded", "taskSucceededEventDetails": {"resource": resource}}


def failed(error: str, resource: str = WAIT) -> dict[str, Any]:
    return {"type": "TaskFailed", "taskFailedEventDetails": {"resource": resource, "error": error}}


def fail_state(name: str) -> dict[str, Any]:
    return {"type": "FailStateEntered", "stateEnteredEventDetails": {"name": name}}


def event(kind: str) -> dict[str, Any]:
    return {"type": kind}


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # Completed by SendTaskSuccess: its workflow announces (still running, or done)
        ([succeeded()], CaptureStatus.CAPTURED),
        (
            [succeeded(), succeeded("putEvents"), event("ExecutionSucceeded")],
            CaptureStatus.CAPTURED,
        ),
        # ... but not once EmitCaptured failed past its retries, or it was stopped
        ([succeeded(), failed("EventBridge.X", "putEvents"), event("ExecutionFailed")], None),
        ([succeeded(), event("ExecutionAborted")], None),
        # Completed by SendTaskFailure: announced once the failure's path reached its end
        (
            [
                failed("ProviderDeclinedError"),
                fail_state("CaptureFailed"),
                event("ExecutionFailed"),
            ],
            CaptureStatus.FAILED,
        ),
        ([failed("ProviderDeclinedError")], CaptureStatus.FAILED),
        ([failed("ProviderDeclinedError"), event("ExecutionFailed")], None),
        # Not completed: a retried invocation of the Lambda, then the wait timing out
        (
            [
                failed("Lambda.Unknown"),
                event("TaskTimedOut"),
                fail_state("ConfirmationOverdue"),
                event("ExecutionFailed"),
            ],
            None,
        ),
        # Another task's success is no completion of the wait
        ([succeeded("putEvents")], None),
        ([], None),
    ],
)
def test_the_history_says_how_the_wait_was_completed(
    events: list[dict[str, Any]], expected: CaptureStatus | None
) -> None:
    assert completion_in(events) is expected  # type: ignore[arg-type]


class DeniedClient:
    def get_execution_history(self, **_: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetExecutionHistory")


def test_an_unreadable_history_cannot_tell_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:ConfirmationStateMachine"
    waiters = StepFunctionsConfirmationWaiters(machine, client=DeniedClient())  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING):
        assert waiters.completed_as("c" * 32) is None
    assert "confirmation history unreadable" in caplog.text


def test_without_the_workflow_arn_nothing_is_read() -> None:
    waiters = StepFunctionsConfirmationWaiters("", client=DeniedClient())  # type: ignore[arg-type]
    assert waiters.completed_as("c" * 32) is None
