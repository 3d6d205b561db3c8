"""Cost per million captures as deployed and all-in: the measured counts at list prices, plus
stated assumptions for what the counts cannot tell (durations, log volume, sampling)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from order_capture_local.bench.durations import ASSUMED_API_OWN, duration_of, express_seconds
from order_capture_local.bench.logs import platform_bytes_per_invocation
from order_capture_local.bench.recording import Run
from order_capture_local.runtime import PROJECT_ROOT, LocalRuntime
from order_capture_local.template import _CfnLoader

TEMPLATE = PROJECT_ROOT / "template.yaml"

MILLION = 1_000_000


@dataclass(frozen=True)
class Prices:
    """AWS list prices, us-east-1, as published in 2025 (no free tier, no savings plans)."""

    standard_per_transition: float = 0.025 / 1_000
    express_per_request: float = 1.00 / MILLION
    #: Express duration, first tier; billed in 64 MB and 100 ms increments.
    express_per_gb_second: float = 0.00001667
    express_billed_memory_gb: float = 64 / 1024
    lambda_per_request: float = 0.20 / MILLION
    #: arm64, first tier (the template's Architectures), at each function's MemorySize.
    lambda_per_gb_second: float = 0.0000133334
    #: DynamoDB on-demand after the November 2024 price reduction.
    dynamodb_per_wru: float = 0.625 / MILLION
    dynamodb_per_rru: float = 0.125 / MILLION
    #: Custom events; each 64 KB chunk of an entry is billed as one event.
    put_events_per_event: float = 1.00 / MILLION
    #: API Gateway REST API (the template's AWS::Serverless::Api), first tier.
    rest_api_per_request: float = 3.50 / MILLION
    #: X-Ray traces recorded.
    xray_per_trace: float = 5.00 / MILLION
    #: CloudWatch Logs ingestion (standard class), and storage for the retention the template
    #: sets (``LogRetentionDays``), priced uncompressed (an upper bound: AWS bills it compressed).
    logs_per_gb: float = 0.50
    logs_storage_per_gb_month: float = 0.03


PRICES = Prices()

#: The template's X-Ray sampling rules: the root of a capture's trace (the event capture
#: workflow, the API's stage) decides, and every Lambda downstream follows its decision.
EVENT_TRACE_RULE = "CaptureTraceSampling"
API_TRACE_RULE = "ApiTraceSampling"


def traces_per_capture(rule_logical_id: str, template_path: Path = TEMPLATE) -> float:
    """The share of captures X-Ray records under one of the template's sampling rules: its
    fixed rate. A reservoir would make the share depend on the throughput (the default rule's
    "1 a second" is every capture of a quiet service), so a rule with one is refused here."""
    document = yaml.load(template_path.read_text(), Loader=_CfnLoader)
    rule = document["Resources"][rule_logical_id]["Properties"]["SamplingRule"]
    if int(rule["ReservoirSize"]) != 0:
        raise ValueError(f"{rule_logical_id}: a reservoir makes the traced share throughput-bound")
    return float(rule["FixedRate"])


@dataclass(frozen=True)
class Deployed:
    """What the template deploys that the price depends on."""

    #: MemorySize per function (Globals, or the function's own).
    memory_mb: dict[str, int]
    #: ``LogRetentionDays``' default: how long every function's log group keeps its logs.
    log_retention_days: int
    #: ``LogLevel``'s default: the level the handlers' logs are measured at.
    log_level: str = "INFO"

    def memory_of(self, function_id: str) -> int:
        return self.memory_mb.get(function_id, self.memory_mb.get("", 128))

    def memory_gb(self, function_id: str) -> float:
        return self.memory_of(function_id) / 1024


def deployed(template_path: Path = TEMPLATE) -> Deployed:
    document = yaml.load(template_path.read_text(), Loader=_CfnLoader)
    default = int(document.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    memory = {"": default}
    for logical_id, resource in document["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            memory[logical_id] = int(resource["Properties"].get("MemorySize", default))
    parameters = document["Parameters"]
    return Deployed(
        memory_mb=memory,
        log_retention_days=int(parameters["LogRetentionDays"]["Default"]),
        log_level=str(parameters["LogLevel"]["Default"]),
    )


#: Days in a month, as CloudWatch Logs bills storage per GB-month.
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class Cost:
    """Per 1,000,000 executions like the measured one, in dollars."""

    standard: float
    express: float
    lambda_requests: float
    lambda_duration: float
    dynamodb: float
    put_events: float
    api_gateway: float
    xray: float
    logs: float
    #: ApiFunction's share of lambda_duration: its wait on StartSyncExecution (API only)
    api_wait: float = 0.0
    #: CloudWatch Logs bytes per execution: the handlers' measured lines and Lambda's own.
    log_bytes: int = 0
    #: Of ``log_bytes``, what each function's handler wrote (measured).
    handler_log_bytes: dict[str, int] = field(default_factory=dict)

    @property
    def shared(self) -> float:
        return (
            self.lambda_requests
            + self.lambda_duration
            + self.dynamodb
            + self.put_events
            + self.api_gateway
            + self.xray
            + self.logs
        )

    @property
    def total_standard(self) -> float:
        return self.standard + self.shared

    @property
    def total_express(self) -> float:
        return self.express + self.shared


def cost_per_million(
    run: Run,
    invoked: list[str],
    *,
    api: bool = False,
    prices: Prices = PRICES,
    template: Deployed | None = None,
) -> Cost:
    """Cost of 1,000,000 executions like ``run`` (``invoked``: the Lambda tasks it ran).
    ``api``: the whole HTTP request besides: API Gateway, and ApiFunction billed for its own
    work plus its wait on StartSyncExecution (the Express execution's duration). Lambda
    duration is billed at each function's MemorySize in the template (``bench.durations``:
    CPU-bound work the same GB-seconds at any size, waits in proportion to it); logs are
    ingested and kept for the template's ``LogRetentionDays``: the bytes the run's functions wrote
    (``run.log_bytes``, measured; an authorizer's, cached per key, not priced) and Lambda's own
    lines per invocation."""
    stack = template or deployed()
    traces = traces_per_capture(API_TRACE_RULE if api else EVENT_TRACE_RULE)
    seconds = express_seconds(invoked, stack.memory_of)
    gb_seconds = sum(duration_of(f).gb_seconds(stack.memory_of(f)) for f in invoked) + (
        ASSUMED_API_OWN.gb_seconds(stack.memory_of("ApiFunction")) if api else 0.0
    )
    invocations = run.requests["Lambda.Invoke"] + (1 if api else 0)
    api_wait = (
        seconds * stack.memory_gb("ApiFunction") * prices.lambda_per_gb_second * MILLION
        if api
        else 0.0
    )
    priced = {*invoked, *(["ApiFunction"] if api else [])}
    handler_log_bytes = {f: count for f, count in run.log_bytes.items() if f in priced}
    log_bytes = sum(handler_log_bytes.values()) + invocations * platform_bytes_per_invocation()
    log_gb = log_bytes / 1024**3
    log_months = stack.log_retention_days / DAYS_PER_MONTH
    return Cost(
        standard=run.transitions * prices.standard_per_transition * MILLION,
        express=(
            prices.express_per_request
            + seconds * prices.express_billed_memory_gb * prices.express_per_gb_second
        )
        * MILLION,
        lambda_requests=invocations * prices.lambda_per_request * MILLION,
        lambda_duration=gb_seconds * prices.lambda_per_gb_second * MILLION + api_wait,
        dynamodb=(
            run.capacity.wru * prices.dynamodb_per_wru + run.capacity.rru * prices.dynamodb_per_rru
        )
        * MILLION,
        put_events=run.put_event_chunks * prices.put_events_per_event * MILLION,
        api_gateway=prices.rest_api_per_request * MILLION if api else 0.0,
        xray=traces * prices.xray_per_trace * MILLION,
        logs=log_gb
        * (prices.logs_per_gb + log_months * prices.logs_storage_per_gb_month)
        * MILLION,
        api_wait=api_wait,
        log_bytes=log_bytes,
        handler_log_bytes=handler_log_bytes,
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


#: The confirmation workflow's states when the provider confirms (AwaitProviderConfirmation,
#: EmitCaptured, Captured): an asynchronous capture bills them besides its capture workflow's
#: (which Record starts with StartExecution: no state of the capture workflow's own).
CONFIRMATION_STATES = 3
#: EmitCaptured's PutEvents: the one `Payment Captured` of an asynchronous capture (Record
#: announces nothing while the provider has only received it), one 64 KB chunk.
CONFIRMATION_PUT_EVENTS = 1


def confirmed_later(run: Run) -> Run:
    """An asynchronous capture's measured run (the capture workflow and the confirmation
    workflow up to its wait) with what the confirmation bills once the provider confirms:
    its states and its `Payment Captured`. The webhook's own request (API Gateway,
    ApiFunction, its ledger writes) is not measured here."""
    return replace(
        run,
        transitions=run.transitions + CONFIRMATION_STATES,
        put_event_chunks=run.put_event_chunks + CONFIRMATION_PUT_EVENTS,
    )
