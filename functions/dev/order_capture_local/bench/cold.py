"""Cold starts: each function's Init and first-invoke setup in fresh interpreters."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass

from order_capture_local.runtime import (
    PROJECT_ROOT,
    LocalRuntime,
)
from order_capture_local.template import LOCAL_REGION

APP_ROOT = PROJECT_ROOT / "functions" / "app"

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
NO_AWS_CLIENT = frozenset({"ComputeAmountFunction"})
CALLS_PROVIDER = frozenset({"CaptureFunction"})


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
        needs = [] if function_id in NO_AWS_CLIENT else ["ledger"]
        if function_id in CALLS_PROVIDER:
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
