"""An API capture's answer without a read after its execution (issue 15): the execution's output
carries the order's totals after the capture, and the capture's lines are the ones ApiFunction
planned when the Capture step reserved on the order ApiFunction read. When a racing request
moved the order in between, the answer comes from one read, as before: right either way.

The capture workflow's four steps run in-process, on the in-memory ledger, as the state
machine chains them (Validate -> ComputeAmount -> Capture -> Record)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from order_capture.domain import merchant_api, service
from order_capture.handlers import capture, compute_amount, record, validate
from order_capture.models import CaptureRequest, ItemQuantity, OrderPlacedDetail
from order_capture.ports import WorkflowResult
from order_capture_local.memory_ledger import MemoryLedger
from tests.factories import order_placed
from tests.fake_providers import RecordingProvider
from tests.support import FakeLambdaContext, FixedClock, RecordingPublisher


class CountingReads(MemoryLedger):
    """The in-memory ledger, counting the reads the API's use case makes itself."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.in_workflow = False

    def get_order_and_capture(self, *args: Any) -> Any:
        return self._read(super().get_order_and_capture, *args)

    def get_capture(self, *args: Any) -> Any:
        return self._read(super().get_capture, *args)

    def _read(self, read: Callable[..., Any], *args: Any) -> Any:
        counted = not self.in_workflow
        self.reads += counted
        self.in_workflow = True  # a read made of other reads is one
        try:
            return read(*args)
        finally:
            self.in_workflow = not counted


class InProcessWorkflow:
    """The capture workflow's steps, in-process; ``before`` runs first (a racing request)."""

    def __init__(
        self, ledger: CountingReads, clock: FixedClock, before: Callable[[], None] = lambda: None
    ) -> None:
        self.ledger, self.clock, self.before = ledger, clock, before

    def run(self, execution_input: dict[str, Any], name: str) -> WorkflowResult:
        self.before()
        self.ledger.in_workflow = True
        try:
            return self._steps(execution_input, name)
        finally:
            self.ledger.in_workflow = False

    def _steps(self, execution_input: dict[str, Any], name: str) -> WorkflowResult:
        context, provider = FakeLambdaContext(), RecordingProvider()
        state = validate.handle(execution_input, context, repository=self.ledger)
        state["validated"] = compute_amount.handle(state, context, clock=self.clock)
        state["capture"] = capture.handle(
            {"planned": state["validated"], "execution_id": name},
            context,
            repository=self.ledger,
            provider=provider,
            clock=self.clock,
        )
        output = record.handle_success(
            {"capture": state["capture"], "execution_id": name},
            context,
            repository=self.ledger,
            clock=self.clock,
            publisher=RecordingPublisher(),
            providers=provider,
        )
        return WorkflowResult(status="SUCCEEDED", output=output)


def _ledger_with_order(clock: FixedClock) -> CountingReads:
    ledger = CountingReads()
    detail = OrderPlacedDetail.model_validate(order_placed(order_id="order-1")["detail"])
    service.register_order(ledger, detail, clock)
    return ledger


def _request(shipment_id: str, item_id: str) -> CaptureRequest:
    return CaptureRequest(
        merchant_id="merchant-1",
        order_id="order-1",
        shipment_id=shipment_id,
        items=[ItemQuantity(item_id=item_id, quantity=1)],
        trigger="api",
    )


def test_defect_15_an_api_capture_is_answered_from_its_execution_without_reading_again() -> None:
    clock = FixedClock()
    ledger = _ledger_with_order(clock)
    workflow = InProcessWorkflow(ledger, clock)

    # When a capture of one unit is requested through the API
    answer = merchant_api.capture(ledger, workflow, _request("s1", "line-1"), clock)

    # Then the use case read the ledger once (before the execution), not again after it
    assert ledger.reads == 1
    # And its answer is what the ledger holds now
    order, stored = ledger.get_order_and_capture("merchant-1", "order-1", answer.capture.capture_id)
    assert order is not None and stored is not None
    assert answer.capture.lines == stored.lines != []
    assert answer.capture.amount == stored.amount
    assert answer.totals.remaining_capture_amount == merchant_api.remaining_capture_amount(order)
    assert answer.totals.captured_amount == order.captured_amount
    assert answer.totals.reserved_amount == order.reserved_amount == 0


def test_an_api_capture_that_a_racing_request_moved_reads_its_answer_again() -> None:
    clock = FixedClock()
    ledger = _ledger_with_order(clock)
    # Given another capture that reserves and confirms between ApiFunction's read and the
    # execution (the execution plans again on the order it moved)
    racing = InProcessWorkflow(ledger, clock)

    def capture_line_2_first() -> None:
        merchant_api.capture(ledger, racing, _request("s-racing", "line-2"), clock)

    workflow = InProcessWorkflow(ledger, clock, before=capture_line_2_first)

    # When a capture of line-1 is requested
    answer = merchant_api.capture(ledger, workflow, _request("s1", "line-1"), clock)

    # Then its answer is read again after the execution (its totals are not the read's plus
    # its own), and is what the ledger holds: both captures counted
    assert ledger.reads == 1 + 2  # the racing request's one, and this one's two
    order, stored = ledger.get_order_and_capture("merchant-1", "order-1", answer.capture.capture_id)
    assert order is not None and stored is not None
    assert answer.capture.lines == stored.lines
    assert answer.totals == order.totals()
    assert order.capture_count == 2
