"""BENCHMARKS.md, the sections about what users pay: cost, workflow type and its time limit,
cold starts, the package."""

from __future__ import annotations

from order_capture_local.asl_lint import EXPRESS_LIMIT_SECONDS, SERVICE_CALL_SECONDS
from order_capture_local.bench.cold import ColdResult
from order_capture_local.bench.cost import (
    API_TRACE_RULE,
    CONFIRMATION_STATES,
    EVENT_TRACE_RULE,
    PRICES,
    Cost,
    deployed,
    traces_per_capture,
)
from order_capture_local.bench.durations import (
    ASSUMED_API_OWN,
    ASSUMED_DEFAULT_DURATION,
    ASSUMED_DURATIONS,
    ASSUMED_EXPRESS_OVERHEAD_MS,
    Duration,
)
from order_capture_local.bench.logs import platform_bytes_per_invocation
from order_capture_local.bench.package import SDK_DIRECTORIES, PackageResult

#: Targets (issue 15), per 1M captures, all-in.
TARGET_EVENT_STANDARD = 120.0
TARGET_EVENT_EXPRESS = 16.0
TARGET_API = 20.0
#: The function's own zip: "small".
TARGET_FUNCTION_ZIP = 1024 * 1024


def _ok(passed: bool) -> str:
    return "met" if passed else "**missed**"


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:,.1f} MB"


def _kib(size: int) -> str:
    return f"{size / 1024:,.0f} KB"


def event_cost(costs: dict[str, Cost]) -> Cost:
    return next(iter(costs.values()))


def api_cost(costs: dict[str, Cost]) -> Cost | None:
    return next((cost for label, cost in costs.items() if label.startswith("API")), None)


def cost_verdicts(costs: dict[str, Cost], transitions: int) -> list[tuple[str, str]]:
    event = event_cost(costs)
    rows = [
        (
            "Cost per 1M shipment captures, Standard (target ≤ $120)",
            f"${event.total_standard:,.2f}: {_ok(event.total_standard <= TARGET_EVENT_STANDARD)}"
            + (
                f" ({transitions} transitions at $25 per 1M = ${event.standard:,.0f} alone)"
                if event.total_standard > TARGET_EVENT_STANDARD
                else ""
            ),
        ),
        (
            "Cost per 1M shipment captures, Express (target ≤ $16)",
            f"${event.total_express:,.2f}: {_ok(event.total_express <= TARGET_EVENT_EXPRESS)}",
        ),
    ]
    api = api_cost(costs)
    if api is not None:
        rows.append(
            (
                "Cost per 1M API captures, as deployed (target ≤ $20)",
                f"${api.total_express:,.2f}: {_ok(api.total_express <= TARGET_API)}",
            )
        )
    return rows


def _memory_sizes() -> str:
    """The template's MemorySize per function, grouped: "512 MB; ApiAuthorizer 256 MB"."""
    memory = deployed().memory_mb
    default = memory[""]
    own = [
        f"{f.removesuffix('Function')} {mb} MB" for f, mb in memory.items() if f and mb != default
    ]
    return "; ".join([f"{default} MB", *own])


def render_cost(costs: dict[str, Cost], transitions: int) -> list[str]:
    p = PRICES
    lines = [
        "## Cost per 1,000,000 captures (as deployed, all-in)",
        "",
        "List prices, us-east-1, 2025, no free tier: Step Functions Standard "
        f"${p.standard_per_transition * 1000:.3f} per 1,000 transitions; Express "
        f"${p.express_per_request * 1e6:.2f} per million + ${p.express_per_gb_second} per "
        "GB-second (64 MB, 100 ms increments); Lambda arm64 "
        f"${p.lambda_per_request * 1e6:.2f} per million + ${p.lambda_per_gb_second} per "
        f"GB-second at each function's MemorySize ({_memory_sizes()}); DynamoDB on-demand "
        f"${p.dynamodb_per_wru * 1e6:.3f} per million "
        f"WRU, ${p.dynamodb_per_rru * 1e6:.3f} per million RRU (measured units); EventBridge "
        f"${p.put_events_per_event * 1e6:.2f} per million events (64 KB chunks, measured); API "
        f"Gateway REST ${p.rest_api_per_request * 1e6:.2f} per million; X-Ray "
        f"${p.xray_per_trace * 1e6:.2f} per million traces; CloudWatch Logs ingestion "
        f"${p.logs_per_gb:.2f} per GB and storage ${p.logs_storage_per_gb_month:.2f} per "
        f"GB-month for the template's {deployed().log_retention_days} days "
        "(`LogRetentionDays`; uncompressed, an upper bound).",
        "",
        "Assumed, not measured: Lambda durations as CPU-bound work at 512 MB + waiting "
        "(bench/durations.py: the CPU part scales with 512 / MemorySize, the wait does not) "
        + ", ".join(f"{k.removesuffix('Function')} {_ms(v)}" for k, v in ASSUMED_DURATIONS.items())
        + f", ApiFunction's own work {_ms(ASSUMED_API_OWN)}, any other function "
        f"{_ms(ASSUMED_DEFAULT_DURATION)} (Capture waits ~300 ms on the provider); an Express "
        f"execution lasts its tasks + {ASSUMED_EXPRESS_OVERHEAD_MS} ms; ApiFunction is billed "
        "for its own work and for its wait on StartSyncExecution (the "
        "execution's whole duration, column *API wait*, part of Lambda duration); Lambda's "
        f"own START, END and REPORT lines, {platform_bytes_per_invocation()} bytes per "
        "invocation (the documented text format, REPORT with its X-Ray line; bench/logs.py). "
        "Measured: what each handler writes at the template's log level "
        f"(`LogLevel` {deployed().log_level}: Powertools Logger's JSON lines and Metrics' "
        "EMF documents; the state machines log nothing: no Logging configured). X-Ray, from "
        "the template's sampling rules (no "
        f"reservoir): {traces_per_capture(EVENT_TRACE_RULE):.0%} of event captures "
        f"(`{EVENT_TRACE_RULE}`), {traces_per_capture(API_TRACE_RULE):.0%} of API captures "
        f"(`{API_TRACE_RULE}`), one trace each. The asynchronous row adds the "
        f"Standard confirmation workflow's {CONFIRMATION_STATES} transitions, its "
        "AwaitConfirmation invocation (measured, inside the row's window) and its `Payment "
        "Captured` PutEvents; not the provider's webhook request (API Gateway, ApiFunction, "
        "its settling writes). Not included: the provider's fees, data transfer, "
        "Secrets Manager (cached reads), the caller's own Order Shipped event.",
        "",
        "| Per 1M | Standard | Express | Lambda requests | Lambda duration (API wait) "
        "| DynamoDB | PutEvents | API Gateway | X-Ray | Logs | **Total Standard** "
        "| **Total Express** |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, cost in costs.items():
        lines.append(
            f"| {label} | ${cost.standard:,.2f} | ${cost.express:,.2f} | "
            f"${cost.lambda_requests:,.2f} | ${cost.lambda_duration:,.2f} "
            f"(${cost.api_wait:,.2f}) | ${cost.dynamodb:,.2f} | ${cost.put_events:,.2f} | "
            f"${cost.api_gateway:,.2f} | ${cost.xray:,.2f} | ${cost.logs:,.2f} | "
            f"**${cost.total_standard:,.2f}** | **${cost.total_express:,.2f}** |"
        )
    event = event_cost(costs)
    lines += [
        "",
        *[f"- {label}: {verdict}." for label, verdict in cost_verdicts(costs, transitions)],
        f"- What the Standard figure is made of: {transitions} state transitions per capture "
        f"(${event.standard:,.0f} of ${event.total_standard:,.0f}): the product's four Lambda "
        "steps and nothing else (no Choice state: a duplicate, nothing to capture and a "
        "capture the provider confirms later are handed on by the steps). Express runs the "
        f"same definition for ${event.express:,.2f}.",
        f"- Measured cause of the Express figure: DynamoDB ${event.dynamodb:,.2f} "
        "(the request units of the table above; a 2-line capture's two transactions write 5 "
        "items of at most 1 KB, at 2 WRU each: reserve 3 (order header with its line counters, "
        "capture with its lines and history entry, `CAPTURE_REF`: the pointer from our "
        "capture id to its order that the provider's webhook needs from before the provider "
        "hears of the capture), confirm 2 (capture with its history entry and announced note, "
        'header) (docs/ledger.md "Folded items", "The announced note"), plus 1 WRU for '
        "each index entry a write puts or deletes (the pending capture's `OpenCaptures` "
        "entry, put by the reserve and deleted by the confirm; by DynamoDB's rules a write "
        "that leaves an item's index keys as they were costs its keys-only indexes nothing, "
        "so the header's `OpenOrdersByExpiry` entry is billed only when the order leaves it); "
        "the reads, 4 items each for Validate and Capture (header, catalog, `LINE_COUNTERS`, "
        "the capture sought; missing items billed too; a capture's `CAPTURE_LINES#` is read "
        "after, only when the capture names it), are 1 RRU each), then Lambda duration "
        f"${event.lambda_duration:,.2f}, logs ${event.logs:,.2f}, the orchestration "
        f"${event.express:,.2f}, PutEvents ${event.put_events:,.2f}, Lambda requests "
        f"${event.lambda_requests:,.2f}, X-Ray ${event.xray:,.2f}.",
        *_api_cause(costs),
        *_log_bytes(costs),
        "- The API row's orchestration is the Express column (the API's workflow is always "
        "Express); its Standard column is not a deployment option.",
        "- The asynchronous row leaves out the provider's webhook (an API Gateway request, "
        "an ApiFunction invocation, its ledger writes) and the confirmation workflow's "
        "PutEvents: not measured in this scenario.",
        "",
    ]
    return lines


def _ms(duration: Duration) -> str:
    return f"{duration.cpu_ms_at_512:g} + {duration.wait_ms:g} ms"


def _log_bytes(costs: dict[str, Cost]) -> list[str]:
    """The measured log bytes of each row, by function."""
    lines = []
    for label, cost in costs.items():
        by_function = ", ".join(
            f"{f.removesuffix('Function')} {count:,}" for f, count in cost.handler_log_bytes.items()
        )
        lines.append(
            f"- Logs, {label}: {cost.log_bytes:,} bytes per execution; the handlers' lines "
            f"{by_function or 'none'}; the rest Lambda's own lines."
        )
    return lines


def _api_cause(costs: dict[str, Cost]) -> list[str]:
    api = api_cost(costs)
    if api is None:
        return []
    return [
        f"- Measured cause of the API figure: DynamoDB ${api.dynamodb:,.2f} (the workflow's "
        "and ApiFunction's own reads, the API key, idempotency), Lambda duration "
        f"${api.lambda_duration:,.2f} (${api.api_wait:,.2f} of it ApiFunction waiting on "
        f"the synchronous execution), API Gateway ${api.api_gateway:,.2f}, logs "
        f"${api.logs:,.2f}, the orchestration ${api.express:,.2f}."
    ]


def render_workflow_choice(
    costs: dict[str, Cost], express_limit: dict[str, tuple[float, list[str]]]
) -> list[str]:
    cost = event_cost(costs)
    lines = [
        "## Which workflow type for which trigger",
        "",
        "`EventCaptureWorkflowType` (template parameter) chooses it for `Order Shipped` "
        "events; both are tested on the local runtime (tests/statemachine/"
        "test_workflow_types.py). API captures always run Express (StartSyncExecution).",
        "",
        f"- **Standard (default)**: ${cost.total_standard:,.0f} per million captures all-in; "
        "exactly-once per execution name (a redelivered event cannot start a second "
        "execution), a 90-day execution history for audits and disputes, no five-minute limit "
        "(a hot order's replanning rounds are never cut short).",
        f"- **Express**: ${cost.total_express:,.0f} per million; at-least-once (the ledger's "
        "conditional writes still capture once), no history unless logging is enabled (then "
        "paid as CloudWatch Logs), and five minutes at most.",
        "",
        "Worst case of one execution (asl_lint.worst_case_seconds): along the slowest path, "
        "every task exhausts every retrier, each attempt lasting its `TimeoutSeconds` or its "
        f"function's `Timeout` ({SERVICE_CALL_SECONDS:g} s for a service call without one), "
        "un-jittered waits; loops are named, not summed.",
        "",
        "| State machine | Worst case | Limit | Slowest path |",
        "|---|---|---|---|",
    ]
    for machine, (seconds, path) in express_limit.items():
        express = machine == "CaptureApiStateMachine"
        verdict = (
            f"{EXPRESS_LIMIT_SECONDS} s: {_ok(seconds <= EXPRESS_LIMIT_SECONDS)}"
            if express
            else f"none (Standard; {EXPRESS_LIMIT_SECONDS} s if deployed Express)"
        )
        lines.append(f"| {machine} | {seconds:,.0f} s | {verdict} | {' → '.join(path)} |")
    lines += [
        "",
        "- How it fits: the capture steps' function `Timeout`s are near their real "
        "durations (Validate, Record, RecordFailure 5 s, ComputeAmount 3 s, Capture 14 s: "
        "the provider's 10 s answer and the ledger), the service calls state "
        "`TimeoutSeconds` 5, and the retriers allow 3 attempts for Lambda and provider "
        "errors, 5 for a not-yet-registered order (2+4+8+16 s) and 7 for a hot order's "
        "OrderChangedError (tests/statemachine/test_express_budget.py; `make validate-asl` "
        "refuses an Express machine over the limit).",
        "- Not in the sum: Capture's way back to Validate (an OrderChangedError past its "
        "retries, or a twin's reservation). Each round is one more pass; a round needs another "
        "shipment of the same order to have reserved in between, so the rounds are bounded by "
        "the order's concurrent shipments, not by the definition. An Express execution cut "
        "short there has reserved nothing (the reserve is what failed), and the API's caller "
        "retries with its idempotency key.",
        "",
    ]
    return lines


def render_cold(cold: ColdResult | None) -> list[str]:
    if cold is None:
        return ["## Cold start", "", "Not measured in this run (`--cold-runs 0`).", ""]
    lines = [
        "## Cold start",
        "",
        "Fresh interpreter per sample (`python -I -S -B`: the standard library and the Lambda "
        "tree only, function code then layer, all compiled to bytecode beforehand and none "
        "written at run time, as on Lambda's read-only `/var/task` and `/opt`), each function's "
        "environment from the template with tracing on, median of "
        f"{cold.runs} interleaved runs. Baseline in the same tree: `import boto3` + "
        "`boto3.client('dynamodb')`. *Init*: importing the handler. *Ready*: Init plus the "
        "first invocation with the payload the function first received in this run, up to "
        "its first AWS request (endpoints on a closed loopback port, one attempt), and for "
        "Capture the order's provider adapter. Measured as the process's CPU time: the "
        "machine is shared, and wall time there mostly measures the neighbours.",
        "",
        "| Function | Init / baseline | Ready / baseline | Target (ready) |",
        "|---|---|---|---|",
    ]
    for function_id, (init, _) in cold.handlers.items():
        target = cold.target(function_id)
        verdict = f"≤ {target:g}x: {_ok(cold.met(function_id))}" if target else "none"
        ready = (
            "not invoked in the scenarios"
            if function_id in cold.init_only
            else f"{cold.ratio(function_id):.2f}x"
        )
        lines.append(
            f"| {function_id} | {init / cold.baseline_seconds:.2f}x | {ready} | {verdict} |"
        )
    lines += [
        "",
        "- Which tree, and why: the one `sam build` ships. Each function and the layer are "
        "built by their Makefile (`BuildMethod: makefile`: functions/app/Makefile, "
        "functions/layer/Makefile), which compiles every module to bytecode "
        "(`compileall --invalidation-mode unchecked-hash`); the bench runs the same two "
        "targets. SAM's python3.13 builder compiled nothing, and Lambda's `/var/task` and "
        "`/opt` are read-only, so every cold start compiled every module it imported. "
        + _without_bytecode_note(cold),
        "- What changed before: no X-Ray SDK (`tracing.py` sends subsegments itself), "
        "pydantic `defer_build`, an own EventBridge envelope instead of Powertools' parser "
        "models, provider adapters and httpx imported only for the order's provider, "
        "`PYDANTIC_DISABLE_PLUGINS`, ApiFunction loading only the request's dialect routes, "
        "every client of the service from one botocore session (`adapters/aws_clients.py`; "
        "no `import boto3` on a step handler's path), Init and the first invocation without "
        "Python's cyclic garbage collector (`order_capture/__init__.py`: what they made is "
        "frozen afterwards: 0.15x off each step handler, 0.07x off ComputeAmount, 0.23x off "
        "ApiFunction). Powertools' idempotency store and Secrets provider still build a "
        "boto3 session of their own (ApiFunction: ~0.3x; sharing the service's botocore "
        "state with them was tried twice and reverted: docs/performance.md).",
        "- What remains, measured as instructions (valgrind, the same in every run; CPU "
        "time on this machine varies by 0.1-0.3x between runs): Validate's Init + first "
        "invocation is ~1.30x of the baseline's, ApiFunction's ~1.70x. A botocore session "
        "and one DynamoDB client cost ~0.88x (the baseline's boto3 ~0.95x, both without "
        "the collector), and importing pydantic as every model needs it (`pydantic_core`, "
        "`BaseModel`, `Field`, which imports `pydantic.types` and `pydantic.json_schema`) "
        "~0.31x: ~1.19x before the first model of the service. The service's modules, "
        "models, Powertools Logger and Metrics and the first request's validators are the "
        "other ~0.11x. The 1.2x step target is therefore not reachable with a botocore "
        "client and pydantic models on every boundary. ApiFunction adds Powertools' REST "
        "resolver with validation, the idempotency utility (which imports boto3), its "
        "session and the dialect's models.",
        "",
    ]
    return lines


def _without_bytecode_note(cold: ColdResult) -> str:
    if cold.without_bytecode is None:
        return "Without bytecode: not measured in this run."
    baseline, ready = cold.without_bytecode
    with_bytecode = cold.handlers["ValidateFunction"][1]
    return (
        f"The same tree without bytecode, as SAM's python3.13 builder left it: the baseline "
        f"takes {baseline:.2f} s (against {cold.baseline_seconds:.2f} s) and Validate's "
        f"Init + first invocation {ready:.2f} s (against {with_bytecode:.2f} s), "
        f"{ready / baseline:.2f}x: shipping bytecode saves "
        f"{1 - with_bytecode / ready:.0%} of Validate's cold start."
    )


def render_package(package: PackageResult) -> list[str]:
    total = sum(size for _, size in package.breakdown) or 1
    sdk = sum(size for name, size in package.breakdown if name in SDK_DIRECTORIES)
    top = ", ".join(f"{name} {_mib(size)}" for name, size in package.breakdown[:6])
    return [
        "## Package",
        "",
        f"{package.note[:1].upper()}{package.note[1:]}. Every function uses one "
        "`DependenciesLayer` "
        "(template Globals `Layers`).",
        "",
        "| Artifact | Unzipped | Zipped |",
        "|---|---|---|",
        f"| each function's own code ({package.functions} functions, one `CodeUri`) | "
        f"{_kib(package.function_unzipped)} | {_kib(package.function_zipped)} |",
        f"| the shared layer (once) | {_mib(package.layer_unzipped)} | "
        f"{_mib(package.layer_zipped)} |",
        "",
        f"- Function zip small (≤ 1 MB): {_ok(package.function_zipped <= TARGET_FUNCTION_ZIP)}.",
        f"- Largest parts of the layer: {top}. boto3 + botocore + s3transfer: {_mib(sdk)} "
        f"({sdk / total:.0%}); kept pinned rather than the runtime's boto3 so local runs and "
        "AWS share one SDK; botocore keeps the models of the services the functions call "
        "only (functions/layer/Makefile `BOTOCORE_SERVICES`: 7 of its ~440). aws-xray-sdk and "
        "wrapt are gone (Powertools without `[tracer]`).",
        "",
    ]
