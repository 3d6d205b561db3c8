"""``make bench``: what one capture costs, written to ``BENCHMARKS.md``.

Deterministic counts are the headline: AWS requests per capture (by service and operation,
counted with botocore hooks while the real state machine runs on the embedded AWS), state
transitions per execution, DynamoDB item and state payload sizes, request units and the cost
per million captures computed from them. Timings are machine-dependent, so they are only
reported as ratios to baselines measured in the same run:

* cold start: importing a handler in a fresh interpreter (Lambda's Init phase) against
  ``import boto3`` plus creating one DynamoDB client;
* warm invoke: a warm in-process invocation against a bare moto ``GetItem``;
* per-capture time at scale against the smallest case.

Bounded: fixed scenario sizes, one shared runtime, retry sleeps of at most a few seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from order_capture_local.api_server import LocalApi, LocalWorkflowStarter
from order_capture_local.runtime import (
    PROJECT_ROOT,
    ExecutionReport,
    LocalRuntime,
    normalize_event,
)
from order_capture_local.template import LOCAL_REGION

EVENTS = PROJECT_ROOT / "events"
APP_ROOT = PROJECT_ROOT / "functions" / "app"
SAM = PROJECT_ROOT / ".tools" / "sam" / "bin" / "sam"
BUILD_DIR = PROJECT_ROOT / ".aws-sam" / "build"

# --- targets (issue 6) -------------------------------------------------------------------------

MAX_DYNAMODB_REQUESTS = 4
MAX_PROVIDER_CALLS = 1
MAX_PUT_EVENTS = 1
MAX_COLD_START_RATIO = 1.5
DYNAMODB_ITEM_LIMIT = 400 * 1024
STATE_PAYLOAD_LIMIT = 256 * 1024
#: Powertools Idempotency's partition key in the shared table: ``idempotency#<function name>``.
IDEMPOTENCY_PK_PREFIX = "idempotency#"
#: API keys in the shared table (adapters/api_keys.py): read once per API request.
API_KEY_PK_PREFIX = "APIKEY#"


# --- prices ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prices:
    """AWS list prices, us-east-1, as published in 2025 (no free tier, no savings plans)."""

    standard_per_transition: float = 0.025 / 1_000
    express_per_request: float = 1.00 / 1_000_000
    #: Express duration, first tier; billed in 64 MB and 100 ms increments.
    express_per_gb_second: float = 0.00001667
    express_billed_memory_gb: float = 64 / 1024
    lambda_per_request: float = 0.20 / 1_000_000
    #: arm64, first tier (the template's Architectures).
    lambda_per_gb_second: float = 0.0000133334
    #: DynamoDB on-demand after the November 2024 price reduction.
    dynamodb_per_wru: float = 0.625 / 1_000_000
    dynamodb_per_rru: float = 0.125 / 1_000_000
    #: Custom events; each 64 KB chunk of an entry is billed as one event.
    put_events_per_event: float = 1.00 / 1_000_000


PRICES = Prices()

# What the counts cannot tell: how long each Lambda runs on AWS. Assumed (stated in the
# report): a DynamoDB round trip is ~10 ms in-region, the provider's capture ~300 ms.
ASSUMED_LAMBDA_MS = {
    "ValidateFunction": 30,
    "ComputeAmountFunction": 10,
    "CaptureFunction": 350,
    "RecordFunction": 30,
    "RecordFailureFunction": 40,
}
ASSUMED_DEFAULT_LAMBDA_MS = 50
ASSUMED_EXPRESS_SECONDS = 1.0


# --- DynamoDB item size -------------------------------------------------------------------------


def dynamodb_value_size(value: Any) -> int:
    """Bytes of one attribute value, by DynamoDB's documented item-size rules."""
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int):
        digits = str(abs(value)).strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, dict):
        # Maps: 3 bytes, plus per element its name, its value and 1 byte.
        return 3 + sum(len(k.encode()) + dynamodb_value_size(v) + 1 for k, v in value.items())
    if isinstance(value, list):
        return 3 + sum(dynamodb_value_size(v) + 1 for v in value)
    raise TypeError(f"no DynamoDB size rule for {type(value).__name__}")


def dynamodb_item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + dynamodb_value_size(value) for name, value in item.items())


def ledger_sizes(runtime: LocalRuntime) -> dict[tuple[str, str], int]:
    return {(item["PK"], item["SK"]): dynamodb_item_size(item) for item in runtime.ledger()}


def indexed_keys(runtime: LocalRuntime) -> set[tuple[str, str]]:
    """Items that appear in one of the table's global secondary indexes (sparse indexes:
    only items carrying the index's partition key attribute)."""
    (table,) = runtime.template.tables.values()
    index_attributes = [
        index["KeySchema"][0]["AttributeName"]
        for index in table.properties.get("GlobalSecondaryIndexes", [])
    ]
    return {
        (item["PK"], item["SK"])
        for item in runtime.ledger()
        if any(attribute in item for attribute in index_attributes)
    }


# --- request recording ------------------------------------------------------------------------


@dataclass
class DynamoDBCall:
    operation: str
    table: str
    #: (kind, PK, SK) for every item the request reads or writes.
    items: list[tuple[str, str, str]]


def _key_of(item: dict[str, Any]) -> tuple[str, str]:
    return str(item["PK"]["S"]), str(item["SK"]["S"])


def _touched(operation: str, params: dict[str, Any]) -> tuple[str, list[tuple[str, str, str]]]:
    """The table and the items one DynamoDB request reads ("read") or writes ("write",
    "txwrite")."""
    if operation == "TransactWriteItems":
        table, items = "", []
        for entry in params.get("TransactItems", []):
            (action, body), *_ = entry.items()
            table = body["TableName"]
            key = body["Item"] if action == "Put" else body["Key"]
            items.append(("txwrite", *_key_of(key)))
        return table, items
    if operation == "BatchGetItem":
        table, request = next(iter(params["RequestItems"].items()))
        return table, [("read", *_key_of(key)) for key in request["Keys"]]
    table = str(params.get("TableName", ""))
    if operation in {"GetItem", "Query"}:
        key = params.get("Key")
        return table, [("read", *_key_of(key))] if key else [("read", "?", "?")]
    key = params.get("Item") or params.get("Key")
    return table, [("write", *_key_of(key))] if key else []


class DynamoDBRecorder:
    """Every DynamoDB request's table and items, while ``active`` (botocore hook)."""

    def __init__(self) -> None:
        self.active = False
        self.calls: list[DynamoDBCall] = []

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.active:
            table, items = _touched(model.name, params)
            self.calls.append(DynamoDBCall(model.name, table, items))


@dataclass(frozen=True)
class Capacity:
    rru: float = 0
    wru: float = 0


def capacity_of(
    calls: Iterable[DynamoDBCall],
    before: dict[tuple[str, str], int],
    after: dict[tuple[str, str], int],
    indexed: Collection[tuple[str, str]] = (),
) -> Capacity:
    """On-demand request units: strongly consistent reads 1 RRU per 4 KB (1 for a missing
    item), writes 1 WRU per KB of the larger of the old and new item, transactional writes
    twice that, plus 1 WRU for the (keys-only) index entry of an item in a sparse GSI."""
    rru = wru = 0.0
    for call in calls:
        for kind, pk, sk in call.items:
            old, new = before.get((pk, sk), 0), after.get((pk, sk), 0)
            if kind == "read":
                rru += max(1, math.ceil((old or new) / 4096))
            else:
                units = max(1, math.ceil(max(old, new) / 1024))
                wru += 2 * units if kind == "txwrite" else units
                wru += 1 if (pk, sk) in indexed else 0
    return Capacity(rru, wru)


# --- one measured execution ---------------------------------------------------------------------


@dataclass
class Run:
    report: ExecutionReport
    requests: Counter[str]
    ledger_requests: int
    other_table_requests: int
    provider_captures: int
    seconds: float
    transitions: int
    retries: int
    largest_payload: int
    capacity: Capacity
    largest_item: int
    put_event_chunks: int
    #: API key lookups (API requests only): counted apart from the ledger's capture requests.
    api_key_requests: int = 0

    @property
    def dynamodb_requests(self) -> int:
        return self.ledger_requests


def transitions_of(history: list[dict[str, Any]]) -> tuple[int, int]:
    """(state transitions, retries): AWS bills every state entered and every retry."""
    entered = sum(1 for event in history if event["type"].endswith("StateEntered"))
    task_entries = sum(1 for event in history if event["type"] == "TaskStateEntered")
    scheduled = sum(
        1 for event in history if event["type"] in {"LambdaFunctionScheduled", "TaskScheduled"}
    )
    retries = max(0, scheduled - task_entries)
    return entered + retries, retries


def largest_payload_of(history: list[dict[str, Any]]) -> int:
    """The largest input, output or parameters of any history event, in bytes."""
    largest = 0
    for event in history:
        for key, details in event.items():
            if not key.endswith("EventDetails") or not isinstance(details, dict):
                continue
            for name in ("input", "output", "parameters"):
                text = details.get(name)
                if isinstance(text, str):
                    largest = max(largest, len(text.encode()))
    return largest


@dataclass
class Recording:
    """What one measured action did: AWS requests (the runtime's counts, ``SFN.*``
    included), DynamoDB requests with their items, item sizes around it."""

    requests: Counter[str]
    calls: list[DynamoDBCall]
    before: dict[tuple[str, str], int]
    after: dict[tuple[str, str], int]
    indexed: set[tuple[str, str]]
    provider_captures: int
    emitted: list[dict[str, Any]]
    seconds: float


class Bench:
    """One local runtime, shared by every scenario, with a DynamoDB recorder on it."""

    def __init__(self, runtime: LocalRuntime) -> None:
        import boto3  # noqa: PLC0415

        from order_capture.handlers._wiring import default_repository  # noqa: PLC0415

        self.runtime = runtime
        self.recorder = DynamoDBRecorder()
        session = boto3.DEFAULT_SESSION
        assert session is not None
        session.events.register("before-parameter-build.dynamodb", self.recorder)
        # Clients copy the session's hooks when created: the handlers' cached repository must
        # be built after the recorder is registered.
        default_repository.cache_clear()
        self.ledger_table = next(iter(runtime.template.tables.values())).name
        self.sandbox = runtime.sandbox
        assert self.sandbox is not None

    def record[T](self, action: Callable[[], T]) -> tuple[T, Recording]:
        """Run ``action`` with every AWS request and DynamoDB item it touches recorded."""
        runtime = self.runtime
        before = ledger_sizes(runtime)
        indexed_before = indexed_keys(runtime)
        assert self.sandbox is not None
        captures_before = len(self.sandbox.state.captures)
        emitted_before = len(runtime.emitted_events)
        runtime.request_counts.clear()
        self.recorder.calls.clear()
        self.recorder.active = True
        started = time.perf_counter()
        try:
            result = action()
        finally:
            seconds = time.perf_counter() - started
            self.recorder.active = False
        recording = Recording(
            requests=Counter(runtime.request_counts),
            calls=list(self.recorder.calls),
            before=before,
            after=ledger_sizes(runtime),
            indexed=indexed_before | indexed_keys(runtime),
            provider_captures=len(self.sandbox.state.captures) - captures_before,
            emitted=runtime.emitted_events[emitted_before:],
            seconds=seconds,
        )
        return result, recording

    def measure(self, start: Callable[[], ExecutionReport]) -> Run:
        report, recording = self.record(start)
        return self.run_of(report, recording)

    def run_of(self, report: ExecutionReport, recording: Recording) -> Run:
        """One execution's figures; the requests are the recording's, without the runtime's
        own Step Functions calls (``SFN.*``: starting and polling executions)."""
        calls, before, after = recording.calls, recording.before, recording.after
        history = self.runtime.history(report.arn)
        transitions, retries = transitions_of(history)
        return Run(
            report=report,
            requests=Counter(
                {k: v for k, v in recording.requests.items() if not k.startswith("SFN.")}
            ),
            ledger_requests=sum(1 for call in calls if self.kind_of(call) == "ledger"),
            other_table_requests=sum(1 for call in calls if self.kind_of(call) == "idempotency"),
            api_key_requests=sum(1 for call in calls if self.kind_of(call) == "api key"),
            provider_captures=recording.provider_captures,
            seconds=recording.seconds,
            transitions=transitions,
            retries=retries,
            largest_payload=largest_payload_of(history),
            capacity=capacity_of(calls, before, after, recording.indexed),
            largest_item=max(
                (
                    max(before.get((pk, sk), 0), after.get((pk, sk), 0))
                    for call in calls
                    for _, pk, sk in call.items
                ),
                default=0,
            ),
            put_event_chunks=sum(
                math.ceil(len(json.dumps(event["detail"]).encode()) / 65536)
                for event in recording.emitted
            ),
        )

    def kind_of(self, call: DynamoDBCall) -> str:
        """``idempotency``: Powertools Idempotency records (``PK`` ``idempotency#<function>``)
        or another table's items; ``api key``: an API key lookup; ``ledger``: orders and
        captures, the requests the capture budget counts."""
        if call.table != self.ledger_table or any(
            pk.startswith(IDEMPOTENCY_PK_PREFIX) for _, pk, _ in call.items
        ):
            return "idempotency"
        if call.items and all(pk.startswith(API_KEY_PK_PREFIX) for _, pk, _ in call.items):
            return "api key"
        return "ledger"

    def is_idempotency(self, call: DynamoDBCall) -> bool:
        return self.kind_of(call) == "idempotency"

    def watch(self, client: Any) -> None:
        """Count and record the requests of a client built from another boto3 session."""
        client.meta.events.register("before-call", self._count)
        client.meta.events.register("before-parameter-build.dynamodb", self.recorder)

    def _count(self, model: Any, **_: Any) -> None:
        self.runtime.request_counts[f"{model.service_model.service_id}.{model.name}"] += 1

    def api_run(
        self,
        label: str,
        response: Any,
        recording: Recording,
        starter: RecordingWorkflowStarter,
    ) -> ApiRun:
        calls = recording.calls
        requests = Counter(
            {k: v for k, v in recording.requests.items() if not k.startswith("SFN.")}
        )
        if starter.executions:
            requests["SFN.StartSyncExecution"] = len(starter.executions)
        if len(starter.executions) > 1:
            raise RuntimeError(f"{label}: {len(starter.executions)} executions for one request")
        execution = self.run_of(starter.executions[0][0], recording) if starter.executions else None
        return ApiRun(
            label=label,
            status_code=response.status,
            replayed=response.header("Idempotent-Replayed") == "true",
            requests=requests,
            ledger_requests=sum(1 for call in calls if self.kind_of(call) == "ledger"),
            workflow_ledger_requests=sum(count for _, count in starter.executions),
            api_key_requests=sum(1 for call in calls if self.kind_of(call) == "api key"),
            idempotency_requests=Counter(
                call.operation for call in calls if self.kind_of(call) == "idempotency"
            ),
            provider_captures=recording.provider_captures,
            capacity=capacity_of(calls, recording.before, recording.after, recording.indexed),
            execution=execution,
        )

    def deliver(self, event: dict[str, Any]) -> Run:
        def start() -> ExecutionReport:
            (delivery,) = self.runtime.put_events([event])
            (execution,) = delivery.executions
            return execution

        return self.measure(start)

    def start_directly(self, execution_input: dict[str, Any]) -> Run:
        machine_id = next(iter(self.runtime.state_machine_arns))

        def start() -> ExecutionReport:
            arn = self.runtime.start_execution(machine_id, execution_input)
            return self.runtime.wait_for(arn)

        return self.measure(start)

    def register(self, event: dict[str, Any]) -> None:
        (delivery,) = self.runtime.put_events([event])
        failed = [i for i in delivery.invocations if i.failed]
        if failed or not delivery.invocations:
            raise RuntimeError(f"registering {event['detail']['order_id']} failed: {failed}")

    def invoke(self, function_id: str, payload: Any) -> Any:
        invocation = self.runtime.invoke(function_id, payload)
        if invocation.failed:
            raise RuntimeError(f"{function_id} failed: {invocation.payload}")
        return invocation.payload

    def capture_directly(self, shipped: dict[str, Any]) -> dict[str, float]:
        """The four steps of a capture as the state machine chains them, invoked directly
        (no Step Functions polling): seeds earlier captures fast and times each handler."""
        timings: dict[str, float] = {}

        def timed(function_id: str, payload: Any) -> Any:
            started = time.perf_counter()
            result = self.invoke(function_id, payload)
            timings[function_id] = time.perf_counter() - started
            return result

        validated = timed("ValidateFunction", normalize_event(shipped))
        planned = timed("ComputeAmountFunction", validated)
        if planned["plan"]["nothing_to_capture"]:
            raise RuntimeError(f"nothing to capture for {shipped['detail']}")
        capture_input = {"planned": planned, "execution_id": "bench-seed"}
        capture = timed("CaptureFunction", capture_input)
        timed("RecordFunction", {"capture": capture})
        return timings


# --- events --------------------------------------------------------------------------------------


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def order_placed(order_id: str, lines: int, quantity: int) -> dict[str, Any]:
    """An `Order Placed` of ``lines`` lines, each of ``quantity`` units, paid with the sandbox."""
    items = [
        {
            "item_id": f"line-{number}",
            "sku": f"SKU-{number:05d}",
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
    # No webhook is configured here: the confirmation workflow it starts keeps waiting.
    sandbox.add_fault("async")
    path(
        "provider confirms later (capture workflow; the wait is the confirmation workflow's)",
        bench.deliver(order_shipped("order-paths", "async", [("line-1", 1)])),
    )
    path(
        "API-shaped capture (workflow only)",
        bench.start_directly(api_capture_input("order-paths", "api-1")),
    )
    return results


# --- API captures ------------------------------------------------------------------------------


class RecordingWorkflowStarter(LocalWorkflowStarter):
    """The local runtime's StartSyncExecution (``api_server``), remembering each execution
    and how many of the recorded DynamoDB requests were made inside it."""

    def __init__(self, bench: Bench) -> None:
        super().__init__(bench.runtime)
        self.recorder = bench.recorder
        #: (execution, DynamoDB requests made while it ran)
        self.executions: list[tuple[ExecutionReport, int]] = []

    def execute(self, execution_input: dict[str, Any], name: str) -> ExecutionReport:
        first = len(self.recorder.calls)
        report = super().execute(execution_input, name)
        self.executions.append((report, len(self.recorder.calls) - first))
        return report


@dataclass
class ApiRun:
    """One HTTP request to ApiFunction, end to end: the API function's own requests (API key,
    idempotency record, reads around the workflow) and the Express execution's."""

    label: str
    status_code: int
    replayed: bool
    #: By service and operation; the runtime's StartExecution and polling replaced by the one
    #: ``SFN.StartSyncExecution`` ApiFunction makes on AWS.
    requests: Counter[str]
    ledger_requests: int
    #: Of ``ledger_requests``, those made by the state machine's steps.
    workflow_ledger_requests: int
    api_key_requests: int
    #: Powertools Idempotency's requests on its records, by operation.
    idempotency_requests: Counter[str]
    provider_captures: int
    capacity: Capacity
    #: The Express execution, when one ran (its requests are the whole HTTP request's).
    execution: Run | None

    @property
    def api_ledger_requests(self) -> int:
        return self.ledger_requests - self.workflow_ledger_requests

    @property
    def transitions(self) -> int:
        return self.execution.transitions if self.execution is not None else 0


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


# --- cold starts ---------------------------------------------------------------------------------

_COLD_START_PROBE = """
import importlib, json, sys, time
started = time.perf_counter()
module_name, attribute = sys.argv[1], sys.argv[2]
if module_name == "boto3":
    import boto3
    boto3.client("dynamodb")
    print(json.dumps([time.perf_counter() - started] * 2))
    raise SystemExit
getattr(importlib.import_module(module_name), attribute)
initialized = time.perf_counter() - started
import order_capture.observability as observability
getattr(observability, "tracer")
if "ledger" in sys.argv[3:]:
    from order_capture.handlers._wiring import default_repository
    default_repository().client
if "provider" in sys.argv[3:]:
    import httpx
    httpx.Client(base_url="http://127.0.0.1:9")
print(json.dumps([initialized, time.perf_counter() - started]))
"""

# What the measurements showed (python -X importtime), kept next to the table they explain.
COLD_START_NOTES = [
    "",
    "- The step handlers' Init was 1.5-1.7x the baseline before this benchmark: `Tracer()` in "
    "`observability.py` ran at import and imports the X-Ray SDK, which imports botocore's "
    "session and client machinery (~0.46 s of ~0.8 s, more than boto3 plus a client). The "
    "Tracer is now built by the first invocation (`observability.get_tracer`, "
    "`_wiring.lambda_entry`); what remains at Init is Powertools Logger/Metrics, pydantic "
    "and the models.",
    "- *Ready* shows that with tracing on, the X-Ray SDK still costs ~0.9-1.3x the baseline "
    "at the first invocation: ComputeAmount (no AWS client) is at ~1.5-1.7x for the SDK alone. "
    "Lambda's active tracing records each invocation without the SDK, so a function that "
    "calls nothing (ComputeAmount) could skip the Powertools Tracer; not changed here because "
    "it changes the traces.",
    "- ApiFunction (the HTTP API, not a step handler): `order_capture.api.idempotency` "
    "imports `aws_lambda_powertools.utilities.idempotency`, whose package imports its "
    "DynamoDB persistence layer at module level, which imports boto3 "
    "(~0.4 s), and Powertools' OpenAPI models (~0.3 s).",
]

# Which collaborators a handler builds on its first invocation (see template Policies).
_NO_AWS_CLIENT = frozenset({"ComputeAmountFunction"})
_CALLS_PROVIDER = frozenset({"CaptureFunction"})


@dataclass
class ColdResult:
    runs: int
    baseline_seconds: float
    #: function -> (median import-and-init, median import plus first-invoke setup)
    handlers: dict[str, tuple[float, float]]
    #: the functions the state machine invokes (the 1.5x target applies to them)
    steps: frozenset[str] = frozenset()


def _lambda_environment(runtime: LocalRuntime, function_id: str) -> dict[str, str]:
    function = runtime.template.functions[function_id]
    environment = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "SYSTEMROOT"}
    }
    environment.update(function.environment)
    environment.update(
        {
            "PYTHONPATH": str(APP_ROOT),
            "AWS_REGION": LOCAL_REGION,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return environment


def _probe(args: list[str], environment: dict[str, str]) -> tuple[float, float]:
    completed = subprocess.run(
        [sys.executable, "-c", _COLD_START_PROBE, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    initialized, ready = json.loads(completed.stdout.strip().splitlines()[-1])
    return float(initialized), float(ready)


def measure_cold_starts(runtime: LocalRuntime, runs: int) -> ColdResult:
    """Fresh interpreters with each function's Lambda environment (tracing on, as deployed),
    rounds interleaved so that machine noise hits every subject alike."""
    subjects: dict[str, list[str]] = {}
    for function_id, function in runtime.template.functions.items():
        module_name, _, attribute = function.handler.rpartition(".")
        needs = [] if function_id in _NO_AWS_CLIENT else ["ledger"]
        if function_id in _CALLS_PROVIDER:
            needs.append("provider")
        subjects[function_id] = [module_name, attribute, *needs]
    any_function = next(iter(runtime.template.functions))
    baseline: list[float] = []
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in subjects}
    for _ in range(runs):
        baseline.append(_probe(["boto3", "client"], _lambda_environment(runtime, any_function))[0])
        for function_id, args in subjects.items():
            environment = _lambda_environment(runtime, function_id)
            samples[function_id].append(_probe(args, environment))
    substituted = {
        value
        for machine in runtime.template.state_machines.values()
        for value in machine.substitutions.values()
    }
    return ColdResult(
        steps=frozenset(
            function_id
            for function_id, function in runtime.template.functions.items()
            if function.arn in substituted
        ),
        runs=runs,
        baseline_seconds=statistics.median(baseline),
        handlers={
            name: (
                statistics.median(init for init, _ in values),
                statistics.median(ready for _, ready in values),
            )
            for name, values in samples.items()
        },
    )


# --- package -----------------------------------------------------------------------------------

_SDK_DIRECTORIES = ("boto3", "botocore", "s3transfer")


@dataclass
class PackageResult:
    note: str
    #: function -> bytes unzipped
    sizes: dict[str, int] = field(default_factory=dict)
    zipped: int = 0
    #: top-level directory -> bytes, for the first function
    breakdown: list[tuple[str, int]] = field(default_factory=list)


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(child.stat().st_size for child in path.rglob("*") if child.is_file())


def _run_sam_build() -> str:
    python313 = shutil.which("python3.13") or next(
        (str(p) for p in Path("/root/.pyenv/versions").glob("3.13*/bin/python3.13")), None
    )
    path = os.environ.get("PATH", "")
    if python313:
        path = f"{Path(python313).parent}{os.pathsep}{path}"
    completed = subprocess.run(
        [str(SAM), "build", "--parallel", "--cached"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PATH": path, "SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode != 0:
        return f"`sam build` failed: {completed.stderr.strip().splitlines()[-1:]}"
    return "`sam build --parallel --cached` in this run"


def measure_package(runtime: LocalRuntime, build: bool) -> PackageResult:
    if build and SAM.exists():
        note = _run_sam_build()
    elif BUILD_DIR.exists():
        note = "existing `.aws-sam/build` (not rebuilt in this run)"
    else:
        return PackageResult("not measured: no SAM CLI and no `.aws-sam/build` (`make build`)")
    result = PackageResult(note)
    for function_id in runtime.template.functions:
        artifact = BUILD_DIR / function_id
        if artifact.is_dir():
            result.sizes[function_id] = _tree_size(artifact)
    if not result.sizes:
        result.note += "; no function artifacts found"
        return result
    first = BUILD_DIR / next(iter(result.sizes))
    with tempfile.TemporaryDirectory() as scratch:
        archive = shutil.make_archive(str(Path(scratch) / "artifact"), "zip", first)
        result.zipped = Path(archive).stat().st_size
    sizes: Counter[str] = Counter()
    for child in first.iterdir():
        name = child.name.split("-")[0] if child.name.endswith(".dist-info") else child.name
        sizes[name.removesuffix(".py")] += _tree_size(child)
    result.breakdown = sizes.most_common()
    return result


# --- cost ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    standard: float
    express: float
    lambda_requests: float
    lambda_duration: float
    dynamodb: float
    put_events: float

    @property
    def shared(self) -> float:
        return self.lambda_requests + self.lambda_duration + self.dynamodb + self.put_events

    @property
    def total_standard(self) -> float:
        return self.standard + self.shared

    @property
    def total_express(self) -> float:
        return self.express + self.shared


def cost_per_million(run: Run, invoked: list[str], prices: Prices = PRICES) -> Cost:
    """Cost of 1,000,000 executions like ``run``, from its counts and the assumptions."""
    million = 1_000_000
    lambda_gb_seconds = sum(
        ASSUMED_LAMBDA_MS.get(function_id, ASSUMED_DEFAULT_LAMBDA_MS) / 1000 * 0.5
        for function_id in invoked
    )  # 512 MB (template Globals) = 0.5 GB
    express_seconds = math.ceil(ASSUMED_EXPRESS_SECONDS * 10) / 10
    return Cost(
        standard=run.transitions * prices.standard_per_transition * million,
        express=(
            prices.express_per_request
            + express_seconds * prices.express_billed_memory_gb * prices.express_per_gb_second
        )
        * million,
        lambda_requests=run.requests["Lambda.Invoke"] * prices.lambda_per_request * million,
        lambda_duration=lambda_gb_seconds * prices.lambda_per_gb_second * million,
        dynamodb=(
            run.capacity.wru * prices.dynamodb_per_wru + run.capacity.rru * prices.dynamodb_per_rru
        )
        * million,
        put_events=run.put_event_chunks * prices.put_events_per_event * million,
    )


def invoked_functions(runtime: LocalRuntime, run: Run) -> list[str]:
    by_arn = {
        function.arn: function_id for function_id, function in runtime.template.functions.items()
    }
    functions = []
    for event in runtime.history(run.report.arn):
        details = event.get("lambdaFunctionScheduledEventDetails")
        if details:
            functions.append(by_arn.get(details["resource"], details["resource"]))
    return functions


# --- report --------------------------------------------------------------------------------------


@dataclass
class Results:
    paths: list[PathResult]
    api: list[ApiRun]
    lines: list[ScaleResult]
    history: list[ScaleResult]
    warm: WarmResult
    cold: ColdResult | None
    package: PackageResult
    costs: dict[str, Cost]
    seconds: float


def _fmt_requests(requests: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(requests.items()))


def _ok(passed: bool) -> str:
    return "met" if passed else "**missed**"


def _kib(size: int) -> str:
    return f"{size / 1024:,.1f} KB"


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:,.1f} MB"


def _budget_met(run: Run) -> bool:
    return (
        run.ledger_requests <= MAX_DYNAMODB_REQUESTS
        and run.provider_captures <= MAX_PROVIDER_CALLS
        and run.requests["EventBridge.PutEvents"] <= MAX_PUT_EVENTS
    )


def _count_row(label: str, run: Run) -> str:
    return (
        f"| {label} | {run.ledger_requests} | {run.other_table_requests} | "
        f"{run.provider_captures} | {run.requests['EventBridge.PutEvents']} | "
        f"{run.requests['Lambda.Invoke']} | {run.transitions} | {_fmt_requests(run.requests)} |"
    )


def _api_row(run: ApiRun) -> str:
    idempotency = sum(run.idempotency_requests.values())
    return (
        f"| {run.label} | {run.status_code}{' (replayed)' if run.replayed else ''} | "
        f"{run.ledger_requests} ({run.api_ledger_requests} + {run.workflow_ledger_requests}) | "
        f"{run.api_key_requests} | {idempotency} ({_fmt_requests(run.idempotency_requests)}) | "
        f"{run.provider_captures} | {run.requests['EventBridge.PutEvents']} | "
        f"{run.requests['SFN.StartSyncExecution']} | {run.transitions} | "
        f"{run.capacity.rru:g} / {run.capacity.wru:g} | {_fmt_requests(run.requests)} |"
    )


def render_api(results: Results) -> list[str]:
    if not results.api:
        return []
    capture, replay = results.api[0], results.api[1]
    return [
        "### API capture (`POST /orders/{order_id}/captures`)",
        "",
        "The HTTP request handed to ApiFunction as API Gateway would (`LocalApi`), with an "
        "`Idempotency-Key`; the Express state machine run by the local StartSyncExecution "
        "(StartExecution and polling, counted as the one `SFN.StartSyncExecution` ApiFunction "
        "makes on AWS). Ledger requests are shown as *ApiFunction's own + the workflow's*; API "
        "key lookups and Powertools Idempotency's records are counted apart. Not counted: the "
        "API Gateway request and the ApiFunction invocation itself.",
        "",
        "| Request | HTTP | DynamoDB (ledger) | API key reads | Idempotency records "
        "| Provider captures | PutEvents | Executions | State transitions | RRU / WRU "
        "| All requests |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *[_api_row(run) for run in results.api],
        "",
        f"- Budget (≤ {MAX_DYNAMODB_REQUESTS} DynamoDB requests, idempotency counted apart): "
        f"{_ok(capture.workflow_ledger_requests <= MAX_DYNAMODB_REQUESTS)} for the workflow "
        f"({capture.workflow_ledger_requests}, as a shipment capture); "
        f"{_ok(capture.ledger_requests <= MAX_DYNAMODB_REQUESTS)} for the whole API capture "
        f"({capture.ledger_requests} ledger + {capture.api_key_requests} API key). Measured "
        f"cause: ApiFunction reads the order and the capture before starting the workflow "
        "(`BatchGetItem`: precise errors, and nothing started when the capture cannot "
        "succeed) and reads the order again after it (`GetItem`) to answer with the "
        "remaining capture amount; the API key lookup is one more `GetItem`. Returning the "
        "order's totals in the workflow's output would save the second read; not changed here.",
        f"- A replay (same key and body) answers from the idempotency record: "
        f"{replay.api_key_requests} API key read and {sum(replay.idempotency_requests.values())} "
        f"idempotency request ({_fmt_requests(replay.idempotency_requests)}; the conditional "
        "put fails and returns the stored response), no ledger request, no execution, no "
        "provider call, no PutEvents.",
        "",
    ]


def render_requests(results: Results) -> list[str]:
    capture = results.paths[0].run
    api = next(p.run for p in results.paths if p.name.startswith("API"))
    return [
        "## AWS requests per capture",
        "",
        "Counted with botocore hooks on the embedded AWS while the real state machine ran; the "
        "runtime's own Step Functions polling (`SFN.*`) is excluded. `Lambda.Invoke` and "
        "`EventBridge.PutEvents` are the state machine's task calls.",
        "",
        "| Capture | DynamoDB (ledger) | DynamoDB (idempotency/other tables) | Provider captures "
        "| PutEvents | Lambda invokes | State transitions | All requests |",
        "|---|---|---|---|---|---|---|---|",
        _count_row("shipment (`Order Shipped`)", capture),
        _count_row("API-shaped (workflow only, Standard machine)", api),
        "",
        f"Budget (≤ {MAX_DYNAMODB_REQUESTS} DynamoDB requests, ≤ {MAX_PROVIDER_CALLS} provider "
        f"call, ≤ {MAX_PUT_EVENTS} PutEvents): {_ok(_budget_met(capture))} for a shipment "
        f"capture ({_fmt_requests(_dynamodb_of(capture.requests))}). Validate reads the "
        "order and the shipment's capture (`BatchGetItem`); Capture reads them again "
        "(`BatchGetItem`: the state no longer carries the order's lines) and reserves "
        "(`TransactWriteItems`: order version check + new pending capture + its "
        "`CAPTURE_REF` pointer); Record confirms "
        "(`TransactWriteItems`: capture pending→captured + order totals). The floor for a "
        "safe capture is three (one read, one conditional reserve, one confirm); the fourth, "
        "Capture's re-read, is what keeping the order out of the state costs (it lets a "
        "1,000-line order capture within Step Functions' 256 KB).",
        "",
        f"Request units for this capture: {capture.capacity.rru:g} RRU, "
        f"{capture.capacity.wru:g} WRU (transactional writes cost 2 WRU per KB per item).",
        "",
        *render_api(results),
    ]


def _dynamodb_of(requests: Counter[str]) -> Counter[str]:
    return Counter({k: v for k, v in requests.items() if k.startswith("DynamoDB.")})


def render_scaling(results: Results) -> list[str]:
    lines = [
        "## Scaling",
        "",
        "Each row: the first measured capture's counts; time is the median of the measured "
        "captures, as a ratio to the first row of its table (same run).",
        "",
    ]
    for title, rows in (("Order size", results.lines), ("Earlier captures", results.history)):
        base = rows[0].median_seconds
        lines += [
            f"| {title} | Status | DynamoDB requests | RRU | WRU | Provider | PutEvents "
            "| Transitions | Largest item | Largest state payload | Time / first row |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            run = row.first
            lines.append(
                f"| {row.label} | {_status(run)} | {run.ledger_requests} | "
                f"{run.capacity.rru:g} | "
                f"{run.capacity.wru:g} | {run.provider_captures} | "
                f"{run.requests['EventBridge.PutEvents']} | {run.transitions} | "
                f"{_kib(run.largest_item)} | {_kib(run.largest_payload)} | "
                f"{row.median_seconds / base:.2f}x |"
            )
        lines.append("")
    flat = len({_fmt_requests(row.first.requests) for row in results.history}) == 1
    all_runs = [run for row in results.lines + results.history for run in row.runs]
    largest_item = max(run.largest_item for run in all_runs)
    largest_payload = max(run.largest_payload for run in all_runs)
    too_large = [
        row.label for row in results.lines + results.history if _data_limit_exceeded(row.first)
    ]
    payload_note = (
        f" — executions for {', '.join(too_large)} **failed with `States.DataLimitExceeded`**: "
        "the state carries the whole order (every line, in Validate's `validated.order`) and "
        "every captured line (`plan.lines`, `capture.lines`, `result.lines`); the size shown "
        "is the largest payload Step Functions accepted before failing. An order's lines "
        "belong in DynamoDB, not in the state: pass keys and the order version between steps"
        if too_large
        else ""
    )
    lines += [
        f"- Requests flat as earlier captures grow: {_ok(flat)}.",
        f"- Largest DynamoDB item: {largest_item:,} bytes ({_kib(largest_item)}; limit 400 KB): "
        f"{_ok(largest_item < DYNAMODB_ITEM_LIMIT / 2)} (target: at most half the limit). The "
        "order item holds every line and capture items their shipped lines; neither grows "
        "with the number of captures.",
        f"- Largest state payload: {largest_payload:,} bytes ({_kib(largest_payload)}; Step "
        f"Functions limit 256 KB): {_ok(not too_large and largest_payload < STATE_PAYLOAD_LIMIT)}"
        f"{payload_note}.",
        "- Request units grow with the order's size: both the reserve and the confirm rewrite "
        "the whole order item in a transaction (2 WRU per KB).",
        "",
    ]
    return lines


def _data_limit_exceeded(run: Run) -> bool:
    return "DataLimitExceeded" in f"{run.report.error} {run.report.cause}"


def _status(run: Run) -> str:
    if run.report.status == "SUCCEEDED":
        return "SUCCEEDED"
    return f"**{run.report.status}** ({run.report.error})"


def render_paths(results: Results) -> list[str]:
    lines = [
        "## State transitions per execution",
        "",
        "From each execution's history: every state entered plus every retry (both billed by "
        "Standard workflows).",
        "",
        "| Path | Status | States entered | Retries | Transitions | Standard $ per 1M "
        "| DynamoDB requests | Provider captures |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in results.paths:
        run = path.run
        standard = run.transitions * PRICES.standard_per_transition * 1_000_000
        lines.append(
            f"| {path.name} | {run.report.status} | {' → '.join(run.report.states)} | "
            f"{run.retries} | {run.transitions} | ${standard:,.2f} | {run.ledger_requests} | "
            f"{run.provider_captures} |"
        )
    return [*lines, ""]


def render_cost(results: Results) -> list[str]:
    p = PRICES
    lines = [
        "## Cost per 1,000,000 captures",
        "",
        "AWS list prices, us-east-1, as published in 2025 (no free tier): Step Functions "
        f"Standard ${p.standard_per_transition * 1000:.3f} per 1,000 state transitions; Express "
        f"${p.express_per_request * 1e6:.2f} per million requests + ${p.express_per_gb_second} "
        "per GB-second (billed at ≥ 64 MB, 100 ms increments); Lambda arm64 "
        f"${p.lambda_per_request * 1e6:.2f} per million requests + ${p.lambda_per_gb_second} per "
        "GB-second; DynamoDB on-demand "
        f"${p.dynamodb_per_wru * 1e6:.3f} per million WRU and ${p.dynamodb_per_rru * 1e6:.3f} per "
        "million RRU (strongly consistent read: 1 RRU per 4 KB; write: 1 WRU per KB; "
        "transactional write: 2 WRU per KB per item); EventBridge PutEvents "
        f"${p.put_events_per_event * 1e6:.2f} per million events (64 KB chunks).",
        "",
        "Assumed, not counted: Lambda durations at 512 MB "
        + ", ".join(f"{k.removesuffix('Function')} {v} ms" for k, v in ASSUMED_LAMBDA_MS.items())
        + f" (Capture includes ~300 ms at the provider); an Express execution billed at "
        f"{ASSUMED_EXPRESS_SECONDS:g} s. Not included: CloudWatch Logs, X-Ray traces, the "
        "provider's fees, data transfer. The API capture row is the whole HTTP request "
        "(ApiFunction invocation at the default "
        f"{ASSUMED_DEFAULT_LAMBDA_MS} ms, its API key and idempotency requests included; "
        "its orchestration is the Express column) without API Gateway's own price "
        "($3.50 per million REST requests).",
        "",
        "| Per 1M | Orchestration Standard | Orchestration Express | Lambda requests "
        "| Lambda duration | DynamoDB | PutEvents | **Total Standard** | **Total Express** |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, cost in results.costs.items():
        lines.append(
            f"| {label} | ${cost.standard:,.2f} | ${cost.express:,.2f} | "
            f"${cost.lambda_requests:,.2f} | ${cost.lambda_duration:,.2f} | ${cost.dynamodb:,.2f} "
            f"| ${cost.put_events:,.2f} | **${cost.total_standard:,.2f}** | "
            f"**${cost.total_express:,.2f}** |"
        )
    return [*lines, ""]


def render_workflow_choice(results: Results) -> list[str]:
    cost = next(iter(results.costs.values()))
    return [
        "## Which workflow type for which trigger",
        "",
        f"- **`Order Shipped` events: Standard.** Orchestration costs "
        f"${cost.standard:,.0f} per million captures against ${cost.express:,.2f} for Express "
        f"(total ${cost.total_standard:,.0f} vs ${cost.total_express:,.0f}), i.e. "
        f"${cost.standard / 1e6:.4f} per capture. For that we get exactly-once execution per "
        "execution name (a redelivered event cannot start a second capture), a 90-day "
        "execution history for audits and disputes, and retries with long backoff on a "
        "provider outage without the 5-minute Express limit. Asynchronous Express is "
        "at-least-once: the ledger's conditional writes would still prevent a double capture, "
        "but the audit trail would live only in CloudWatch Logs (paid separately).",
        "- **Synchronous API captures: Express** (`StartSyncExecution`). The caller waits for "
        "the answer, which only Express can return synchronously; the execution is short "
        "(seconds), the client retries with its idempotency key, and the orchestration cost is "
        f"~${cost.express:,.2f} per million instead of ${cost.standard:,.0f}.",
        "",
    ]


def render_cold(results: Results) -> list[str]:
    cold = results.cold
    if cold is None:
        return ["## Cold start", "", "Not measured in this run (`--cold-runs 0`).", ""]
    lines = [
        "## Cold start",
        "",
        f"Fresh interpreter per sample, each function's Lambda environment from the template "
        f"(tracing on, as deployed), median of {cold.runs} interleaved runs. Baseline: "
        "`import boto3` + `boto3.client('dynamodb')`. *Init* is importing the handler module "
        "(Lambda's Init phase); *ready* adds what the first invocation builds before doing "
        "any work (the Tracer and its X-Ray SDK, the DynamoDB client, the provider's httpx "
        "client), no network.",
        "",
        "| Function | Init / baseline | Target | Ready / baseline |",
        "|---|---|---|---|",
    ]
    for function_id, (init, ready) in cold.handlers.items():
        target = 0.75 if function_id in _NO_AWS_CLIENT else MAX_COLD_START_RATIO
        ratio = init / cold.baseline_seconds
        verdict = (
            f"≤ {target:g}x: {_ok(ratio <= target)}"
            if function_id in cold.steps
            else "not a step handler"
        )
        lines.append(
            f"| {function_id} | {ratio:.2f}x | {verdict} | {ready / cold.baseline_seconds:.2f}x |"
        )
    return [*lines, *COLD_START_NOTES, ""]


def render_warm(results: Results) -> list[str]:
    warm = results.warm
    lines = [
        "## Warm invoke",
        "",
        "Median warm in-process invocation on the embedded AWS (moto), as a ratio to a bare "
        "moto `GetItem` in the same run. Capture includes the sandbox provider's HTTP round "
        "trip on loopback.",
        "",
        "| Function | Warm invoke / moto GetItem |",
        "|---|---|",
    ]
    lines += [
        f"| {name} | {seconds / warm.baseline_seconds:.1f}x |"
        for name, seconds in warm.handlers.items()
    ]
    return [*lines, ""]


def render_package(results: Results) -> list[str]:
    package = results.package
    lines = ["## Package", "", f"Source: {package.note}.", ""]
    if not package.sizes:
        return [*lines, ""]
    lines += ["| Function | Unzipped |", "|---|---|"]
    lines += [f"| {name} | {_mib(size)} |" for name, size in package.sizes.items()]
    total = sum(size for _, size in package.breakdown)
    sdk = sum(size for name, size in package.breakdown if name in _SDK_DIRECTORIES)
    top = ", ".join(f"{name} {_mib(size)}" for name, size in package.breakdown[:6])
    has_moto = any(name == "moto" for name, _ in package.breakdown)
    lines += [
        "",
        f"Zipped: {_mib(package.zipped)} per function (all share one `CodeUri`). Largest parts: "
        f"{top}. boto3 + botocore + s3transfer: {_mib(sdk)}, {sdk / total:.0%} of the artifact"
        + (
            " — they dominate, and boto3 is already in the Lambda Python runtime; botocore "
            "would stay anyway as a dependency of aws-xray-sdk. Dependency set unchanged here."
            if sdk / total > 0.4
            else "."
        )
        + f" Dev dependencies (moto) in the artifact: {'**yes**' if has_moto else 'none'}.",
        "",
    ]
    return lines


def render_summary_table(results: Results) -> list[str]:
    capture = results.paths[0].run
    cost = next(iter(results.costs.values()))
    all_runs = [run for row in results.lines + results.history for run in row.runs]
    rows = [
        ("DynamoDB requests per shipment capture", f"{capture.ledger_requests} (≤ 4)"),
        (
            "Provider captures / PutEvents per capture",
            f"{capture.provider_captures} / {capture.requests['EventBridge.PutEvents']}",
        ),
        ("State transitions (capture path)", str(capture.transitions)),
        *_api_summary_rows(results),
        (
            "Requests flat over 0/10/100 earlier captures",
            _ok(len({_fmt_requests(row.first.requests) for row in results.history}) == 1),
        ),
        ("Largest DynamoDB item (1,000 lines)", _kib(max(r.largest_item for r in all_runs))),
        ("Largest state payload", _kib(max(r.largest_payload for r in all_runs))),
        ("1,000-line order capture", _status(results.lines[-1].first)),
        ("Cost per 1M captures, Standard", f"${cost.total_standard:,.2f}"),
        ("Cost per 1M captures, Express", f"${cost.total_express:,.2f}"),
    ]
    if results.cold is not None:
        cold = results.cold
        worst = max(init for name, (init, _) in cold.handlers.items() if name in cold.steps)
        rows.append(("Worst step handler Init / baseline", f"{worst / cold.baseline_seconds:.2f}x"))
    return ["| Figure | Value |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows], ""]


def _api_summary_rows(results: Results) -> list[tuple[str, str]]:
    if not results.api:
        return [("API capture", "not measured")]
    capture, replay = results.api[0], results.api[1]
    idempotency = sum(capture.idempotency_requests.values())
    return [
        (
            "DynamoDB requests per API capture",
            f"{capture.ledger_requests} ledger ({capture.api_ledger_requests} ApiFunction + "
            f"{capture.workflow_ledger_requests} workflow) + {capture.api_key_requests} API key "
            f"+ {idempotency} idempotency; {capture.provider_captures} provider capture, "
            f"{capture.requests['EventBridge.PutEvents']} PutEvents, "
            f"{capture.transitions} transitions",
        ),
        (
            "API replay (same Idempotency-Key)",
            f"HTTP {replay.status_code}{', replayed' if replay.replayed else ''}: "
            f"{replay.ledger_requests} ledger + {replay.api_key_requests} API key + "
            f"{sum(replay.idempotency_requests.values())} idempotency, "
            f"{replay.requests['SFN.StartSyncExecution']} executions, "
            f"{replay.provider_captures} provider captures",
        ),
    ]


def render(results: Results) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` ({stamp}, {results.seconds:.0f} s). Counts are "
        "deterministic; times are ratios to baselines measured in the same run.",
        "",
        *render_summary_table(results),
        *render_requests(results),
        *render_scaling(results),
        *render_paths(results),
        *render_cost(results),
        *render_workflow_choice(results),
        *render_cold(results),
        *render_warm(results),
        *render_package(results),
    ]
    return "\n".join(lines).rstrip() + "\n"


# --- main ----------------------------------------------------------------------------------------


def run_bench(args: argparse.Namespace) -> Results:
    started = time.perf_counter()
    # moto logs every failed execution (the failure paths measured on purpose) at ERROR.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    with LocalRuntime(log_level="ERROR") as runtime:
        bench = Bench(runtime)
        print("bench: paths ...", file=sys.stderr)
        paths = measure_paths(bench)
        print("bench: API captures ...", file=sys.stderr)
        api = measure_api(bench)
        # Before scaling: moto's TransactWriteItems copies the whole table, so warm invokes
        # are measured while the table is still small.
        print("bench: warm invokes ...", file=sys.stderr)
        warm = measure_warm(bench, rounds=args.warm_rounds)
        print("bench: scaling ...", file=sys.stderr)
        lines = measure_lines(bench, (1, 100, 1000), shipments=3)
        history = measure_history(bench, (0, 10, 100), shipments=3)
        costs = {
            "shipment capture (2 lines)": cost_per_million(
                paths[0].run, invoked_functions(runtime, paths[0].run)
            ),
            "shipment capture (100 lines)": cost_per_million(
                lines[1].first, invoked_functions(runtime, lines[1].first)
            ),
        }
        api_capture = api[0].execution
        if api_capture is not None:
            # The whole HTTP request: ApiFunction (invoked by API Gateway, not a counted
            # Lambda.Invoke) and its idempotency and API key requests included.
            costs["API capture (2 lines, whole request)"] = cost_per_million(
                replace(api_capture, requests=api_capture.requests + Counter({"Lambda.Invoke": 1})),
                [*invoked_functions(runtime, api_capture), "ApiFunction"],
            )
        print("bench: cold starts ...", file=sys.stderr)
        cold = measure_cold_starts(runtime, args.cold_runs) if args.cold_runs else None
        print("bench: package ...", file=sys.stderr)
        package = measure_package(runtime, build=not args.skip_build)
    return Results(
        paths=paths,
        api=api,
        lines=lines,
        history=history,
        warm=warm,
        cold=cold,
        package=package,
        costs=costs,
        seconds=time.perf_counter() - started,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(PROJECT_ROOT / "BENCHMARKS.md"))
    parser.add_argument("--cold-runs", type=int, default=10)
    parser.add_argument("--warm-rounds", type=int, default=20)
    parser.add_argument("--skip-build", action="store_true", help="measure .aws-sam/build as is")
    args = parser.parse_args(argv)
    # Handlers print what they would print on Lambda (EMF metrics when enabled); stdout is the
    # summary's.
    with contextlib.redirect_stdout(sys.stderr):
        results = run_bench(args)
    report = render(results)
    Path(args.output).write_text(report)
    print("\n".join(render_summary_table(results)))
    print(f"bench: wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
