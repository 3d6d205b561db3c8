"""What the bench's cost model tests share: a measured run's figures and the template's sizes
with one changed."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

from order_capture_local.bench.cost import Deployed

STEPS = ["ValidateFunction", "ComputeAmountFunction", "CaptureFunction", "RecordFunction"]


def run_of_steps(log_bytes: dict[str, int] | None = None) -> Any:
    """A 2-line capture's counts (the bench's ``Run`` fields the cost reads)."""
    return SimpleNamespace(
        requests=Counter({"Lambda.Invoke": len(STEPS)}),
        capacity=SimpleNamespace(wru=16, rru=10),
        put_event_chunks=1,
        transitions=4,
        log_bytes=Counter(log_bytes or {}),
    )


def with_memory(stack: Deployed, function_id: str, megabytes: int) -> Deployed:
    """``stack`` with ``function_id`` sized ``megabytes``."""
    return Deployed(
        memory_mb={**stack.memory_mb, function_id: megabytes},
        log_retention_days=stack.log_retention_days,
        log_level=stack.log_level,
    )
