"""The event path's workflow type is a template parameter: the same definition captures
alike as a Standard and as an Express workflow on the local runtime."""

from __future__ import annotations

import boto3
import pytest

from order_capture_local.runtime import LocalRuntime
from order_capture_local.sandbox import SandboxServer
from order_capture_local.template import LOCAL_REGION
from tests.factories import EXAMPLE_ORDER_TOTAL, order_placed, order_shipped

HAPPY_PATH = ["Validate", "ComputeAmount", "Capture", "Record"]


@pytest.mark.parametrize("workflow_type", ["STANDARD", "EXPRESS"])
def test_a_shipment_captures_once_whatever_the_workflow_type(
    sandbox: SandboxServer, workflow_type: str
) -> None:
    overrides = {"EventCaptureWorkflowType": workflow_type}
    with LocalRuntime(
        sandbox=sandbox, parameter_overrides=overrides, retry_time_scale=0.02
    ) as runtime:
        # Given the capture workflow deployed with the chosen type
        machine_arn = runtime.state_machine_arns["CaptureStateMachine"]
        described = boto3.client("stepfunctions", region_name=LOCAL_REGION)
        assert described.describe_state_machine(stateMachineArn=machine_arn)["type"] == (
            workflow_type
        )
        (placed,) = runtime.put_events([order_placed()])
        assert not any(invocation.failed for invocation in placed.invocations)

        # When the order ships
        (delivery,) = runtime.put_events([order_shipped("shipment-1")])
        (execution,) = delivery.executions

        # Then it captures once, recorded and announced, along the same six states
        assert execution.status == "SUCCEEDED"
        assert execution.states == HAPPY_PATH
        assert [capture["amount"] for capture in sandbox.state.captures] == [EXAMPLE_ORDER_TOTAL]
        announced = [e for e in runtime.emitted_events if e["source"] == "order-capture"]
        assert [e["detail-type"] for e in announced] == ["Payment Captured"]
        assert announced[0]["detail"]["amount"] == EXAMPLE_ORDER_TOTAL
