"""The state machine with a provider that confirms later: it stops awaiting the webhook."""

from __future__ import annotations

from order_capture_local.runtime import LocalRuntime
from order_capture_local.sandbox import SandboxServer
from tests.factories import order_placed, order_shipped

AWAITING_PATH = [
    "Validate",
    "AlreadySettled?",
    "ComputeAmount",
    "AnythingToCapture?",
    "Capture",
    "ConfirmedAtProvider?",
    "AwaitingProviderConfirmation",
]


def test_shipment_captured_asynchronously_ends_awaiting_confirmation(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    # Given a sandbox that only receives captures (no webhook configured here)
    (placed,) = runtime.put_events([order_placed()])
    assert not any(invocation.failed for invocation in placed.invocations)
    sandbox.add_fault("async")
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
