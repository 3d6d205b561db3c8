"""Cold starts as the cold request pays them: Init plus the first invocation's setup.

Each sample is a fresh interpreter (``python -I -S -B``: nothing but the standard library and the
Lambda tree of ``package.build_tree`` on ``sys.path``, in Lambda's order) with the function's
environment from the template, tracing on as deployed. It imports the handler (Lambda's
*Init*), then invokes it once with the payload the function received first in this run's
scenarios (*ready*). AWS endpoints point at a closed loopback port and the SDK makes one
attempt, so the invocation builds everything its first request needs (clients, credentials,
validators, traces) and stops at that request; the probe then builds what the invocation
would have built next: the clients of its later requests (``LATER_CLIENTS``) and, for
Capture, the order's provider adapter. What is measured is the process's CPU time: on
this shared machine wall time mostly measures the neighbours, and time blocked on sockets is
not counted either way.

Baseline, in the same tree and the same kind of process: ``import boto3`` plus
``boto3.client("dynamodb")``. Subjects and the baseline are interleaved, run after run, so
that the machine's noise hits all alike; the figures are medians of ratios' inputs.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from order_capture_local.bench.package import LambdaTree
from order_capture_local.runtime import LocalRuntime
from order_capture_local.template import LOCAL_REGION

#: Targets (issue 15): Init plus first-invoke setup against the baseline.
STEP_TARGET = 1.2
COMPUTE_AMOUNT_TARGET = 0.8
API_TARGET = 1.5
TARGETS = {"ComputeAmountFunction": COMPUTE_AMOUNT_TARGET, "ApiFunction": API_TARGET}

#: The clients a function's first invocation builds after its first AWS request, which the
#: probe's refused endpoint ends: the probe builds them too (each client of the container's one
#: botocore session costs about 0.02x of the baseline; a client of another session 0.35x).
LATER_CLIENTS: dict[str, list[str]] = {
    # Record and RecordFailure announce what they settled (PutEvents).
    "RecordFunction": ["from order_capture.wiring import default_publisher as p; p().client"],
    "RecordFailureFunction": [
        "from order_capture.wiring import default_publisher as p; p().client"
    ],
    # An API capture: the idempotency record first, then the ledger read and the workflow.
    "ApiFunction": [
        "from order_capture.api.app import default_dependencies as d; d().repository.table.client",
        "from order_capture.api.app import default_dependencies as d; d().workflow.client",
    ],
}

_PROBE = r"""
import json, sys, time
# CPU time, not wall time: the machine is shared, and a cold start is CPU-bound (imports from
# the page cache, client set-up); time blocked on the refused endpoint is not counted either.
clock = time.process_time
started = clock()
paths, module_name, attribute, payload_text = json.loads(sys.argv[1]), *sys.argv[2:5]
sys.path[:0] = paths
if module_name == "boto3":
    import boto3
    boto3.client("dynamodb")
    elapsed = clock() - started
    print("PROBE", json.dumps([elapsed, elapsed]))
    raise SystemExit

class Context:
    function_name = "cold-start-probe"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cold-start-probe"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/cold-start-probe"
    log_stream_name = "probe"
    def get_remaining_time_in_millis(self):
        return 30000

import importlib
handler = getattr(importlib.import_module(module_name), attribute)
initialized = clock() - started
payload = json.loads(payload_text)
if payload is not None:
    try:
        handler(payload, Context())
    except Exception:
        pass  # the first AWS request fails by design: the setup before it is what is measured
    for later in json.loads(sys.argv[5]):
        exec(later)
    plan = (payload.get("planned") or {}).get("plan") if isinstance(payload, dict) else None
    if plan and plan.get("provider"):
        from order_capture.adapters.providers import provider_for
        from order_capture.config import settings
        merchant_id = payload["planned"]["request"]["merchant_id"]
        provider_for(plan["provider"], settings(), merchant_id=merchant_id)
print("PROBE", json.dumps([initialized, clock() - started]))
"""


@dataclass
class ColdResult:
    runs: int
    baseline_seconds: float
    #: function -> (median Init, median Init plus first-invoke setup)
    handlers: dict[str, tuple[float, float]]
    #: the functions the state machines invoke (the step-handler target applies to them)
    steps: frozenset[str] = frozenset()
    #: functions whose first invocation was not measured (no payload seen in the scenarios)
    init_only: frozenset[str] = frozenset()
    #: The same tree without bytecode, as SAM's python3.13 builder left it (wheels unpacked
    #: and code copied, nothing compiled): median baseline and Validate's ready, seconds.
    without_bytecode: tuple[float, float] | None = None

    def ratio(self, function_id: str) -> float:
        return self.handlers[function_id][1] / self.baseline_seconds

    def target(self, function_id: str) -> float | None:
        if function_id in TARGETS:
            return TARGETS[function_id]
        return STEP_TARGET if function_id in self.steps else None

    def met(self, function_id: str) -> bool:
        target = self.target(function_id)
        return target is None or self.ratio(function_id) <= target


@dataclass
class FirstPayloads:
    """The first payload each function was invoked with, recorded on the runtime."""

    payloads: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def recording(self, runtime: LocalRuntime) -> Iterator[None]:
        original: Callable[[str, Any], Any] = runtime.invoke

        def invoke(function_id: str, event: Any) -> Any:
            self.payloads.setdefault(function_id, json.loads(json.dumps(event)))
            return original(function_id, event)

        runtime.invoke = invoke  # type: ignore[method-assign]
        try:
            yield
        finally:
            del runtime.invoke


def _closed_port() -> int:
    """A loopback port nobody listens on: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _lambda_environment(runtime: LocalRuntime, function_id: str, port: int) -> dict[str, str]:
    function = runtime.template.functions[function_id]
    environment = {
        key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG"}
    }
    environment.update(function.environment)
    environment.update(
        {
            "AWS_REGION": LOCAL_REGION,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_ACCESS_KEY_ID": "cold-start-probe",
            "AWS_SECRET_ACCESS_KEY": "cold-start-probe",
            "AWS_SESSION_TOKEN": "cold-start-probe",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_RETRY_MODE": "standard",
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            # Active tracing, as deployed: a sampled invocation and a daemon address (UDP).
            "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;"
            "Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{port}",
            "POWERTOOLS_METRICS_DISABLED": "false",
        }
    )
    return environment


def _probe(
    tree: LambdaTree,
    module: str,
    attribute: str,
    payload: Any,
    environment: dict[str, str],
    *,
    later: tuple[str, ...] = (),
) -> tuple[float, float]:
    completed = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            # /var/task and /opt are read-only on Lambda: a module without bytecode in the
            # tree is compiled at every cold start, never cached for the next probe.
            "-B",
            "-c",
            _PROBE,
            json.dumps(tree.sys_path),
            module,
            attribute,
            json.dumps(payload),
            json.dumps(list(later)),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("PROBE ")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"cold-start probe of {module} failed: {completed.stderr[-2000:]}")
    initialized, ready = json.loads(lines[-1].removeprefix("PROBE "))
    return float(initialized), float(ready)


def measure_cold_starts(
    runtime: LocalRuntime, tree: LambdaTree, payloads: dict[str, Any], runs: int
) -> ColdResult:
    port = _closed_port()
    subjects = {
        function_id: function.handler.rpartition(".")
        for function_id, function in runtime.template.functions.items()
    }
    any_function = next(iter(subjects))
    baseline: list[float] = []
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in subjects}
    for run in range(runs):
        print(f"bench: cold starts, run {run + 1} of {runs} ...", file=sys.stderr)
        environment = _lambda_environment(runtime, any_function, port)
        baseline.append(_probe(tree, "boto3", "client", None, environment)[0])
        for function_id, (module, _, attribute) in subjects.items():
            environment = _lambda_environment(runtime, function_id, port)
            payload = payloads.get(function_id)
            later = tuple(LATER_CLIENTS.get(function_id, ()))
            samples[function_id].append(
                _probe(tree, module, attribute, payload, environment, later=later)
            )
    without_bytecode = _without_bytecode(
        tree, payloads.get(UNCOMPILED_SUBJECT), runtime, port, runs
    )
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
        init_only=frozenset(name for name in subjects if name not in payloads),
        runs=runs,
        without_bytecode=without_bytecode,
        baseline_seconds=statistics.median(baseline),
        handlers={
            name: (
                statistics.median(init for init, _ in values),
                statistics.median(ready for _, ready in values),
            )
            for name, values in samples.items()
        },
    )


#: The function measured again in a tree without bytecode (with the baseline).
UNCOMPILED_SUBJECT = "ValidateFunction"


def _without_bytecode(
    tree: LambdaTree, payload: Any, runtime: LocalRuntime, port: int, runs: int
) -> tuple[float, float] | None:
    """Baseline and Validate in a copy of ``tree`` without ``__pycache__`` (probes run with
    ``-B``, so every sample compiles every module it imports, as on Lambda)."""
    if payload is None or UNCOMPILED_SUBJECT not in runtime.template.functions:
        return None
    module, _, attribute = runtime.template.functions[UNCOMPILED_SUBJECT].handler.rpartition(".")
    environment = _lambda_environment(runtime, UNCOMPILED_SUBJECT, port)
    with tempfile.TemporaryDirectory() as scratch:
        bare = LambdaTree(Path(scratch) / "function", Path(scratch) / "layer")
        for source, copy in ((tree.function, bare.function), (tree.layer, bare.layer)):
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
        baseline: list[float] = []
        ready: list[float] = []
        for run in range(runs):
            print(f"bench: without bytecode, run {run + 1} of {runs} ...", file=sys.stderr)
            baseline.append(_probe(bare, "boto3", "client", None, environment)[0])
            ready.append(_probe(bare, module, attribute, payload, environment)[1])
    return statistics.median(baseline), statistics.median(ready)
