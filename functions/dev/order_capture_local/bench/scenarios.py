"""The measured scenarios: each path through the state machine, API captures, order size
and history, warm invokes."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from order_capture_local.api_server import LocalApi
from order_capture_local.bench.recording import ApiRun, Bench, RecordingWorkflowStarter, Run
from order_capture_local.deliveries import CONFIRMATION_MACHINE, handed_to_confirmation
from order_capture_local.eventbridge import normalize_event
from order_capture_local.executions import (
    ExecutionReport,
    end_waiting_task,
    wait_for_history_event,
)
from order_capture_local.runtime import PROJECT_ROOT
from order_capture_local.template import LOCAL_REGION

EVENTS = PROJECT_ROOT / "events"

# --- events --------------------------------------------------------------------------------------


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def order_placed(
    order_id: str, lines: int, quantity: int, id_of: Callable[[int], str] | None = None
) -> dict[str, Any]:
    """An `Order Placed` of ``lines`` lines, each of ``quantity`` units, paid with the sandbox;
    ``id_of`` names line ``number`` (item id and sku), ``line-<number>`` by default."""
    items = [
        {
            "item_id": id_of(number) if id_of else f"line-{number}",
            "sku": id_of(number) if id_of else f"SKU-{number:05d}",
            "quantity": quantity,
            "unit_amount": 1999,
            "discount_amount": 100,
            "tax_amount": 420,
        }
        for number in range(1, lines + 1)
    ]
    total = sum(quantity * 1999 - 100 + 420 for _ in items) + 495
    return {
        "detail-type": "Order Placed",
        "source": "orders",
        "detail": {
            "merchant_id": "merchant-bench",
            "order_id": order_id,
            "currency": "EUR",
            "items": items,
            "shipping_amount": 495,
            "payment": {
                "provider": "sandbox",
                "reference": f"auth_{order_id}",
                "authorized_amount": total,
                "expires_at": "2099-12-31T23:59:59Z",
            },
        },
    }


def order_shipped(
    order_id: str, shipment_id: str, items: list[tuple[str, int]] | None
) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "merchant_id": "merchant-bench",
        "order_id": order_id,
        "shipment_id": shipment_id,
    }
    if items is not None:
        detail["items"] = [{"item_id": item, "quantity": qty} for item, qty in items]
    return {"detail-type": "Order Shipped", "source": "orders", "detail": detail}


def api_capture_input(order_id: str, shipment_id: str) -> dict[str, Any]:
    """What an API capture hands the workflow (Validate's ``capture_request`` input)."""
    return {
        "capture_request": {
            "merchant_id": "merchant-bench",
            "order_id": order_id,
            "shipment_id": shipment_id,
            "items": [{"item_id": "line-1", "quantity": 1}],
            "trigger": "api",
        }
    }


# --- scenarios ---------------------------------------------------------------------------------


#: The path whose capture the provider confirms later (Adyen): its row counts the confirmation
#: workflow's first step besides the capture workflow.
ASYNC_PATH = "provider confirms later (capture workflow; the wait is the confirmation workflow's)"


@dataclass
class PathResult:
    name: str
    run: Run


def measure_paths(bench: Bench) -> list[PathResult]:
    """One execution of each path through the state machine."""
    sandbox = bench.sandbox
    assert sandbox is not None
    results: list[PathResult] = []

    def path(name: str, run: Run) -> None:
        results.append(PathResult(name, run))

    bench.register(load_event("order-placed"))
    path("capture (shipment)", bench.deliver(load_event("order-shipped-1")))
    path("duplicate (redelivered shipment)", bench.deliver(load_event("order-shipped-1")))
    bench.deliver(load_event("order-shipped-2"))
    nothing = order_shipped("order-1001", "shipment-3", None)
    nothing["detail"]["merchant_id"] = "merchant-1"
    path("nothing to capture", bench.deliver(nothing))
    path("invalid event", bench.deliver(load_event("order-shipped-invalid")))

    bench.register(order_placed("order-paths", lines=1, quantity=20))
    sandbox.add_fault("decline")
    path(
        "provider decline",
        bench.deliver(order_shipped("order-paths", "decline", [("line-1", 1)])),
    )
    sandbox.add_fault("unavailable", count=1)
    path(
        "provider unavailable, retried once",
        bench.deliver(order_shipped("order-paths", "retry", [("line-1", 1)])),
    )
    sandbox.add_fault("unavailable", count=10)
    path(
        "provider unavailable, retries exhausted",
        bench.deliver(order_shipped("order-paths", "unavailable", [("line-1", 1)])),
    )
    sandbox.state.faults.clear()
    sandbox.add_fault("async")
    asynchronous = order_shipped("order-paths", "async", [("line-1", 1)])
    path(ASYNC_PATH, deliver_to_confirmation(bench, asynchronous))
    path(
        "API-shaped capture (workflow only)",
        bench.start_directly(api_capture_input("order-paths", "api-1")),
    )
    return results


def deliver_to_confirmation(
    bench: Bench, event: dict[str, Any], timeout_seconds: float = 30
) -> Run:
    """Deliver a shipment whose capture the provider confirms later, and count the
    confirmation workflow Record hands it to up to its wait. That workflow runs on Step
    Functions' own thread once the capture workflow has ended: the window closes only when its
    AwaitConfirmationFunction has returned (``TaskSubmitted``: the task token noted) and the
    workflow has ended, so every run counts the same and nothing of it runs in a later
    window. No webhook is configured here: the bench fails the task with ``BenchEnded``, which
    no state catches (no state of the workflow runs after it; what a confirmation adds,
    ``cost.CONFIRMATION_STATES``, is priced apart). Bounded: ``timeout_seconds`` a wait."""
    runtime = bench.runtime

    def start() -> ExecutionReport:
        (delivery,) = runtime.put_events([event])
        (execution,) = delivery.executions
        if not handed_to_confirmation(execution.output):
            raise RuntimeError(f"not handed to the confirmation workflow: {execution.output}")
        arn = runtime.execution_arn(CONFIRMATION_MACHINE, execution.output["capture_id"])
        history = wait_for_history_event(arn, "TaskSubmitted", timeout_seconds)
        ended = end_waiting_task(arn, history, "BenchEnded", timeout_seconds)
        if ended.status != "FAILED" or ended.error != "BenchEnded":
            raise RuntimeError(f"the confirmation workflow ended {ended.status} {ended.error}")
        return execution

    return bench.measure(start)


def measure_api(bench: Bench) -> list[ApiRun]:
    """``POST /orders/{order_id}/captures`` through ApiFunction as API Gateway invokes it
    (``LocalApi``), by items and by amount, and the items request replayed with its
    Idempotency-Key."""
    from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415
        DynamoDBPersistenceLayer,
    )

    from order_capture.api.app import (  # noqa: PLC0415
        default_dependencies,
        install_workflow_starter,
    )

    api = LocalApi(bench.runtime)
    starter = RecordingWorkflowStarter(bench)
    install_workflow_starter(starter)
    try:
        store = default_dependencies().idempotency_store
        # Powertools builds its DynamoDB client from a session of its own, which carries
        # neither the runtime's request counter nor the recorder: hook them onto it.
        if isinstance(store, DynamoDBPersistenceLayer):
            bench.watch(store.client)
        bench.register(order_placed("order-api", lines=2, quantity=2))
        api_key = api.create_api_key("merchant-bench")

        def post(label: str, key: str, body: dict[str, Any]) -> ApiRun:
            headers = {
                "Authorization": f"Bearer {api_key}",
                "Content-Type": "application/json",
                "Idempotency-Key": key,
            }
            starter.executions.clear()
            response, recording = bench.record(
                lambda: api.request("POST", "/orders/order-api/captures", headers, json.dumps(body))
            )
            if response.status != 200:
                raise RuntimeError(f"{label}: HTTP {response.status} {response.body[:300]!r}")
            return bench.api_run(label, response, recording, starter)

        items = {
            "items": [{"item_id": "line-1", "quantity": 1}, {"item_id": "line-2", "quantity": 1}]
        }
        return [
            post("API capture by items", "bench-api-items", items),
            post("replay (same Idempotency-Key and body)", "bench-api-items", items),
            post("API capture by amount", "bench-api-amount", {"amount": 1000}),
        ]
    finally:
        api.close()


@dataclass
class ScaleResult:
    label: str
    runs: list[Run]

    @property
    def first(self) -> Run:
        return self.runs[0]

    @property
    def median_seconds(self) -> float:
        return statistics.median(run.seconds for run in self.runs)


def measure_lines(bench: Bench, sizes: tuple[int, ...], shipments: int) -> list[ScaleResult]:
    """Orders of growing line counts; each shipment ships one unit of every line."""
    results = []
    for lines in sizes:
        order_id = f"order-lines-{lines}"
        bench.register(order_placed(order_id, lines=lines, quantity=shipments))
        items = [(f"line-{number}", 1) for number in range(1, lines + 1)]
        runs = [
            bench.deliver(order_shipped(order_id, f"shipment-{number}", items))
            for number in range(1, shipments + 1)
        ]
        results.append(ScaleResult(f"{lines:,} line{'' if lines == 1 else 's'}", runs))
    return results


#: Issue 15: 1,000-line orders capture whatever their ids (64 characters, UUIDs).
LONG_IDS: dict[str, Callable[[int], str]] = {
    "1,000 lines, 64-character ids and skus": lambda n: f"item-{n:05d}-".ljust(64, "x"),
    "1,000 lines, UUIDs": lambda n: str(uuid.UUID(int=n)),
}


def measure_long_ids(bench: Bench) -> list[ScaleResult]:
    """1,000-line orders with long item ids and skus, each shipped whole once."""
    results = []
    for number, (label, id_of) in enumerate(LONG_IDS.items()):
        order_id = f"order-long-ids-{number}"
        bench.register(order_placed(order_id, lines=1000, quantity=1, id_of=id_of))
        run = bench.deliver(order_shipped(order_id, "shipment-1", None))
        results.append(ScaleResult(label, [run]))
    return results


def measure_history(bench: Bench, earlier: tuple[int, ...], shipments: int) -> list[ScaleResult]:
    """One order with 0, 10, 100 earlier captures, then ``shipments`` measured ones."""
    results = []
    for count in earlier:
        order_id = f"order-history-{count}"
        bench.register(order_placed(order_id, lines=1, quantity=count + shipments + 1))
        for number in range(count):
            bench.capture_directly(order_shipped(order_id, f"earlier-{number}", [("line-1", 1)]))
        runs = [
            bench.deliver(order_shipped(order_id, f"shipment-{number}", [("line-1", 1)]))
            for number in range(1, shipments + 1)
        ]
        results.append(ScaleResult(f"{count} earlier captures", runs))
    return results


# --- warm invokes --------------------------------------------------------------------------------


@dataclass
class WarmResult:
    baseline_seconds: float
    handlers: dict[str, float]


def measure_warm(bench: Bench, rounds: int) -> WarmResult:
    """Median warm in-process invocation per handler against a bare moto GetItem."""
    import boto3  # noqa: PLC0415

    client = boto3.client("dynamodb", region_name=LOCAL_REGION)
    key = {"PK": {"S": "ORDER#merchant-1#order-1001"}, "SK": {"S": "ORDER"}}
    get_item_times = []
    for _ in range(rounds + 3):
        started = time.perf_counter()
        client.get_item(TableName=bench.ledger_table, Key=key, ConsistentRead=True)
        get_item_times.append(time.perf_counter() - started)

    samples: dict[str, list[float]] = {}
    bench.register(order_placed("order-warm", lines=2, quantity=rounds + 3))
    for number in range(rounds + 3):
        shipped = order_shipped("order-warm", f"warm-{number}", [("line-1", 1), ("line-2", 1)])
        for function_id, seconds in bench.capture_directly(shipped).items():
            samples.setdefault(function_id, []).append(seconds)
        for function_id, payload in _other_handler_events(number):
            started = time.perf_counter()
            bench.runtime.invoke(function_id, payload)  # a recorded failure is the result
            samples.setdefault(function_id, []).append(time.perf_counter() - started)
    return WarmResult(
        baseline_seconds=statistics.median(get_item_times[3:]),
        # The first rounds warm caches (imports, clients, pydantic validators): not counted.
        handlers={name: statistics.median(times[3:]) for name, times in samples.items()},
    )


def _other_handler_events(number: int) -> list[tuple[str, Any]]:
    invalid = load_event("order-shipped-invalid")
    error = {"Error": "InvalidEventError", "Cause": json.dumps({"errorMessage": "bench"})}
    return [
        (
            "OrderEventsFunction",
            normalize_event(order_placed(f"order-warm-placed-{number}", lines=2, quantity=1)),
        ),
        (
            "RecordFailureFunction",
            {"state": {**invalid, "error": error}, "execution_id": f"bench-failure-{number}"},
        ),
    ]
