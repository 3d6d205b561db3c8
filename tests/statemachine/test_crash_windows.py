"""A fault at every boundary ends captured-and-recorded or released-and-recorded, never lost.

Crashes are injected where Lambda would report them (``Sandbox.Timedout`` after the function
did its work, or before), the provider misbehaves through the sandbox's faults, and whatever
the retries cannot settle, reconciliation does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from order_capture_local.lambda_service import LambdaCrash, LambdaDied
from order_capture_local.runtime import LocalRuntime
from order_capture_local.sandbox import SandboxServer
from tests.factories import EXAMPLE_ORDER_TOTAL, order_shipped
from tests.statemachine.workflow_support import (
    CAPTURED_PATH,
    captures,
    crash,
    order_item,
    ship_once,
)


def settled_once(runtime: LocalRuntime, sandbox: SandboxServer) -> None:
    """The end state every crash must reach: captured once, recorded once, nothing reserved."""
    (capture,) = captures(runtime)
    assert capture["status"] == "captured"
    assert [c["amount"] for c in sandbox.state.captures] == [EXAMPLE_ORDER_TOTAL]
    order = order_item(runtime)
    assert (order["captured_amount"], order["reserved_amount"]) == (EXAMPLE_ORDER_TOTAL, 0)


def reconcile(runtime: LocalRuntime) -> dict[str, Any]:
    invocation = runtime.invoke("ReconcileFunction", {"grace_seconds": 0})
    assert not invocation.failed, invocation.payload
    return dict(invocation.payload)


@pytest.mark.parametrize(
    "function", ["ValidateFunction", "ComputeAmountFunction", "CaptureFunction", "RecordFunction"]
)
def test_a_crash_before_a_step_runs_is_retried(
    runtime: LocalRuntime, sandbox: SandboxServer, function: str
) -> None:
    runtime.fault_hooks[function] = crash(1)
    execution = ship_once(runtime)
    assert (execution.status, execution.states) == ("SUCCEEDED", CAPTURED_PATH)
    settled_once(runtime, sandbox)


@pytest.mark.parametrize("function", ["CaptureFunction", "RecordFunction"])
def test_a_crash_after_a_step_did_its_work_is_retried_without_repeating_it(
    runtime: LocalRuntime, sandbox: SandboxServer, function: str
) -> None:
    # Capture: the provider captured, then the function timed out; the retry finds its own
    # reservation and replays the provider call with the same key. Record: the ledger was
    # confirmed, then the function died; the retry sees it confirmed.
    runtime.after_hooks[function] = crash(1)
    execution = ship_once(runtime)
    assert (execution.status, execution.states) == ("SUCCEEDED", CAPTURED_PATH)
    settled_once(runtime, sandbox)


def test_capture_crashing_after_the_provider_every_time_is_kept_and_reconciled(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    runtime.after_hooks["CaptureFunction"] = crash(100)
    execution = ship_once(runtime)
    assert execution.status == "FAILED"
    assert execution.states[-4:] == [
        "RecordFailure",
        "FailureToAnnounce?",
        "EmitCaptureFailed",
        "CaptureFailed",
    ]
    (capture,) = captures(runtime)
    # The provider holds the money: the reservation is kept, not released.
    assert capture["status"] == "requires_action"
    assert order_item(runtime)["reserved_amount"] == EXAMPLE_ORDER_TOTAL
    report = reconcile(runtime)
    assert (report["examined"], report["confirmed"]) == (1, 1)
    settled_once(runtime, sandbox)


def test_record_failing_past_its_retries_leaves_a_pending_capture_for_reconciliation(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    runtime.fault_hooks["RecordFunction"] = crash(100)
    execution = ship_once(runtime)
    assert (execution.status, execution.error) == ("FAILED", "CaptureNotRecorded")
    (capture,) = captures(runtime)
    assert capture["status"] == "pending"
    assert reconcile(runtime)["confirmed"] == 1
    settled_once(runtime, sandbox)


def test_a_reservation_the_provider_never_saw_is_released_by_reconciliation(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    # The Capture function dies after reserving but before calling the provider, every time.
    runtime.fault_hooks["CaptureFunction"] = crash(0)
    original = runtime._handler_for(runtime.template.functions["CaptureFunction"])

    def reserve_then_die(payload: Any) -> None:
        from order_capture.adapters.sandbox_provider import SandboxProvider

        class DeadProvider(SandboxProvider):
            def capture(self, request: Any) -> Any:
                raise LambdaCrash("Sandbox.Timedout")

        from order_capture.handlers import capture

        capture.handle(payload, None, provider=DeadProvider(sandbox.url))  # type: ignore[arg-type]

    runtime.fault_hooks["CaptureFunction"] = reserve_then_die
    execution = ship_once(runtime)
    assert execution.status == "FAILED"
    assert captures(runtime)[0]["status"] == "requires_action"
    assert sandbox.state.captures == []
    failures_before = [
        e for e in runtime.emitted_events if e["detail-type"] == "Payment Capture Failed"
    ]
    report = reconcile(runtime)
    assert report["released"] == 1
    (capture,) = captures(runtime)
    assert capture["status"] == "failed"
    assert capture["failure"]["reason"] == "not_captured"
    # Reconciliation announces the release (the execution announced requires_action)
    failures = [e for e in runtime.emitted_events if e["detail-type"] == "Payment Capture Failed"]
    assert [e["detail"]["status"] for e in failures[len(failures_before) :]] == ["failed"]
    order = order_item(runtime)
    assert (order["reserved_amount"], order["captured_amount"]) == (0, 0)
    assert original is not None
    # The units ship again under a new shipment.
    runtime.fault_hooks.clear()
    (again,) = runtime.put_events([order_shipped("shipment-2")])
    assert again.executions[0].output["amount"] == EXAMPLE_ORDER_TOTAL


@pytest.fixture
def impatient_runtime(sandbox: SandboxServer) -> Iterator[LocalRuntime]:
    with LocalRuntime(
        sandbox=sandbox,
        retry_time_scale=0.02,
        parameter_overrides={"ProviderTimeoutSeconds": "1.0"},
    ) as local:
        yield local


def test_provider_timeout_after_capturing_is_retried_with_the_same_key(
    impatient_runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    sandbox.add_fault("timeout_after_capture", count=1, delay_seconds=1.6)
    execution = ship_once(impatient_runtime)
    assert execution.status == "SUCCEEDED"
    errors = [
        e["lambdaFunctionFailedEventDetails"]["error"]
        for e in impatient_runtime.history(execution.arn)
        if e["type"] == "LambdaFunctionFailed"
    ]
    assert errors == ["CaptureOutcomeUnknownError"]
    settled_once(impatient_runtime, sandbox)


def test_provider_timing_out_every_time_ends_requires_action_then_reconciles(
    impatient_runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    sandbox.add_fault("timeout_after_capture", count=4, delay_seconds=1.6)
    execution = ship_once(impatient_runtime)
    assert execution.status == "FAILED"
    (capture,) = captures(impatient_runtime)
    assert capture["status"] == "requires_action"
    assert capture["failure"]["reason"] == "outcome_unknown"
    assert reconcile(impatient_runtime)["confirmed"] == 1
    settled_once(impatient_runtime, sandbox)


def payment_captured(runtime: LocalRuntime) -> list[dict[str, Any]]:
    return [e for e in runtime.emitted_events if e["detail-type"] == "Payment Captured"]


@pytest.mark.parametrize("times", [1, 2])
def test_defect_6_a_record_that_died_after_putevents_answered_repeats_it_with_one_id(
    runtime: LocalRuntime, sandbox: SandboxServer, times: int
) -> None:
    # Record confirmed the capture and sent Payment Captured, then its answer was lost
    # (Sandbox.Timedout after the work, a Lambda.ServiceException): Step Functions runs it
    # again, and again. Its retry finds its own note and announces again (issue 12's
    # decision: at least once): the repeats carry the first one's announcement_id. Nothing
    # Record does after PutEvents can fail or take time any more (the release runs before
    # it: tests/integration/test_announced_once_crash_window.py), so this is only a death in
    # the instant after PutEvents answered.
    runtime.after_hooks["RecordFunction"] = crash(times)
    execution = ship_once(runtime)
    assert (execution.status, execution.states) == ("SUCCEEDED", CAPTURED_PATH)
    settled_once(runtime, sandbox)
    announced = payment_captured(runtime)
    capture_id = captures(runtime)[0]["capture_id"]
    assert len(announced) == times + 1
    assert {e["detail"]["announcement_id"] for e in announced} == {f"{capture_id}:captured"}


@pytest.mark.parametrize("times", [1, 2])
def test_defect_6_a_record_that_died_before_putevents_is_announced_once_by_its_retry(
    runtime: LocalRuntime, sandbox: SandboxServer, times: int
) -> None:
    # Record confirmed the capture (its note written) and its process ended as it was about
    # to send Payment Captured (the campaign's "death before PutEvents"), ``times`` times:
    # no except clause of its ran. Step Functions retries it: announced once.
    deaths: list[int] = []

    def dies(_: Any) -> None:
        if len(deaths) < times:
            deaths.append(1)
            raise LambdaDied

    runtime.send_hooks["RecordFunction"] = dies
    execution = ship_once(runtime)
    assert (execution.status, execution.states) == ("SUCCEEDED", CAPTURED_PATH)
    settled_once(runtime, sandbox)
    (announced,) = payment_captured(runtime)
    assert announced["detail"]["capture_id"] == captures(runtime)[0]["capture_id"]
    assert len(deaths) == times


def reconcile_later(runtime: LocalRuntime) -> dict[str, Any]:
    """ReconcileFunction as its run after SETTLER_DEADLINE (the fault campaign's too)."""
    from order_capture_local.chaos.later import reconcile_after_the_deadline

    invocation = reconcile_after_the_deadline(runtime)
    assert not invocation.failed, invocation.payload
    return dict(invocation.payload)


@pytest.mark.parametrize("death", ["process", "putevents"])
def test_defect_12_a_record_that_gave_up_after_its_confirm_is_announced_by_reconciliation(
    runtime: LocalRuntime, sandbox: SandboxServer, death: str
) -> None:
    # Given a Record that confirmed the capture and, on every attempt, died before PutEvents
    # answered (or PutEvents kept failing): past its retries it gives up
    def dies(_: Any) -> None:
        if death == "process":
            raise LambdaDied
        raise ConnectionError("EventBridge unreachable")

    runtime.send_hooks["RecordFunction"] = dies
    execution = ship_once(runtime)
    error = "CaptureNotRecorded" if death == "process" else "CaptureNotAnnounced"
    assert (execution.status, execution.error) == ("FAILED", error)
    assert execution.states[-4:] == [
        "Record",
        "HandOverAnnouncement",
        "NotAnnouncedOrNotRecorded?",
        error,
    ]
    settled_once(runtime, sandbox)
    assert payment_captured(runtime) == []
    # When reconciliation runs: at once (the execution may still be around), then later
    assert reconcile(runtime)["announced"] == 0
    assert payment_captured(runtime) == []
    assert reconcile_later(runtime)["announced"] == 1
    # Then the capture is announced once, by reconciliation, under its one id
    (announced,) = payment_captured(runtime)
    capture_id = captures(runtime)[0]["capture_id"]
    assert announced["detail"]["announcement_id"] == f"{capture_id}:captured"
    assert reconcile_later(runtime)["examined"] == 0
    assert len(payment_captured(runtime)) == 1
