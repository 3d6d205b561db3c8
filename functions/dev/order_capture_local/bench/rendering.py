"""BENCHMARKS.md: every figure beside its target."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from order_capture_local.bench import rendering_costs, summary_blocks
from order_capture_local.bench.cold import ColdResult
from order_capture_local.bench.cost import CONFIRMATION_STATES, PRICES, Cost
from order_capture_local.bench.hot_order import (
    MAX_HOT_ORDER_TRANSITIONS_PER_CAPTURE,
    HotOrderResult,
)
from order_capture_local.bench.package import PackageResult
from order_capture_local.bench.recording import ApiRun, Run
from order_capture_local.bench.rendering_memory import render_memory
from order_capture_local.bench.scenarios import PathResult, ScaleResult, WarmResult
from order_capture_local.bench.targets import (
    DYNAMODB_ITEM_LIMIT,
    MAX_CAPTURE_TRANSITIONS,
    MAX_DYNAMODB_REQUESTS,
    MAX_PROVIDER_CALLS,
    MAX_PUT_EVENTS,
    MAX_WRU_PER_LARGE_CAPTURE,
    STATE_PAYLOAD_LIMIT,
)

# --- report --------------------------------------------------------------------------------------


#: Issue 15: the whole bench, wall time.
BENCH_TARGET_SECONDS = 300


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
    express_limit: dict[str, tuple[float, list[str]]]
    #: CPU seconds of the bench and its cold-start probes: the machine is shared, so the wall
    #: time also says how loaded it was
    cpu_seconds: float = 0.0
    hot_order: HotOrderResult | None = None


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
        f"({capture.ledger_requests} ledger + {capture.api_key_requests} API key, the key "
        "read by the authorizer, whose answer API Gateway caches). ApiFunction reads the "
        "order and the capture before starting the workflow (`BatchGetItem`: precise errors, "
        "and nothing started when the capture cannot succeed), and reads nothing after it: "
        "the workflow's output carries the order's totals after the capture "
        "(`Capture.order_after`), and the capture's lines are those ApiFunction planned, the "
        "Capture step having reserved on the order it read (a request a racing one moved "
        "reads its answer once more; Omnitron's answer, the whole order, is read after).",
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
        "(`TransactWriteItems`: order header with its version check and line counters + new "
        "pending capture with its lines and history entry + its `CAPTURE_REF` pointer); Record "
        "confirms (`TransactWriteItems`: capture pending→captured with its history entry and "
        "announced note + order totals). The floor for a "
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
        f"{_ok(largest_item < DYNAMODB_ITEM_LIMIT)}. The largest is an order's catalog "
        "(`LINES`, written once at registration, read by each capture, never rewritten); no "
        "item grows with the number of captures.",
        f"- Largest state payload: {largest_payload:,} bytes ({_kib(largest_payload)}; Step "
        f"Functions limit 256 KB): {_ok(not too_large and largest_payload < STATE_PAYLOAD_LIMIT)}"
        f"{payload_note}.",
        "- Request units of a 1,000-line capture, whatever its ids: at most "
        f"{_large_wru(results):g} WRU (target ≤ {MAX_WRU_PER_LARGE_CAPTURE}): "
        f"{_ok(_large_wru(results) <= MAX_WRU_PER_LARGE_CAPTURE)}. Reserve and "
        "confirm rewrite the order's small header; reserve also writes the line counters "
        "(about 10 bytes a line) and the capture's lines by position, once, as items of "
        "their own past 16 lines (folded into the header and the capture item up to 16: "
        'docs/ledger.md "Folded items").',
        "",
    ]
    return lines


def _large_orders(results: Results) -> list[Run]:
    return [row.first for row in results.lines if row.label.startswith("1,000 lines")]


def _large_wru(results: Results) -> float:
    return max(run.capacity.wru for run in _large_orders(results))


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


def render_summary_table(results: Results) -> list[str]:
    capture = results.paths[0].run
    all_runs = [run for row in results.lines + results.history for run in row.runs]
    rows = [
        ("DynamoDB requests per shipment capture", f"{capture.ledger_requests} (≤ 4)"),
        (
            "Provider captures / PutEvents per capture",
            f"{capture.provider_captures} / {capture.requests['EventBridge.PutEvents']}",
        ),
        (
            f"State transitions, shipment capture (target ≤ {MAX_CAPTURE_TRANSITIONS})",
            f"{capture.transitions}: {_ok(capture.transitions <= MAX_CAPTURE_TRANSITIONS)}",
        ),
        *_api_summary_rows(results),
        *_hot_order_rows(results.hot_order),
        (
            "Requests flat over 0/10/100 earlier captures",
            _ok(len({_fmt_requests(row.first.requests) for row in results.history}) == 1),
        ),
        ("Largest DynamoDB item (1,000 lines)", _kib(max(r.largest_item for r in all_runs))),
        ("Largest state payload", _kib(max(r.largest_payload for r in all_runs))),
        (
            "1,000-line order captures (short, 64-character, UUID ids)",
            ", ".join(_status(run) for run in _large_orders(results)),
        ),
        (
            "WRU per 1,000-line capture",
            f"{_large_wru(results):g} (≤ {MAX_WRU_PER_LARGE_CAPTURE})",
        ),
        ("State transitions, asynchronous capture", _async_transitions(results)),
        *rendering_costs.cost_verdicts(results.costs, capture.transitions),
    ]
    express_seconds, _ = results.express_limit.get("CaptureApiStateMachine", (0.0, []))
    rows.append(
        (
            "Express worst case (API workflow; limit 300 s)",
            f"{express_seconds:,.0f} s: {_ok(express_seconds <= 300)}",
        )
    )
    if results.cold is not None:
        cold = results.cold
        ready = [name for name in cold.handlers if cold.target(name) and name not in cold.init_only]
        rows += [
            (
                f"Cold start {name.removesuffix('Function')} (Init + first invoke / baseline)",
                f"{cold.ratio(name):.2f}x (≤ {cold.target(name):g}x): {_ok(cold.met(name))}",
            )
            for name in ready
        ]
    package = results.package
    rows.append(
        (
            "Package: function zip / shared layer zip",
            f"{package.function_zipped / 1024:,.0f} KB / "
            f"{package.layer_zipped / 1024 / 1024:,.1f} MB",
        )
    )
    rows.append(
        (
            "`make bench` itself (target < 5 min)",
            f"{results.seconds:,.0f} s, {results.cpu_seconds:,.0f} s of CPU: "
            f"{_ok(results.seconds < BENCH_TARGET_SECONDS)}",
        )
    )
    return ["| Figure | Value |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows], ""]


def _hot_order_rows(hot: HotOrderResult | None) -> list[tuple[str, str]]:
    if hot is None:
        return []
    label = (
        f"State transitions per capture, hot order ({hot.shipments} shipments at once; "
        f"target ≤ {MAX_HOT_ORDER_TRANSITIONS_PER_CAPTURE})"
    )
    value = f"{hot.per_capture:.1f}: {_ok(hot.met)}"
    if hot.succeeded != hot.shipments:
        value += f" ({hot.succeeded} of {hot.shipments} succeeded)"
    return [(label, value + " (varies with the backoff's jitter)")]


def _async_transitions(results: Results) -> str:
    run = next(p.run for p in results.paths if p.name.startswith("provider confirms later"))
    return (
        f"{run.transitions} capture workflow + {CONFIRMATION_STATES} "
        f"confirmation workflow = {run.transitions + CONFIRMATION_STATES}"
    )


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
        f"Written by `make bench` ({stamp}, {results.seconds:.0f} s, "
        f"{results.cpu_seconds:.0f} s of CPU). Counts are "
        "deterministic; times are ratios to baselines measured in the same run.",
        "",
        *summary_blocks.wrap(render_summary_table(results)),
        "",
        *render_requests(results),
        *render_scaling(results),
        *render_paths(results),
        *rendering_costs.render_cost(results.costs, results.paths[0].run.transitions),
        *rendering_costs.render_workflow_choice(results.costs, results.express_limit),
        *rendering_costs.render_cold(results.cold),
        *render_memory(results.cold),
        *render_warm(results),
        *rendering_costs.render_package(results.package),
    ]
    return "\n".join(lines).rstrip() + "\n"
