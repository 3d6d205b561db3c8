"""Step Functions: the capture workflow the API runs, and the waits for provider confirmations.

The HTTP API needs the capture's outcome in its response, and an Express workflow started
synchronously returns it (up to five minutes), running the same definition as the Standard
workflow that shipments start.

A capture the provider confirms later is waited for by the Standard confirmation workflow
(``statemachine/confirmation.asl.json``) with a task token; the webhook completes that task.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING, Any

from order_capture.adapters import aws_clients
from order_capture.errors import (
    ConfirmationNotAwaitedError,
    LedgerUnavailableError,
    ProviderDeclinedError,
)
from order_capture.models import Capture, CaptureStatus
from order_capture.observability import logger
from order_capture.ports import WorkflowResult
from order_capture.public_events import payment_captured

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import HistoryEventTypeDef


#: What Step Functions answers for a token nothing waits on any more: the task timed out, was
#: completed already, or its execution ended.
_NOT_WAITING = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class _StepFunctionsClient:
    """The Step Functions client, created on first use (``aws_clients``)."""

    def __init__(self, client: SFNClient | None = None) -> None:
        self._client = client

    @cached_property
    def client(self) -> SFNClient:
        if self._client is not None:
            return self._client
        client: SFNClient = aws_clients.client("stepfunctions")
        return client


#: The confirmation workflow's wait (AwaitProviderConfirmation) in its execution's history.
_WAIT_RESOURCE = "invoke.waitForTaskToken"
#: The confirmation workflow's last state once EmitCaptureFailed has announced the failure.
_FAILURE_ANNOUNCED = "CaptureFailed"
#: More than a confirmation execution's history holds (its retries included).
_HISTORY_EVENTS = 1000


class StepFunctionsConfirmationWaiters(_StepFunctionsClient):
    """ConfirmationWaiters over SendTaskSuccess / SendTaskFailure; CompletedWaits over the
    history of the confirmation execution (named after the capture) of
    ``confirmation_workflow_arn``, when it is known."""

    def __init__(
        self, confirmation_workflow_arn: str | None = None, client: SFNClient | None = None
    ) -> None:
        super().__init__(client)
        self._confirmation_workflow_arn = confirmation_workflow_arn

    @cached_property
    def confirmation_workflow_arn(self) -> str | None:
        """The one given, else the function's ``CONFIRMATION_WORKFLOW_ARN`` (settings), read
        on first use: only a refused token needs it."""
        if self._confirmation_workflow_arn is not None:
            return self._confirmation_workflow_arn
        from order_capture.config import settings  # noqa: PLC0415

        return settings().confirmation_workflow_arn

    def completed_as(self, capture_id: str) -> CaptureStatus | None:
        if not self.confirmation_workflow_arn:
            return None
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        arn = self.confirmation_workflow_arn.replace(":stateMachine:", ":execution:", 1)
        try:
            history = self.client.get_execution_history(
                executionArn=f"{arn}:{capture_id}",
                maxResults=_HISTORY_EVENTS,
                includeExecutionData=False,
            )
        except (BotoCoreError, ClientError) as error:
            # Cannot be told: the caller announces (at least once). Said, since a denied or
            # failing read turns a lost answer into a repeated announcement.
            logger.warning(
                "confirmation history unreadable",
                extra={"capture_id": capture_id, "error": type(error).__name__},
            )
            return None
        return completion_in(history["events"])

    def succeed(self, task_token: str, capture: Capture) -> bool:
        return self._send(
            lambda: self.client.send_task_success(
                # The confirmation workflow emits this output as Payment Captured.
                taskToken=task_token,
                output=payment_captured(capture).model_dump_json(),
            )
        )

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        return self._send(
            lambda: self.client.send_task_failure(taskToken=task_token, error=error, cause=cause)
        )

    @staticmethod
    def _send(call: Any) -> bool:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        try:
            call()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _NOT_WAITING:
                return False
            # Throttling or a service fault: the caller fails, and the provider redelivers.
            raise LedgerUnavailableError(
                f"completing the confirmation wait failed: {code}"
            ) from error
        return True


class StepFunctionsWorkflowStarter(_StepFunctionsClient):
    """WorkflowStarter over StartSyncExecution; the boto3 client is created on first use."""

    def __init__(self, state_machine_arn: str, client: SFNClient | None = None) -> None:
        super().__init__(client)
        self.state_machine_arn = state_machine_arn

    def run(self, execution_input: dict[str, Any], name: str) -> WorkflowResult:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        try:
            response = self.client.start_sync_execution(
                stateMachineArn=self.state_machine_arn,
                name=name,
                input=json.dumps(execution_input),
            )
        except ClientError as error:
            # Throttling or a service fault: nothing ran, the caller may retry the request.
            code = error.response.get("Error", {}).get("Code", "")
            raise LedgerUnavailableError(f"StartSyncExecution failed: {code}") from error
        output = response.get("output")
        return WorkflowResult(
            status=response["status"],
            output=json.loads(output) if output else None,
            error=response.get("error"),
            cause=response.get("cause"),
        )


class StepFunctionsConfirmationWorkflows(_StepFunctionsClient):
    """ConfirmationWorkflows over StartExecution of the Standard confirmation workflow."""

    def __init__(
        self, state_machine_arn: str, timeout_seconds: int, client: SFNClient | None = None
    ) -> None:
        super().__init__(client)
        self.state_machine_arn = state_machine_arn
        self.timeout_seconds = timeout_seconds

    def start(self, capture: Capture, started_by: str | None) -> bool:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        execution_input: dict[str, Any] = {
            "capture": capture.model_dump(mode="json"),
            "timeout_seconds": self.timeout_seconds,
        }
        if started_by:
            # Links the two executions in the console, as a states:startExecution task does.
            execution_input["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"] = started_by
        try:
            self.client.start_execution(
                stateMachineArn=self.state_machine_arn,
                # Named after the capture: a redelivered shipment's execution finds it started.
                name=capture.capture_id,
                input=json.dumps(execution_input),
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ExecutionAlreadyExists":
                return False
            raise ConfirmationNotAwaitedError(
                f"capture {capture.capture_id}: the confirmation workflow was not started: {code}"
            ) from error
        return True


def completion_in(events: Sequence[HistoryEventTypeDef]) -> CaptureStatus | None:
    """How the wait in a confirmation execution's ``events`` was completed, if its workflow
    announces that outcome: SendTaskSuccess (TaskSucceeded), SendTaskFailure with
    ProviderDeclinedError (TaskFailed); None if it timed out or is not completed, and None
    too if the execution ended without announcing it (its PutEvents failed past its retries,
    or it was stopped): then nobody else will. A failed invocation of the Lambda that notes
    the token is retried (another TaskFailed, with a Lambda error) and is no completion."""
    completed: CaptureStatus | None = None
    failure_announced = False
    for event in events:
        kind = event["type"]
        if kind == "TaskSucceeded" and completed is None:
            details = event.get("taskSucceededEventDetails", {})
            if details.get("resource") == _WAIT_RESOURCE:
                completed = CaptureStatus.CAPTURED
        elif kind == "TaskFailed" and completed is None:
            failed = event.get("taskFailedEventDetails", {})
            if failed.get("resource") == _WAIT_RESOURCE and (
                failed.get("error") == ProviderDeclinedError.__name__
            ):
                completed = CaptureStatus.FAILED
        elif kind == "FailStateEntered":
            # CaptureFailed: the end of the failure's path, after EmitCaptureFailed.
            entered = event.get("stateEnteredEventDetails", {}).get("name")
            failure_announced = failure_announced or entered == _FAILURE_ANNOUNCED
        elif kind in {"ExecutionAborted", "ExecutionTimedOut"} or (
            kind == "ExecutionFailed"
            and not (completed is CaptureStatus.FAILED and failure_announced)
        ):
            return None
    return completed
