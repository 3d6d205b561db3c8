"""The bench's asynchronous-capture cost (issue 15): what the confirmation workflow bills once
the provider confirms, besides the measured capture workflow and its wait."""

from __future__ import annotations

from collections import Counter

import pytest

from order_capture_local.bench.cost import confirmed_later, cost_per_million
from order_capture_local.bench.recording import Run
from order_capture_local.bench.sizes import Capacity
from order_capture_local.executions import ExecutionReport
from tests.unit.bench_cost_support import STEPS


def _handed_over() -> Run:
    """An asynchronous capture as the bench measures it: Record announced nothing (the
    provider only received the capture), AwaitConfirmation ran inside the window."""
    return Run(
        report=ExecutionReport("async", "arn:async", "SUCCEEDED", []),
        requests=Counter({"Lambda.Invoke": len(STEPS) + 1}),
        ledger_requests=5,
        other_table_requests=0,
        provider_captures=1,
        seconds=0.0,
        transitions=len(STEPS),
        retries=0,
        largest_payload=0,
        capacity=Capacity(rru=8, wru=15),
        largest_item=0,
        put_event_chunks=0,
    )


def test_defect_15_an_asynchronous_capture_pays_for_its_payment_captured_event() -> None:
    # When the asynchronous row is priced
    cost = cost_per_million(confirmed_later(_handed_over()), [*STEPS, "AwaitConfirmationFunction"])

    # Then it bills the confirmation workflow's three states besides the capture workflow's
    # four, and EmitCaptured's `Payment Captured` (one event per capture)
    assert cost.standard == pytest.approx(7 * 25.0)
    assert cost.put_events == pytest.approx(1.00)
