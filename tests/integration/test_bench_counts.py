"""The request budget of one capture (issue 6), from the benchmark's own counting: counts only,
never times, so it holds on any machine."""

from __future__ import annotations

from order_capture_local.bench.recording import Bench, Run
from order_capture_local.bench.scenarios import measure_api, order_placed, order_shipped
from order_capture_local.bench.targets import (
    MAX_CAPTURE_TRANSITIONS,
    MAX_DYNAMODB_REQUESTS,
    MAX_PUT_EVENTS,
)
from order_capture_local.runtime import LocalRuntime


def _capture_after(bench: Bench, order_id: str, earlier_captures: int) -> Run:
    bench.register(order_placed(order_id, lines=2, quantity=earlier_captures + 1))
    one_of_each = [("line-1", 1), ("line-2", 1)]
    for number in range(earlier_captures):
        bench.capture_directly(order_shipped(order_id, f"earlier-{number}", one_of_each))
    return bench.deliver(order_shipped(order_id, "measured", one_of_each))


def test_a_capture_stays_within_the_request_budget(runtime: LocalRuntime) -> None:
    bench = Bench(runtime)

    # Given an order with no earlier capture, and one with ten
    first = _capture_after(bench, "order-fresh", earlier_captures=0)
    later = _capture_after(bench, "order-ten-earlier", earlier_captures=10)

    # Then each shipment captures once, within the budget
    for run in (first, later):
        assert run.report.status == "SUCCEEDED"
        assert 1 <= run.ledger_requests <= MAX_DYNAMODB_REQUESTS
        assert run.requests["EventBridge.PutEvents"] == MAX_PUT_EVENTS
        assert run.provider_captures == 1
        # And it enters the four Lambda steps and no other state (issue 15: Standard bills
        # each state entered; the Choice states are folded into the steps)
        assert run.transitions == MAX_CAPTURE_TRANSITIONS
    # And the requests do not grow with the order's history
    assert first.requests == later.requests
    assert first.ledger_requests == later.ledger_requests


def test_an_api_capture_is_counted_end_to_end_and_its_replay_starts_nothing(
    runtime: LocalRuntime,
) -> None:
    bench = Bench(runtime)

    # When an API capture is posted, replayed with its Idempotency-Key, then one by amount
    capture, replay, by_amount = measure_api(bench)

    # Then each capture runs one Express execution whose steps stay within the budget
    for run in (capture, by_amount):
        assert run.status_code == 200
        assert not run.replayed
        assert run.execution is not None
        assert run.execution.report.status == "SUCCEEDED"
        assert run.requests["SFN.StartSyncExecution"] == 1
        assert 1 <= run.workflow_ledger_requests <= MAX_DYNAMODB_REQUESTS
        assert run.requests["EventBridge.PutEvents"] == MAX_PUT_EVENTS
        assert run.provider_captures == 1
        assert run.execution.transitions == MAX_CAPTURE_TRANSITIONS
        # And the workflow does not read again what ApiFunction read just before it (issue 15):
        # Capture's read, the reserve and the confirm; ApiFunction's check only
        assert (run.workflow_ledger_requests, run.api_ledger_requests) == (3, 1)
        # And the idempotency record is counted apart from the ledger
        assert sum(run.idempotency_requests.values()) >= 1
    # And the key is read once, by the authorizer, on the first request: API Gateway keeps
    # its answer, so the next capture (and ApiFunction always) reads no key
    assert capture.api_key_requests == 1
    assert by_amount.api_key_requests == 0
    # And the replay answers from the idempotency record alone
    assert replay.status_code == 200
    assert replay.replayed
    assert replay.execution is None
    assert replay.ledger_requests == 0
    assert replay.provider_captures == 0
    assert "SFN.StartSyncExecution" not in replay.requests
    assert "EventBridge.PutEvents" not in replay.requests
    assert sum(replay.idempotency_requests.values()) >= 1


def test_defect_15_an_api_capture_answers_from_the_workflow_output_in_4_ledger_requests(
    runtime: LocalRuntime,
) -> None:
    bench = Bench(runtime)

    # When an API capture by items, then one by amount, are posted
    capture, _, by_amount = measure_api(bench)

    # Then neither reads the order again after its execution: its output carries the order's
    # totals after the capture, and the lines are the ones ApiFunction planned (issue 15)
    for run in (capture, by_amount):
        assert run.status_code == 200
        assert run.api_ledger_requests + run.workflow_ledger_requests <= MAX_DYNAMODB_REQUESTS
        assert run.requests.get("DynamoDB.GetItem", 0) == run.api_key_requests


def test_defect_15_a_2_line_capture_reads_no_capture_lines_item(runtime: LocalRuntime) -> None:
    bench = Bench(runtime)

    # When a 2-line order's shipment is captured
    run = _capture_after(bench, "order-reads", earlier_captures=0)

    # Then Validate and Capture each read the order's items (header, catalog, LINE_COUNTERS:
    # in the same request, whatever the order's size) and the capture sought (not there yet),
    # 1 RRU each: not a CAPTURE_LINES# item, which only a capture of more than 16 lines has
    # and which DynamoDB bills all the same (1 RRU for a strongly consistent read of a
    # missing item)
    assert run.report.status == "SUCCEEDED"
    assert run.capacity.rru == 2 * 4
    assert run.ledger_requests <= MAX_DYNAMODB_REQUESTS
