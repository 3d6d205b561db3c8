"""The capture workflow on AWS: an Express state machine run with StartSyncExecution.

The HTTP API needs the capture's outcome in its response, and an Express workflow started
synchronously returns it (up to five minutes), running the same definition as the Standard
workflow that shipments start.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING, Any

from order_capture.errors import LedgerUnavailableError
from order_capture.ports import WorkflowResult

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class StepFunctionsWorkflowStarter:
    """WorkflowStarter over StartSyncExecution; the boto3 client is created on first use."""

    def __init__(self, state_machine_arn: str, client: SFNClient | None = None) -> None:
        self.state_machine_arn = state_machine_arn
        self._client = client

    @cached_property
    def client(self) -> SFNClient:
        if self._client is not None:
            return self._client
        import boto3  # noqa: PLC0415 - imported on first use to keep cold starts short

        return boto3.client("stepfunctions")

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
