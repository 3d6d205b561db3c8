"""The CLI's commands against a running local stack (``order-capture local start``).

Everything goes through the stack's AWS endpoint, as any client would: events are put on its
EventBridge (``PutEvents``), executions and the ledger are read with Step Functions and
DynamoDB calls, and a function runs in this process with its template environment pointed at
the stack (what ``sam local invoke`` does in a container). Only what no AWS API tells (what a
function target answered, the events emitted) comes from the stack's ``/_local/`` routes.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from order_capture_local.emf import metrics_environment, metrics_to_stderr
from order_capture_local.eventbridge import Delivery, normalize_event
from order_capture_local.executions import ExecutionReport, ledger_items, wait_for_execution
from order_capture_local.lambda_service import (
    Invocation,
    LambdaContext,
    cold_containers,
    drop_unpublished_metrics,
    patched_environ,
)
from order_capture_local.stack import StackInfo
from order_capture_local.template import LOCAL_REGION, FunctionSpec, Template, load_template


def stack_template(info: StackInfo) -> Template:
    return load_template(Path(info.template), {"SandboxProviderUrl": info.sandbox_url})


@contextmanager
def pointed_at(info: StackInfo) -> Iterator[None]:
    """boto3 clients made in the block talk to the stack (and none made before is reused)."""
    with patched_environ(info.aws_environment()):
        cold_containers()
        try:
            yield
        finally:
            cold_containers()


def _local_route(info: StackInfo, path: str) -> Any:
    with urllib.request.urlopen(info.api_url + path, timeout=30) as response:
        return json.loads(response.read())


def _handler_environment(info: StackInfo, function: FunctionSpec, log_level: str) -> dict[str, str]:
    """The function's environment pointed at the stack; as in-process runs, no X-Ray daemon
    and no EMF metrics on stdout (which carries the CLI's report; see emf for stderr)."""
    return {
        **info.function_environment(function),
        "POWERTOOLS_TRACE_DISABLED": "true",
        **metrics_environment(),
        "POWERTOOLS_LOG_LEVEL": log_level,
    }


@contextmanager
def _logs_to_stderr(log_level: str) -> Iterator[None]:
    """Handler logs on stderr for the block, then back to where they went (which may be a
    capture that closes afterwards, like pytest's)."""
    from order_capture.observability import logger  # noqa: PLC0415

    logger.setLevel(log_level)
    streams = [handler for handler in logger.handlers if hasattr(handler, "stream")]
    # Assigned, not setStream: that flushes the old stream, which may be closed by now.
    previous = [handler.stream for handler in streams]
    for handler in streams:
        handler.stream = sys.stderr
    try:
        yield
    finally:
        for handler, stream in zip(streams, previous, strict=True):
            handler.stream = stream


def invoke(info: StackInfo, function_id: str, event: Any, log_level: str = "WARNING") -> Invocation:
    """Run one function's handler here, as Lambda would, with its environment from the
    template pointed at the stack (handler logs on stderr)."""
    template = stack_template(info)
    function = template.functions.get(function_id)
    if function is None:
        known = ", ".join(sorted(template.functions))
        raise KeyError(f"no function {function_id!r} in the template (known: {known})")
    module_name, _, attribute = function.handler.rpartition(".")
    payload = json.loads(json.dumps(event))
    with patched_environ(_handler_environment(info, function, log_level)), pointed_at(info):
        try:
            handler = getattr(importlib.import_module(module_name), attribute)
            with _logs_to_stderr(log_level), metrics_to_stderr():
                result = handler(payload, LambdaContext(function))
            return Invocation(function_id, json.loads(json.dumps(result)))
        except Exception as error:
            error_type = type(error).__name__
            body = {
                "errorType": error_type,
                "errorMessage": str(error),
                "stackTrace": traceback.format_exception(error)[-5:],
            }
            return Invocation(function_id, body, error_type=error_type)
        finally:
            drop_unpublished_metrics()


def put_events(info: StackInfo, entries: list[dict[str, Any]]) -> tuple[list[Delivery], list[Any]]:
    """Put each event on the stack's bus, in order, and wait for what it started: the
    deliveries (as ``LocalRuntime.put_events`` reports them) and the events emitted."""
    import boto3  # noqa: PLC0415

    template = stack_template(info)
    machines = sorted(
        {r.target_logical_id for r in template.rules if r.target_kind == "statemachine"}
    )
    emitted_before = len(_local_route(info, "/_local/emitted")["emitted"])
    deliveries = []
    with pointed_at(info):
        events = boto3.client("events", region_name=LOCAL_REGION)
        stepfunctions = boto3.client("stepfunctions", region_name=LOCAL_REGION)
        for entry in entries:
            event = normalize_event(entry)
            answer = events.put_events(
                Entries=[
                    {
                        "Source": str(event["source"]),
                        "DetailType": str(event["detail-type"]),
                        "Detail": json.dumps(event["detail"]),
                        "Resources": list(event["resources"]),
                    }
                ]
            )["Entries"][0]
            if "EventId" not in answer:
                raise SystemExit(f"order-capture: PutEvents refused the event: {answer}")
            event["id"] = answer["EventId"]
            delivery = Delivery(event)
            for machine_id in machines:
                arn = _execution_arn(info, machine_id, event["id"])
                try:
                    stepfunctions.describe_execution(executionArn=arn)
                except stepfunctions.exceptions.ExecutionDoesNotExist:
                    continue  # the event matched no rule of this workflow
                delivery.executions.append(wait_for_execution(arn))
            for invocation in _local_route(info, f"/_local/deliveries/{event['id']}")[
                "invocations"
            ]:
                delivery.invocations.append(
                    Invocation(invocation["function"], invocation["result"], invocation["error"])
                )
            deliveries.append(delivery)
    emitted = _local_route(info, "/_local/emitted")["emitted"][emitted_before:]
    return deliveries, emitted


def _execution_arn(info: StackInfo, machine_id: str, name: str) -> str:
    machine_arn = info.state_machine_arns[machine_id]
    return machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def wait_for(info: StackInfo, machine_id: str, name: str) -> ExecutionReport:
    with pointed_at(info):
        return wait_for_execution(_execution_arn(info, machine_id, name))


def ledger(info: StackInfo) -> list[dict[str, Any]]:
    with pointed_at(info):
        return ledger_items([info.table_name])


def create_api_key(info: StackInfo, merchant_id: str) -> str:
    from pydantic import TypeAdapter  # noqa: PLC0415

    from order_capture.adapters.api_keys import DynamoDBApiKeyStore  # noqa: PLC0415
    from order_capture.domain import merchant_api  # noqa: PLC0415
    from order_capture.models import Identifier  # noqa: PLC0415
    from order_capture.ports import SystemClock  # noqa: PLC0415

    TypeAdapter(Identifier).validate_python(merchant_id)
    with pointed_at(info):
        return merchant_api.create_api_key(
            DynamoDBApiKeyStore(info.table_name), merchant_id, SystemClock()
        )


def authorize_at_sandbox(info: StackInfo, reference: str, amount: int, currency: str) -> None:
    """What a shop's checkout does before it registers an order paid with the sandbox."""
    from urllib.parse import quote  # noqa: PLC0415

    request = urllib.request.Request(
        f"{info.sandbox_url}/authorizations/{quote(reference, safe='')}",
        data=json.dumps({"amount": amount, "currency": currency}).encode(),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def add_sandbox_fault(info: StackInfo, kind: str, delay_seconds: float) -> None:
    request = urllib.request.Request(
        info.sandbox_url + "/_faults",
        data=json.dumps({"kind": kind, "count": 1, "delay_seconds": delay_seconds}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
