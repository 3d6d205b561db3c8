"""ApiFunction's cost per API capture: its wait on StartSyncExecution is billed at its own
MemorySize, its CPU-bound work the same GB-seconds at any size (issue 15, API cost)."""

from __future__ import annotations

from pathlib import Path

from order_capture_local.bench.cost import Deployed, cost_per_million, deployed
from tests.unit.bench_cost_support import STEPS, run_of_steps, with_memory

ROOT = Path(__file__).resolve().parents[2]


def _with_api_memory(megabytes: int) -> Deployed:
    return with_memory(deployed(ROOT / "template.yaml"), "ApiFunction", megabytes)


def test_the_api_wait_is_billed_in_proportion_to_api_function_memory() -> None:
    small = cost_per_million(run_of_steps(), STEPS, api=True, template=_with_api_memory(256))
    large = cost_per_million(run_of_steps(), STEPS, api=True, template=_with_api_memory(512))
    assert small.api_wait > 0
    assert large.api_wait == 2 * small.api_wait
    # The rest of Lambda duration (the steps and ApiFunction's CPU-bound work) is unchanged.
    assert large.lambda_duration - large.api_wait == small.lambda_duration - small.api_wait


def test_api_function_memory_is_below_the_steps_default() -> None:
    # The wait is most of what ApiFunction is billed for: it gets less memory than the steps.
    stack = deployed(ROOT / "template.yaml")
    assert stack.memory_mb["ApiFunction"] < stack.memory_mb[""]
