"""Lambda duration as the bench prices it at each function's MemorySize (issue 15, memory
sizes): CPU-bound work is billed the same GB-seconds at any size, a wait in proportion to the
size; the template's sizes are what is priced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from order_capture_local.bench.cold import ColdResult
from order_capture_local.bench.cost import PRICES, cost_per_million, deployed
from order_capture_local.bench.durations import (
    MB_PER_VCPU,
    Duration,
    cold_start_seconds,
    duration_of,
    express_seconds,
)
from order_capture_local.bench.rendering_memory import render_memory
from tests.unit.bench_cost_support import STEPS, run_of_steps, with_memory

ROOT = Path(__file__).resolve().parents[2]


def test_cpu_bound_work_costs_the_same_at_any_size_and_a_wait_in_proportion() -> None:
    cpu, wait = Duration(cpu_ms_at_512=40, wait_ms=0), Duration(cpu_ms_at_512=0, wait_ms=300)
    assert cpu.milliseconds(256) == 80
    assert cpu.gb_seconds(256) == pytest.approx(cpu.gb_seconds(512))
    assert wait.milliseconds(128) == 300
    assert wait.gb_seconds(256) == pytest.approx(wait.gb_seconds(512) / 2)
    # Above one vCPU's size, more memory buys no more CPU
    assert cpu.milliseconds(4 * MB_PER_VCPU) == cpu.milliseconds(MB_PER_VCPU)


def test_a_smaller_capture_lengthens_the_express_execution_by_its_cpu_part() -> None:
    def sized(capture_mb: int) -> Any:
        return lambda f: capture_mb if f == "CaptureFunction" else 512

    at_512 = sum(duration_of(f).milliseconds(512) for f in STEPS)
    slower = duration_of("CaptureFunction").cpu_ms_at_512 * (512 / 128 - 1)
    assert express_seconds(STEPS, sized(512)) == pytest.approx(-(-(at_512 + 100) // 100) / 10)
    assert express_seconds(STEPS, sized(128)) == pytest.approx(
        -(-(at_512 + slower + 100) // 100) / 10
    )


def test_capture_is_priced_at_the_templates_memory_size() -> None:
    stack = deployed(ROOT / "template.yaml")
    capture_mb = stack.memory_of("CaptureFunction")
    priced = cost_per_million(run_of_steps(), STEPS, template=stack)
    at_512 = cost_per_million(
        run_of_steps(), STEPS, template=with_memory(stack, "CaptureFunction", 512)
    )

    # The difference is Capture's wait, at the size's share
    wait = duration_of("CaptureFunction").wait_ms / 1000
    expected = wait * (512 - capture_mb) / 1024 * PRICES.lambda_per_gb_second * 1_000_000
    assert at_512.lambda_duration - priced.lambda_duration == pytest.approx(expected)


def test_capture_is_sized_below_the_steps_default_for_its_wait() -> None:
    # Capture waits ~300 ms on the provider: the template gives it less memory than the steps
    stack = deployed(ROOT / "template.yaml")
    assert stack.memory_of("CaptureFunction") < stack.memory_of("")


def test_a_cold_start_takes_its_cpu_time_at_the_sizes_share_of_a_vcpu() -> None:
    assert cold_start_seconds(0.5, MB_PER_VCPU) == pytest.approx(0.5)
    assert cold_start_seconds(0.5, 256) == pytest.approx(0.5 * MB_PER_VCPU / 256)


def test_the_memory_table_prices_each_size_and_marks_the_templates() -> None:
    stack = deployed(ROOT / "template.yaml")
    cold = ColdResult(runs=1, baseline_seconds=0.5, handlers={"CaptureFunction": (0.4, 0.8)})
    lines = render_memory(cold, stack)
    capture = [line for line in lines if line.startswith("| CaptureFunction |")]
    assert len(capture) == 4
    deployed_row = next(line for line in capture if "**" in line)
    assert f"**{stack.memory_of('CaptureFunction')} MB**" in deployed_row
    at_256 = next(line for line in capture if "| 256 MB" in line or "**256 MB**" in line)
    assert f"{0.8 * MB_PER_VCPU / 256:.1f} s |" in at_256
    assert any("| ApiFunction |" in line and "not measured" in line for line in lines)
