"""Recording what one measured action did: AWS requests, DynamoDB items, state transitions."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from order_capture_local.api_server import LocalWorkflowStarter
from order_capture_local.bench.logs import LogMeter, since
from order_capture_local.bench.sizes import (
    Capacity,
    DynamoDBCall,
    LedgerSnapshot,
    capacity_of,
    ledger_snapshot,
)
from order_capture_local.bench.targets import API_KEY_PK_PREFIX, IDEMPOTENCY_PK_PREFIX
from order_capture_local.eventbridge import normalize_event
from order_capture_local.executions import ExecutionReport, largest_payload
from order_capture_local.runtime import LocalRuntime

# --- request recording ------------------------------------------------------------------------


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
    """Every DynamoDB request's table and items, while ``active`` (botocore hook), each with
    its items as they stood just before it was sent (``DynamoDBCall.before``)."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self.active = False
        self.calls: list[DynamoDBCall] = []

    def start(self) -> None:
        self.calls.clear()
        self.active = True

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.active:
            table, items = _touched(model.name, params)
            # The hook runs before the request is sent (and DynamoDB requests are served one
            # at a time): the items it names are still as they were before it.
            before = ledger_snapshot(self.runtime, set(_keys(items)))
            self.calls.append(DynamoDBCall(model.name, table, items, before))

    def touched(self) -> set[tuple[str, str]]:
        return {key for call in self.calls for key in _keys(call.items)}


def _keys(items: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """The keys of a request's items (a Query without its key names none)."""
    return [(pk, sk) for _, pk, sk in items if (pk, sk) != ("?", "?")]


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
    #: Bytes each function wrote to its log meanwhile (``bench.logs``; empty when not metered).
    log_bytes: Counter[str] = field(default_factory=Counter)

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


@dataclass
class Recording:
    """What one measured action did: AWS requests (the runtime's counts, ``SFN.*``
    included), DynamoDB requests with their items as each found them, the items after it."""

    requests: Counter[str]
    calls: list[DynamoDBCall]
    after: LedgerSnapshot
    provider_captures: int
    emitted: list[dict[str, Any]]
    seconds: float
    log_bytes: Counter[str] = field(default_factory=Counter)


class Bench:
    """One local runtime, shared by every scenario, with a DynamoDB recorder on it."""

    def __init__(self, runtime: LocalRuntime) -> None:
        import boto3  # noqa: PLC0415

        from order_capture.wiring import default_repository  # noqa: PLC0415

        self.runtime = runtime
        self.recorder = DynamoDBRecorder(runtime)
        self.logs = LogMeter(runtime)
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
        assert self.sandbox is not None
        captures_before = len(self.sandbox.state.captures)
        emitted_before = len(runtime.emitted_events)
        runtime.request_counts.clear()
        logged_before = self.logs.snapshot()
        self.recorder.start()
        started = time.perf_counter()
        try:
            result = action()
        finally:
            seconds = time.perf_counter() - started
            self.recorder.active = False
        # Only the items the action named: sizing the whole ledger twice per action was most
        # of the bench's CPU once it held 1,000-line orders.
        after = ledger_snapshot(runtime, self.recorder.touched())
        recording = Recording(
            requests=Counter(runtime.request_counts),
            calls=list(self.recorder.calls),
            after=after,
            provider_captures=len(self.sandbox.state.captures) - captures_before,
            emitted=runtime.emitted_events[emitted_before:],
            seconds=seconds,
            log_bytes=since(self.logs.snapshot(), logged_before),
        )
        return result, recording

    def measure(self, start: Callable[[], ExecutionReport]) -> Run:
        report, recording = self.record(start)
        return self.run_of(report, recording)

    def run_of(self, report: ExecutionReport, recording: Recording) -> Run:
        """One execution's figures; the requests are the recording's, without the runtime's
        own Step Functions calls (``SFN.*``: starting and polling executions)."""
        calls, after = recording.calls, recording.after
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
            largest_payload=largest_payload(history),
            capacity=capacity_of(calls, after),
            largest_item=max(
                (
                    max(call.before.size_of((pk, sk)), after.size_of((pk, sk)))
                    for call in calls
                    for _, pk, sk in call.items
                ),
                default=0,
            ),
            put_event_chunks=sum(
                math.ceil(len(json.dumps(event["detail"]).encode()) / 65536)
                for event in recording.emitted
            ),
            log_bytes=recording.log_bytes,
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
            capacity=capacity_of(calls, recording.after),
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
