"""BENCHMARKS.md, "Memory size: price against cold start": for the functions that mostly wait,
what each MemorySize costs per million captures and what its cold start would take (the cold
starts measured in this run, at that size's share of a vCPU)."""

from __future__ import annotations

from order_capture_local.bench.cold import ColdResult
from order_capture_local.bench.cost import MILLION, PRICES, Deployed, deployed
from order_capture_local.bench.durations import (
    ASSUMED_API_OWN,
    MB_PER_VCPU,
    Duration,
    cold_start_seconds,
    duration_of,
    express_seconds,
)

#: The sizes compared, MB.
SIZES = (128, 256, 512, 1024)
#: The steps of a capture (the API's Express execution runs them).
CAPTURE_STEPS = ["ValidateFunction", "ComputeAmountFunction", "CaptureFunction", "RecordFunction"]
#: The functions that mostly wait: Capture on the provider, ApiFunction on the workflow.
WAITING = ("CaptureFunction", "ApiFunction")


def duration_cost(function_id: str, memory_mb: int, stack: Deployed) -> float:
    """Dollars of Lambda duration per 1M captures for ``function_id`` at ``memory_mb``, the
    others as the template sizes them (ApiFunction: its own work and its wait on the
    Express execution)."""
    if function_id == "ApiFunction":
        waited = express_seconds(CAPTURE_STEPS, stack.memory_of) * 1000
        duration = Duration(ASSUMED_API_OWN.cpu_ms_at_512, ASSUMED_API_OWN.wait_ms + waited)
    else:
        duration = duration_of(function_id)
    return duration.gb_seconds(memory_mb) * PRICES.lambda_per_gb_second * MILLION


def render_memory(cold: ColdResult | None, stack: Deployed | None = None) -> list[str]:
    stack = stack or deployed()
    lines = [
        "## Memory size: price against cold start",
        "",
        "Lambda's CPU share follows MemorySize (one vCPU at "
        f"{MB_PER_VCPU:,} MB): a wait costs in proportion to the size, CPU-bound work the same "
        "at any size, and a cold start takes longer the smaller the function. *Duration per "
        "1M*: the function's Lambda duration per million captures at that size "
        "(bench/durations.py). *Cold start*: this run's cold-start CPU time (Init; Init + "
        "first invocation) at that size's share of a vCPU, taking a core here for a Lambda "
        "vCPU (an estimate: this machine is shared). **Bold**: the template's size.",
        "",
        "| Function | Size | Duration per 1M | Cold start: Init | Init + first invocation |",
        "|---|---|---|---|---|",
    ]
    for function_id in WAITING:
        deployed_mb = stack.memory_of(function_id)
        for size in SIZES:
            label = f"**{size} MB**" if size == deployed_mb else f"{size} MB"
            if cold is None or function_id not in cold.handlers:
                init = ready = "not measured"
            else:
                init_cpu, ready_cpu = cold.handlers[function_id]
                init = f"{cold_start_seconds(init_cpu, size):.1f} s"
                ready = f"{cold_start_seconds(ready_cpu, size):.1f} s"
            lines.append(
                f"| {function_id} | {label} | ${duration_cost(function_id, size, stack):,.2f} "
                f"| {init} | {ready} |"
            )
    lines.append("")
    return lines
