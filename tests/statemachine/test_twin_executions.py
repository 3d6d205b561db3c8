"""Twin executions of one shipment (a redelivered event while the first is still capturing):
the second finds the first one's pending capture and ends as a duplicate in progress. It never
announces `Payment Capture Failed` for money that is being captured, never sends the capture
again, and the first execution's capture is announced once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.models import capture_id_for
from order_capture_local.runtime import LocalRuntime
from order_capture_local.sandbox import SandboxServer
from tests.factories import EXAMPLE_ORDER_TOTAL, order_placed, order_shipped
from tests.statemachine.workflow_support import (
    CAPTURED_PATH,
    captures,
    lambda_failures,
    order_item,
)

#: A twin walks the same states as the first execution: Validate (or, if it planned before
#: the first one reserved, Capture) finds the reservation and the twin hands it on as its
#: output, a duplicate in progress, with no Lambda error.
TWIN_PATH = CAPTURED_PATH


@pytest.fixture(params=["with idempotency keys", "without idempotency keys"])
def provider_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The sandbox as it is (it deduplicates by Idempotency-Key, like Stripe), or taken for a
    provider without idempotency keys (like Aplazame), for which the Capture step must never
    send a capture a second time."""
    if request.param == "without idempotency keys":
        monkeypatch.setattr(SandboxProvider, "idempotent_captures", False)
    yield str(request.param)


def announced(runtime: LocalRuntime) -> list[str]:
    return [
        event["detail-type"]
        for event in runtime.emitted_events
        if event["source"] == "order-capture"
    ]


#: How long a held step or a test waits for what it is held for: a guard against a hang, not a
#: timing (every wait ends on its condition; runtime.wait_for gives an execution 120 s).
HANG_GUARD_SECONDS = 180


def test_defect_12_a_twin_execution_ends_as_a_duplicate_in_progress(
    runtime: LocalRuntime, sandbox: SandboxServer, provider_kind: str
) -> None:
    runtime.put_events([order_placed()])
    shipped = order_shipped("shipment-1")
    capture_id = capture_id_for("merchant-1", "order-1001", "shipment-1")
    # Given the first execution has reserved the capture, and its Record waits until the
    # twin has ended (the twin's own Record step hands on a duplicate and is let through)
    first_at_record = threading.Event()
    twin_ended = threading.Event()

    def hold_the_first_record(payload: Any) -> None:
        if "duplicate_of" not in payload["capture"]:
            first_at_record.set()
            assert twin_ended.wait(timeout=HANG_GUARD_SECONDS)

    runtime.fault_hooks["RecordFunction"] = hold_the_first_record
    first = runtime.start_execution("CaptureStateMachine", shipped)
    assert first_at_record.wait(timeout=HANG_GUARD_SECONDS), "the first never reached Record"
    assert [c["status"] for c in captures(runtime)] == ["pending"]
    # When the same shipment's event is delivered again
    twin = runtime.wait_for(runtime.start_execution("CaptureStateMachine", shipped))
    # Then the twin ends as a duplicate in progress, announcing nothing
    announced_by_then = announced(runtime)
    twin_ended.set()
    assert (twin.status, twin.states) == ("SUCCEEDED", TWIN_PATH), twin
    assert (twin.output["status"], twin.output["capture_id"]) == ("pending", capture_id)
    assert announced_by_then == []
    # And the first one captures, once, and announces it once
    done = runtime.wait_for(first)
    assert (done.status, done.states) == ("SUCCEEDED", CAPTURED_PATH)
    assert [c["amount"] for c in sandbox.state.captures] == [EXAMPLE_ORDER_TOTAL]
    (capture,) = captures(runtime)
    assert capture["status"] == "captured"
    order = order_item(runtime)
    assert (order["captured_amount"], order["reserved_amount"]) == (EXAMPLE_ORDER_TOTAL, 0)
    assert announced(runtime) == ["Payment Captured"]


def test_defect_12_twins_that_both_planned_end_captured_once_and_in_progress(
    runtime: LocalRuntime, sandbox: SandboxServer, provider_kind: str
) -> None:
    runtime.put_events([order_placed()])
    shipped = order_shipped("shipment-1")
    # Both executions have planned the capture before either reserves it
    both_planned = threading.Barrier(2, timeout=HANG_GUARD_SECONDS)
    calls: list[Any] = []

    def hold_the_first_two(payload: Any) -> None:
        calls.append(payload)
        if len(calls) <= 2:
            both_planned.wait()

    runtime.fault_hooks["CaptureFunction"] = hold_the_first_two
    arns = [runtime.start_execution("CaptureStateMachine", shipped) for _ in range(2)]
    executions = [runtime.wait_for(arn) for arn in arns]
    assert sorted(e.status for e in executions) == ["SUCCEEDED", "SUCCEEDED"]
    assert [e.states for e in executions] == [CAPTURED_PATH, TWIN_PATH]
    # One captured it; the other's Capture step found the reservation and ended in progress,
    # not with a Lambda error (no CaptureInProgressError: alarms count Lambda errors)
    assert sorted(e.output["status"] for e in executions) == ["captured", "pending"]
    assert all(not lambda_failures(runtime, e) for e in executions)
    # Sent to the provider once, captured once, announced once, no failure
    assert [c["amount"] for c in sandbox.state.captures] == [EXAMPLE_ORDER_TOTAL]
    (capture,) = captures(runtime)
    assert capture["status"] == "captured"
    assert announced(runtime) == ["Payment Captured"]
