"""What the capture-workflow tests share: the happy path's states, the ledger's captures and
order as the local runtime holds them, placing and shipping the example order, and a hook that
crashes a function as Lambda would report it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from order_capture.adapters.dynamodb.layout import orders_in
from order_capture_local.lambda_service import LambdaCrash
from order_capture_local.runtime import LocalRuntime
from tests.factories import order_placed, order_shipped

#: Every execution that ends well walks these four states: a capture, a duplicate, nothing
#: to capture, a capture handed to the confirmation workflow (Record starts it). No Choice
#: state sorts the outcomes (each would bill a transition on every capture): the steps hand
#: on what needs no capture (workflow_state.PassedOn), so outcomes differ by output.
CAPTURED_PATH = ["Validate", "ComputeAmount", "Capture", "Record"]


def place(runtime: LocalRuntime, **overrides: Any) -> None:
    (delivery,) = runtime.put_events([order_placed(**overrides)])
    assert [invocation.failed for invocation in delivery.invocations] == [False]


def ship(
    runtime: LocalRuntime, shipment_id: str, items: list[dict[str, Any]] | None = None, **ids: Any
) -> Any:
    (delivery,) = runtime.put_events([order_shipped(shipment_id, items, **ids)])
    (execution,) = delivery.executions
    return execution


def captures(runtime: LocalRuntime) -> list[dict[str, Any]]:
    return [item for item in runtime.ledger() if item["SK"].startswith("CAPTURE#")]


def lambda_failures(runtime: LocalRuntime, execution: Any) -> list[str]:
    """The errors of the execution's failed Lambda tasks, in order (each one retried or caught)."""
    return [
        event["lambdaFunctionFailedEventDetails"]["error"]
        for event in runtime.history(execution.arn)
        if event["type"] == "LambdaFunctionFailed"
    ]


def order_item(runtime: LocalRuntime) -> dict[str, Any]:
    """The order as its ledger items describe it (header, catalog, line counters)."""
    (order,) = orders_in(runtime.ledger())
    return order.model_dump(mode="json")


def crash(times: int) -> Callable[..., None]:
    """A hook that crashes the first ``times`` invocations it sees."""
    seen = []

    def hook(*_: Any) -> None:
        seen.append(1)
        if len(seen) <= times:
            raise LambdaCrash("Sandbox.Timedout")

    return hook


def ship_once(runtime: LocalRuntime) -> Any:
    runtime.put_events([order_placed()])
    (delivery,) = runtime.put_events([order_shipped("shipment-1")])
    return delivery.executions[0]
