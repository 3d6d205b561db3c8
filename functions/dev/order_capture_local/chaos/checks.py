"""Checks both campaigns share: what the service announced, and how large its states grew."""

from __future__ import annotations

from collections import Counter
from typing import Any

from order_capture_local.executions import largest_payload
from order_capture_local.template import LOCAL_REGION

#: Step Functions refuses a state input or output above 256 KB (``States.DataLimitExceeded``,
#: which ``States.ALL`` does not catch on AWS). moto does not enforce it, so the campaign does.
STATE_PAYLOAD_LIMIT = 256 * 1024


def announcement_figures(
    emitted: list[dict[str, Any]], captures: list[dict[str, Any]]
) -> tuple[int, list[str]]:
    """``captures_announced_wrongly``: a capture that ended captured must have been announced
    ``Payment Captured`` exactly once and never ``Payment Capture Failed`` as failed; any
    capture is announced captured at most once. The count, and a few examples."""
    captured_events: Counter[str] = Counter()
    failed_events: Counter[str] = Counter()
    executions: dict[str, list[str]] = {}
    for event in emitted:
        if event.get("source") != "order-capture":
            continue
        capture_id = str((event.get("detail") or {}).get("capture_id"))
        if event.get("detail-type") == "Payment Captured":
            captured_events[capture_id] += 1
            execution = str((event.get("detail") or {}).get("execution_id") or "-")
            executions.setdefault(capture_id, []).append(execution.rsplit(":", 1)[-1])
        elif (
            event.get("detail-type") == "Payment Capture Failed"
            and (event.get("detail") or {}).get("status") == "failed"
        ):
            failed_events[capture_id] += 1
    wrong: list[str] = []
    for capture in captures:
        capture_id = capture["capture_id"]
        times = captured_events[capture_id], failed_events[capture_id]
        said = "announced captured {}x, failed {}x".format(*times)
        if times[0] > 1:
            said += f" (by executions {', '.join(executions[capture_id])})"
        if capture["status"] == "captured" and (
            captured_events[capture_id] != 1 or failed_events[capture_id] > 0
        ):
            wrong.append(f"{capture['order_id']}/{capture_id} captured, {said}")
        elif capture["status"] != "captured" and captured_events[capture_id] > 1:
            wrong.append(f"{capture['order_id']}/{capture_id} {capture['status']}, {said}")
    return len(wrong), wrong[:5]


def record_function_errors(runtime: Any, function_id: str, into: list[str], keep: int = 5) -> None:
    """Keep what the first ``keep`` failed invocations of ``function_id`` raised, with the
    request they served: API Gateway answers a failed ApiFunction 502 "Internal server error"
    and says no more (on AWS, the function's log says why)."""
    invoke = runtime.invoke

    def recording(called: str, event: Any) -> Any:
        invocation = invoke(called, event)
        if called == function_id and invocation.failed and len(into) < keep:
            payload = invocation.payload if isinstance(invocation.payload, dict) else {}
            request = f"{event.get('httpMethod')} {event.get('path')}"
            message = str(payload.get("errorMessage"))[:300]
            into.append(f"{function_id} {request}: {invocation.error_type}: {message}")
        return invocation

    runtime.invoke = recording


def executions_over_the_state_limit(
    runtime: Any, machine_ids: list[str], prefixes: set[str]
) -> int:
    """Executions (whose name starts with one of ``prefixes``) of these machines that passed a
    state larger than Step Functions allows."""
    import boto3  # noqa: PLC0415

    stepfunctions = boto3.client("stepfunctions", region_name=LOCAL_REGION)
    over = 0
    for machine_id in machine_ids:
        arn = runtime.state_machine_arns[machine_id]
        pages = stepfunctions.get_paginator("list_executions").paginate(stateMachineArn=arn)
        for page in pages:
            for execution in page["executions"]:
                if any(execution["name"].startswith(prefix) for prefix in prefixes):
                    history = runtime.history(execution["executionArn"])
                    over += largest_payload(history) > STATE_PAYLOAD_LIMIT
    return over


def running_executions(runtime: Any) -> int:
    import boto3  # noqa: PLC0415

    stepfunctions = boto3.client("stepfunctions", region_name=LOCAL_REGION)
    running = 0
    for arn in runtime.state_machine_arns.values():
        page = stepfunctions.list_executions(stateMachineArn=arn, statusFilter="RUNNING")
        running += len(page["executions"])
    return running
