"""The state machine with a provider that confirms later: it hands the pending capture to the
confirmation workflow, which waits with a task token noted in the ledger."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from order_capture.adapters.stepfunctions import StepFunctionsConfirmationWorkflows
from order_capture.errors import ConfirmationNotAwaitedError
from order_capture_local.cli import main
from order_capture_local.runtime import LocalRuntime
from order_capture_local.sandbox import SandboxServer
from tests.factories import order_placed, order_shipped
from tests.statemachine.workflow_support import CAPTURED_PATH
from tests.support import ROOT

#: Record hands the pending capture to the confirmation workflow itself (no state of its own).
AWAITING_PATH = CAPTURED_PATH


def test_shipment_captured_asynchronously_ends_awaiting_confirmation(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    # Given a sandbox that only receives captures (no webhook configured here)
    (placed,) = runtime.put_events([order_placed()])
    assert not any(invocation.failed for invocation in placed.invocations)
    sandbox.add_fault("async")
    noted = threading.Event()
    runtime.after_hooks["AwaitConfirmationFunction"] = lambda payload, result: noted.set()
    # When the order ships
    (delivery,) = runtime.put_events([order_shipped("shipment-1")])
    (execution,) = delivery.executions
    # Then the execution stops awaiting the provider, without claiming a capture
    assert (execution.status, execution.states) == ("SUCCEEDED", AWAITING_PATH)
    assert execution.output["status"] == "pending"
    assert execution.output["status_at_provider"] == "pending"
    assert not [e for e in runtime.emitted_events if e["detail-type"] == "Payment Captured"]
    (capture,) = [i for i in runtime.ledger() if i["SK"].startswith("CAPTURE#")]
    assert capture["status"] == "pending"
    assert capture["provider_reference"] == execution.output["provider_reference"]
    order = next(i for i in runtime.ledger() if i["SK"] == "ORDER")
    assert (order["captured_amount"], order["reserved_amount"]) == (0, execution.output["amount"])
    # And the confirmation workflow, named after the capture, waits with its task token noted
    waiting = runtime.execution_arn("ConfirmationStateMachine", capture["capture_id"])
    assert runtime.wait_for_state(waiting, "AwaitProviderConfirmation")
    # (a guard against a hang, not a timing: the wait ends when AwaitConfirmation has run)
    assert noted.wait(timeout=180), "AwaitConfirmation never ran"
    noted_state = runtime.repository().confirmation_state(
        capture["merchant_id"], capture["order_id"], capture["capture_id"]
    )
    token = str(noted_state.task_token)
    ended = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}
    assert not [event for event in runtime.history(waiting) if event["type"] in ended]
    assert len(token) > 20


def test_the_local_cli_shows_a_capture_confirmed_asynchronously(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's local run: the sandbox answers "received", then confirms by signed
    webhook to the local API, which completes the confirmation workflow's wait."""
    events = [str(ROOT / "events" / name) for name in ("order-placed.json", "order-shipped-1.json")]
    arguments = ["local", "put-events", "-e", events[0], "-e", events[1]]
    exit_code = main([*arguments, "--sandbox-fault", "async", "--json", "--strict"])
    report = json.loads(capsys.readouterr().out)
    assert exit_code == 0
    shipped = report["deliveries"][1]["executions"][0]
    assert shipped["states"] == AWAITING_PATH
    (confirmation,) = report["confirmations"]
    assert (confirmation["status"], confirmation["states"]) == (
        "SUCCEEDED",
        ["AwaitProviderConfirmation", "EmitCaptured", "Captured"],
    )
    (captured,) = [e["detail"] for e in report["emitted"] if e["detail-type"] == "Payment Captured"]
    assert (captured["capture_id"], captured["status"]) == (confirmation["execution"], "captured")


def test_issue_15_a_wait_that_cannot_start_fails_the_execution_and_keeps_the_reservation(
    runtime: LocalRuntime, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Record starts the confirmation workflow (it used to be a state of its own): if it
    cannot, the execution still fails as ConfirmationNotAwaited, and nothing is released or
    announced, since the provider holds the capture."""
    runtime.put_events([order_placed()])
    sandbox.add_fault("async")

    def refuse(self: StepFunctionsConfirmationWorkflows, capture: Any, started_by: Any) -> bool:
        raise ConfirmationNotAwaitedError("StartExecution refused: ThrottlingException")

    monkeypatch.setattr(StepFunctionsConfirmationWorkflows, "start", refuse)
    (delivery,) = runtime.put_events([order_shipped("shipment-1")])
    (execution,) = delivery.executions
    assert (execution.status, execution.error) == ("FAILED", "ConfirmationNotAwaited")
    assert execution.states == [*CAPTURED_PATH, "ConfirmationNotAwaited"]
    (capture,) = [i for i in runtime.ledger() if i["SK"].startswith("CAPTURE#")]
    assert capture["status"] == "pending"
    order = next(i for i in runtime.ledger() if i["SK"] == "ORDER")
    assert order["reserved_amount"] == capture["amount"]
    assert runtime.emitted_events == []
