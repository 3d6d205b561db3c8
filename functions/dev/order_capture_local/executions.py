"""Reading executions and the ledger, from the embedded AWS or a local stack's endpoint: an
execution once it has ended and the states it entered, and every ledger item."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, cast

from order_capture_local.template import LOCAL_REGION


@dataclass(frozen=True)
class ExecutionReport:
    name: str
    arn: str
    status: str
    states: list[str]
    output: Any = None
    error: str | None = None
    cause: str | None = None

    def to_dict(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "execution": self.name,
            "status": self.status,
            "states": self.states,
        }
        if self.status == "SUCCEEDED":
            report["output"] = self.output
        else:
            report["error"] = self.error
            report["cause"] = self.cause
        return report


def wait_for_execution(execution_arn: str, timeout_seconds: float = 120) -> ExecutionReport:
    """The execution once it has ended, with the states it entered."""
    import boto3  # noqa: PLC0415

    stepfunctions = boto3.client("stepfunctions", region_name=LOCAL_REGION)
    deadline = time.monotonic() + timeout_seconds
    # Polled every 20 ms at first, then less often up to every 100 ms: a long execution (a
    # 1,000-line order) was polled hundreds of times, each poll a request moto serves.
    interval = 0.02
    while True:
        described = stepfunctions.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {execution_arn} still running")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.1)
    return ExecutionReport(
        name=described["name"],
        arn=execution_arn,
        status=described["status"],
        states=states_entered(execution_arn),
        output=json.loads(described["output"]) if described.get("output") else None,
        error=described.get("error"),
        cause=described.get("cause"),
    )


def wait_for_history_event(
    execution_arn: str, event_type: str, timeout_seconds: float = 30
) -> list[dict[str, Any]]:
    """The execution's history once it holds an event of ``event_type`` (e.g. ``TaskSubmitted``:
    a ``waitForTaskToken`` task's Lambda has returned and the task waits for its token)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            history = execution_history(execution_arn)
        except Exception:  # not started yet (ExecutionDoesNotExist)
            history = []
        if any(event["type"] == event_type for event in history):
            return history
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn} recorded no {event_type} event")
        time.sleep(0.02)


def end_waiting_task(
    execution_arn: str, history: list[dict[str, Any]], error: str, timeout_seconds: float = 30
) -> ExecutionReport:
    """End an execution whose ``waitForTaskToken`` task waits (``history``: its task
    submitted): SendTaskFailure with ``error`` and its token, then the execution once it has
    ended. (moto's StopExecution leaves a task waiting on its token running.)"""
    import boto3  # noqa: PLC0415

    scheduled = next(e for e in reversed(history) if e["type"] == "TaskScheduled")
    parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
    stepfunctions = boto3.client("stepfunctions", region_name=LOCAL_REGION)
    stepfunctions.send_task_failure(taskToken=parameters["Payload"]["task_token"], error=error)
    return wait_for_execution(execution_arn, timeout_seconds)


def execution_history(execution_arn: str) -> list[dict[str, Any]]:
    import boto3  # noqa: PLC0415

    stepfunctions = boto3.client("stepfunctions", region_name=LOCAL_REGION)
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = stepfunctions.get_execution_history(**kwargs)
        events.extend(cast(list[dict[str, Any]], page["events"]))
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def states_entered(execution_arn: str) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in execution_history(execution_arn)
        if event["type"].endswith("StateEntered")
    ]


def ledger_items(table_names: list[str]) -> list[dict[str, Any]]:
    """Every item of the tables, as plain JSON (numbers as ints), sorted by key."""
    import boto3  # noqa: PLC0415

    from order_capture.adapters.dynamodb.codec import plain  # noqa: PLC0415

    dynamodb = boto3.client("dynamodb", region_name=LOCAL_REGION)
    items: list[dict[str, Any]] = []
    for table_name in table_names:
        kwargs: dict[str, Any] = {"TableName": table_name}
        while True:
            page = dynamodb.scan(**kwargs)
            items.extend(plain(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda item: (item["PK"], item["SK"]))


def largest_payload(history: list[dict[str, Any]]) -> int:
    """The largest input, output or parameters of any event of an execution, in bytes (Step
    Functions refuses a state over 256 KB)."""
    largest = 0
    for event in history:
        for key, details in event.items():
            if not key.endswith("EventDetails") or not isinstance(details, dict):
                continue
            for name in ("input", "output", "parameters"):
                text = details.get(name)
                if isinstance(text, str):
                    largest = max(largest, len(text.encode()))
    return largest
