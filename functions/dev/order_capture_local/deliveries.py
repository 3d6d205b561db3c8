"""``order-capture local put-events``: deliver events to the embedded AWS (or the running local
stack), wait for the workflows they start and their confirmations, and report what happened."""

from __future__ import annotations

import argparse
import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from order_capture_local.cli_support import SandboxFault
from order_capture_local.eventbridge import Delivery
from order_capture_local.executions import ExecutionReport
from order_capture_local.lambda_service import patched_environ
from order_capture_local.runtime import LocalRuntime
from order_capture_local.sandbox_state import ASYNC_FAULT_KINDS
from order_capture_local.stack import StackInfo

CONFIRMATION_MACHINE = "ConfirmationStateMachine"


def _print_delivery(delivery: Delivery) -> None:
    event = delivery.event
    print(f"== {event['detail-type']} ({event['id']})")
    if not delivery.executions and not delivery.invocations:
        print("   matched no rule")
    for invocation in delivery.invocations:
        outcome = f"ERROR {invocation.error_type}" if invocation.failed else "ok"
        print(f"   invoked {invocation.function}: {outcome}")
        if invocation.failed:
            print(f"      {invocation.payload.get('errorMessage')}")
    for execution in delivery.executions:
        print(f"   execution {execution.name}: {execution.status}")
        print(f"      states: {' -> '.join(execution.states)}")
        if execution.status == "SUCCEEDED":
            print(f"      output: {json.dumps(execution.output)}")
        else:
            print(f"      error: {execution.error}: {execution.cause}")


def _print_captures(ledger: list[dict[str, Any]]) -> None:
    from order_capture.adapters.dynamodb import order_pk  # noqa: PLC0415
    from order_capture.adapters.dynamodb.layout import orders_in  # noqa: PLC0415

    for order in orders_in(ledger):
        pk = order_pk(order.merchant_id, order.order_id)
        captures = [
            item for item in ledger if item["PK"] == pk and item["SK"].startswith("CAPTURE#")
        ]
        print(f"== Captures of {order.merchant_id}/{order.order_id} ({order.currency})")
        for capture in sorted(captures, key=lambda item: item["created_at"]):
            print(
                f"   {capture['shipment_id']:<14} {capture['capture_id']}  "
                f"{capture['status']:<16} {capture['amount']:>10}"
            )
        captured = sum(c["amount"] for c in captures if c["status"] == "captured")
        complete = captured == order.total - order.canceled_amount
        print(
            f"   captured {captured} of order total {order.total}, canceled "
            f"{order.canceled_amount}: {'complete' if complete else 'open'}"
        )


@contextmanager
def _signed_sandbox_webhooks(merchant_ids: set[str]) -> Iterator[str]:
    """A fresh webhook HMAC key for the sandbox provider of ``merchant_ids``, given to the
    runtime's credentials as PROVIDER_CREDENTIALS_JSON for as long as the block runs."""
    key = secrets.token_hex(32)
    credentials = {
        merchant_id: {"sandbox": {"api_key": "local", "webhook_hmac_key": key}}
        for merchant_id in merchant_ids
    }
    with patched_environ({"PROVIDER_CREDENTIALS_JSON": json.dumps(credentials)}):
        yield key


def _serve_webhooks(stack: ExitStack, runtime: LocalRuntime, hmac_key: str) -> None:
    """Serve the API on a free loopback port and point the sandbox's webhooks at it."""
    from order_capture_local.api_server import ApiServer, LocalApi  # noqa: PLC0415

    api = LocalApi(runtime)
    stack.callback(api.close)
    server = ApiServer(api, port=0, access_log=False).start()
    stack.callback(server.stop)
    assert runtime.sandbox is not None
    runtime.sandbox.configure_webhook(f"{server.url}/webhooks/sandbox", hmac_key)


def _confirmations(runtime: LocalRuntime, deliveries: list[Delivery]) -> list[ExecutionReport]:
    """The confirmation workflows the deliveries started, once each has ended."""
    return [
        runtime.wait_for(
            runtime.execution_arn(CONFIRMATION_MACHINE, execution.output["capture_id"])
        )
        for delivery in deliveries
        for execution in delivery.executions
        if handed_to_confirmation(execution.output)
    ]


def handed_to_confirmation(output: Any) -> bool:
    """Whether an execution ended handing its capture to the confirmation workflow (Record
    started it now, or found it started): its output is the capture the provider received."""
    return (
        isinstance(output, dict)
        and output.get("status") == "pending"
        and output.get("status_at_provider") == "pending"
    )


@dataclass
class PutEventsRun:
    """What ``put-events`` saw, to report."""

    deliveries: list[Delivery]
    confirmations: list[ExecutionReport]
    reconciliation: Any
    ledger: list[dict[str, Any]]
    emitted: list[dict[str, Any]]

    @property
    def failed(self) -> bool:
        executions = [e for d in self.deliveries for e in d.executions] + self.confirmations
        return any(e.status != "SUCCEEDED" for e in executions) or any(
            invocation.failed for d in self.deliveries for invocation in d.invocations
        )


def in_process(
    args: argparse.Namespace,
    events: list[dict[str, Any]],
    make_runtime: Callable[[], LocalRuntime],
) -> PutEventsRun:
    faults: list[SandboxFault] = args.sandbox_fault or []
    with ExitStack() as stack:
        hmac_key = None
        if ASYNC_FAULT_KINDS.intersection(fault.kind for fault in faults):
            merchants = {str(e.get("detail", {}).get("merchant_id")) for e in events}
            hmac_key = stack.enter_context(_signed_sandbox_webhooks(merchants))
        runtime = stack.enter_context(make_runtime())
        if hmac_key is not None:
            _serve_webhooks(stack, runtime, hmac_key)
        assert runtime.sandbox is not None
        for fault in faults:
            runtime.sandbox.add_fault(fault.kind, delay_seconds=fault.delay_seconds)
        deliveries = runtime.put_events(events)
        confirmations = _confirmations(runtime, deliveries)
        reconciliation = (
            runtime.invoke("ReconcileFunction", {"grace_seconds": 0}).payload
            if args.reconcile
            else None
        )
        return PutEventsRun(
            deliveries,
            confirmations,
            reconciliation,
            runtime.ledger(),
            list(runtime.emitted_events),
        )


def print_json_report(run: PutEventsRun, with_ledger: bool) -> None:
    report: dict[str, Any] = {
        "deliveries": [
            {
                "event": delivery.event,
                "executions": [execution.to_dict() for execution in delivery.executions],
                "invocations": [
                    {"function": i.function, "error": i.error_type, "result": i.payload}
                    for i in delivery.invocations
                ],
            }
            for delivery in run.deliveries
        ],
        "confirmations": [execution.to_dict() for execution in run.confirmations],
        "emitted": run.emitted,
    }
    if run.reconciliation is not None:
        report["reconciliation"] = run.reconciliation
    if with_ledger:
        report["ledger"] = run.ledger
    print(json.dumps(report, indent=2))


def print_text_report(run: PutEventsRun, with_ledger: bool) -> None:
    for delivery in run.deliveries:
        _print_delivery(delivery)
    for execution in run.confirmations:
        print(f"== confirmation {execution.name}: {execution.status}")
        print(f"      states: {' -> '.join(execution.states)}")
    for event in run.emitted:
        print(f"== emitted {event['detail-type']}: {json.dumps(event['detail'])}")
    if run.reconciliation is not None:
        print(f"== reconciliation: {json.dumps(run.reconciliation)}")
    _print_captures(run.ledger)
    if with_ledger:
        print(json.dumps(run.ledger, indent=2))


def on_stack(
    args: argparse.Namespace, info: StackInfo, events: list[dict[str, Any]]
) -> PutEventsRun:
    from order_capture_local import stack_client  # noqa: PLC0415

    for fault in args.sandbox_fault or []:
        stack_client.add_sandbox_fault(info, fault.kind, fault.delay_seconds)
    deliveries, emitted = stack_client.put_events(info, events)
    confirmations = [
        stack_client.wait_for(info, CONFIRMATION_MACHINE, execution.output["capture_id"])
        for delivery in deliveries
        for execution in delivery.executions
        if handed_to_confirmation(execution.output)
    ]
    reconciliation = (
        stack_client.invoke(info, "ReconcileFunction", {"grace_seconds": 0}).payload
        if args.reconcile
        else None
    )
    return PutEventsRun(
        deliveries, confirmations, reconciliation, stack_client.ledger(info), emitted
    )
