"""A hot order: many shipments of one order at once. They contend for the order's version; the
losers must back off (with jitter) rather than loop through the workflow again at once, so
that the state transitions each capture costs stay bounded."""

from __future__ import annotations

from typing import Any

from order_capture_local.bench.recording import transitions_of
from order_capture_local.runtime import LocalRuntime
from order_capture_local.sandbox import SandboxServer
from tests.factories import order_placed, order_shipped
from tests.statemachine.workflow_support import captures, order_item

SHIPMENTS = 8
#: The happy path costs 4; each lost race costs a retry of the Capture step.
MAX_TRANSITIONS_PER_CAPTURE = 12


def hot_order() -> dict[str, Any]:
    lines = [
        {
            "item_id": f"line-{n}",
            "sku": f"SKU-{n}",
            "quantity": 1,
            "unit_amount": 1000,
            "discount_amount": 0,
            "tax_amount": 0,
        }
        for n in range(SHIPMENTS)
    ]
    return order_placed(items=lines, shipping_amount=0, authorized_amount=1000 * SHIPMENTS)


def test_defect_13_shipments_of_a_hot_order_cost_a_bounded_number_of_transitions(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    runtime.put_events([hot_order()])
    arns = [
        runtime.start_execution(
            "CaptureStateMachine",
            order_shipped(f"shipment-{n}", [{"item_id": f"line-{n}", "quantity": 1}]),
        )
        for n in range(SHIPMENTS)
    ]
    executions = [runtime.wait_for(arn, 120) for arn in arns]
    assert [e.status for e in executions] == ["SUCCEEDED"] * SHIPMENTS
    assert sorted(c["amount"] for c in sandbox.state.captures) == [1000] * SHIPMENTS
    assert sorted(c["status"] for c in captures(runtime)) == ["captured"] * SHIPMENTS
    assert order_item(runtime)["captured_amount"] == 1000 * SHIPMENTS
    transitions = sum(transitions_of(runtime.history(e.arn))[0] for e in executions)
    print(f"{transitions} state transitions for {SHIPMENTS} captures")  # noqa: T201
    assert transitions <= MAX_TRANSITIONS_PER_CAPTURE * SHIPMENTS, transitions
