"""A hot order: many shipments of one order at once (issue 15). They contend for the order's
version; the losers back off with jitter on OrderChangedError (Capture's retrier) instead of a
round through Validate. The figure is state transitions per capture, retries included (both
are billed); unlike the other counts it varies with timing, the jitter being random."""

from __future__ import annotations

from dataclasses import dataclass

from order_capture_local.bench.recording import Bench, transitions_of
from order_capture_local.bench.scenarios import order_placed, order_shipped
from order_capture_local.eventbridge import normalize_event

#: Shipments of the hot order started at once, one line each.
HOT_SHIPMENTS = 8
#: Issue 15's target: the happy path's 4, plus the retries of lost races.
MAX_HOT_ORDER_TRANSITIONS_PER_CAPTURE = 12


@dataclass(frozen=True)
class HotOrderResult:
    shipments: int
    succeeded: int
    transitions: int

    @property
    def per_capture(self) -> float:
        return self.transitions / self.shipments

    @property
    def met(self) -> bool:
        return (
            self.succeeded == self.shipments
            and self.per_capture <= MAX_HOT_ORDER_TRANSITIONS_PER_CAPTURE
        )


def measure_hot_order(bench: Bench, shipments: int = HOT_SHIPMENTS) -> HotOrderResult:
    runtime = bench.runtime
    bench.register(order_placed("order-hot", lines=shipments, quantity=1))
    machine_id = next(iter(runtime.state_machine_arns))
    arns = [
        runtime.start_execution(
            # As EventBridge delivers it (the envelope's fields filled in).
            machine_id,
            normalize_event(order_shipped("order-hot", f"hot-{n}", [(f"line-{n}", 1)])),
        )
        for n in range(1, shipments + 1)
    ]
    reports = [runtime.wait_for(arn, 300) for arn in arns]
    return HotOrderResult(
        shipments=shipments,
        succeeded=sum(1 for report in reports if report.status == "SUCCEEDED"),
        transitions=sum(transitions_of(runtime.history(report.arn))[0] for report in reports),
    )
