"""The real statemachine/capture.asl.json executed on the local runtime; history asserted."""

from __future__ import annotations

import threading
from typing import Any

from order_capture.models import capture_id_for
from order_capture_local.runtime import LocalRuntime
from order_capture_local.sandbox import SandboxServer
from tests.factories import EXAMPLE_ORDER_TOTAL, load_event, order_shipped
from tests.statemachine.workflow_support import (
    CAPTURED_PATH,
    captures,
    lambda_failures,
    order_item,
    place,
    ship,
)


def test_two_shipments_capture_the_order_total(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    # Given a registered order
    place(runtime)
    # When it ships in two shipments
    first = ship(
        runtime,
        "shipment-1",
        [{"item_id": "line-1", "quantity": 2}, {"item_id": "line-2", "quantity": 1}],
    )
    second = ship(runtime, "shipment-2")
    # Then both executions walk the capture path and the captures add up to the order total
    assert first.status == second.status == "SUCCEEDED"
    assert first.states == second.states == CAPTURED_PATH
    assert first.output["amount"] + second.output["amount"] == EXAMPLE_ORDER_TOTAL
    assert {c["status"] for c in captures(runtime)} == {"captured"}
    order = order_item(runtime)
    assert (order["captured_amount"], order["reserved_amount"]) == (EXAMPLE_ORDER_TOTAL, 0)
    # And the provider captured exactly those amounts, once each
    assert sorted(c["amount"] for c in sandbox.state.captures) == sorted(
        [first.output["amount"], second.output["amount"]]
    )
    emitted = [e for e in runtime.emitted_events if e["detail-type"] == "Payment Captured"]
    assert [e["detail"]["shipment_id"] for e in emitted] == ["shipment-1", "shipment-2"]
    assert all(e["source"] == "order-capture" for e in emitted)


def test_shipment_with_nothing_left_ends_as_nothing_to_capture(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    place(runtime)
    ship(runtime, "shipment-1")
    again = ship(runtime, "shipment-2")
    assert again.status == "SUCCEEDED"
    assert again.states == CAPTURED_PATH
    assert again.output["nothing_to_capture"] is True
    assert again.output["capture_id"] == capture_id_for("merchant-1", "order-1001", "shipment-2")
    assert len(sandbox.state.captures) == 1


def test_redelivered_shipment_returns_the_first_result(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    place(runtime)
    first = ship(runtime, "shipment-1")
    duplicate = ship(runtime, "shipment-1")
    assert duplicate.states == CAPTURED_PATH
    # The same capture; only the execution that made it adds the order's totals after it
    # (``order_after``, for the API's answer): the duplicate wrote nothing
    assert "order_after" not in duplicate.output
    assert duplicate.output == {k: v for k, v in first.output.items() if k != "order_after"}
    assert len(sandbox.state.captures) == 1
    assert len(captures(runtime)) == 1


def test_provider_unavailable_is_retried_with_the_same_key(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    place(runtime)
    sandbox.add_fault("unavailable", count=1, status=503)
    execution = ship(runtime, "shipment-1")
    assert execution.status == "SUCCEEDED"
    assert execution.states == CAPTURED_PATH
    failures = lambda_failures(runtime, execution)
    assert failures == ["ProviderUnavailableError"]
    assert len(sandbox.state.captures) == 1
    assert sandbox.state.captures[0]["amount"] == EXAMPLE_ORDER_TOTAL


def test_provider_decline_records_failure_and_releases_the_reservation(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    place(runtime)
    sandbox.add_fault("decline", count=1)
    execution = ship(runtime, "shipment-1")
    assert execution.status == "FAILED"
    assert execution.error == "CaptureFailed"
    assert execution.states == [
        "Validate",
        "ComputeAmount",
        "Capture",
        "RecordFailure",
        "FailureToAnnounce?",
        "EmitCaptureFailed",
        "CaptureFailed",
    ]
    (capture,) = captures(runtime)
    assert capture["status"] == "failed"
    assert capture["failure"]["reason"] == "provider_declined"
    order = order_item(runtime)
    assert order["reserved_amount"] == 0
    assert all(line["shipped_quantity"] == 0 for line in order["lines"])
    failed = [e for e in runtime.emitted_events if e["detail-type"] == "Payment Capture Failed"]
    assert failed[0]["detail"]["reason"] == "provider_declined"
    # The released units ship again later under a new shipment.
    retry = ship(runtime, "shipment-2")
    assert retry.status == "SUCCEEDED"
    assert retry.output["amount"] == EXAMPLE_ORDER_TOTAL


def test_an_authorization_the_provider_says_expired_fails_and_releases_the_reservation(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    place(runtime)
    sandbox.add_fault("expired_authorization", count=1)
    execution = ship(runtime, "shipment-1")
    assert (execution.status, execution.error) == ("FAILED", "CaptureFailed")
    assert execution.states[-4:] == [
        "RecordFailure",
        "FailureToAnnounce?",
        "EmitCaptureFailed",
        "CaptureFailed",
    ]
    failures = lambda_failures(runtime, execution)
    # Terminal: not retried, so the provider was asked once
    assert failures == ["ProviderAuthorizationExpiredError"]
    (capture,) = captures(runtime)
    assert (capture["status"], capture["failure"]["reason"]) == ("failed", "authorization_expired")
    assert order_item(runtime)["reserved_amount"] == 0
    assert sandbox.state.captures == []


def test_a_slow_provider_within_the_timeout_captures_once(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    place(runtime)
    sandbox.add_fault("latency", count=1, delay_seconds=0.5)
    execution = ship(runtime, "shipment-1")
    assert (execution.status, execution.states) == ("SUCCEEDED", CAPTURED_PATH)
    assert lambda_failures(runtime, execution) == []
    assert [c["amount"] for c in sandbox.state.captures] == [EXAMPLE_ORDER_TOTAL]
    assert order_item(runtime)["captured_amount"] == EXAMPLE_ORDER_TOTAL


def test_invalid_event_fails_in_validate_naming_the_field(runtime: LocalRuntime) -> None:
    place(runtime)
    execution = ship(runtime, "shipment-bad", [{"item_id": "line-1", "quantity": 0}])
    assert execution.status == "FAILED"
    assert execution.states == [
        "Validate",
        "RecordFailure",
        "FailureToAnnounce?",
        "EmitCaptureFailed",
        "CaptureFailed",
    ]
    (capture,) = captures(runtime)
    assert capture["failure"]["error"] == "InvalidEventError"
    assert "detail.items[0].quantity" in capture["failure"]["message"]


def test_event_naming_no_order_is_recorded_against_the_execution(runtime: LocalRuntime) -> None:
    event = order_shipped("shipment-1")
    event["detail"] = {"shipment_id": "shipment-1"}
    (delivery,) = runtime.put_events([event])
    (execution,) = delivery.executions
    assert execution.status == "FAILED"
    (orphan,) = [item for item in runtime.ledger() if item["PK"].startswith("EXECUTION#")]
    assert orphan["reason"] == "invalid_event"
    assert "detail.merchant_id" in orphan["message"]


def test_concurrent_shipments_of_one_order_never_overlap(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    place(runtime)
    # Both executions read the order before either reserves: one must lose the conditional
    # write and plan again from the order the winner left.
    both_planned = threading.Barrier(2, timeout=180)  # a guard against a hang, not a timing
    calls = []

    def hold_first_two(payload: Any) -> None:
        calls.append(payload)
        if len(calls) <= 2:
            both_planned.wait()

    runtime.fault_hooks["ComputeAmountFunction"] = hold_first_two
    arns = [
        runtime.start_execution("CaptureStateMachine", order_shipped(shipment_id, items))
        for shipment_id, items in [
            ("shipment-a", [{"item_id": "line-1", "quantity": 3}]),
            ("shipment-b", [{"item_id": "line-2", "quantity": 2}]),
        ]
    ]
    executions = [runtime.wait_for(arn) for arn in arns]
    assert [e.status for e in executions] == ["SUCCEEDED", "SUCCEEDED"]
    # The loser plans again in its Capture step, on the order the winner left (defect 13: no
    # round through Validate and ComputeAmount for a lost race)
    validations = sorted(e.states.count("Validate") for e in executions)
    assert validations == [1, 1], [e.states for e in executions]
    assert sum(e.output["amount"] for e in executions) == EXAMPLE_ORDER_TOTAL
    assert sum(c["amount"] for c in sandbox.state.captures) == EXAMPLE_ORDER_TOTAL
    order = order_item(runtime)
    assert [line["shipped_quantity"] for line in order["lines"]] == [3, 2]


def test_a_shipment_that_failed_before_its_order_existed_captures_when_redelivered(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    # Order Shipped overtakes Order Placed by longer than Validate's retries wait.
    early = ship(runtime, "shipment-1")
    assert early.status == "FAILED"
    (failed,) = captures(runtime)
    assert (failed["status"], failed["failure"]["reason"]) == ("failed", "order_not_found")
    place(runtime)
    # Nothing was reserved or sent: the redelivered shipment is tried afresh, not a duplicate.
    again = ship(runtime, "shipment-1")
    assert again.status == "SUCCEEDED"
    assert again.states == CAPTURED_PATH
    (captured,) = captures(runtime)
    assert (captured["status"], captured["amount"]) == ("captured", EXAMPLE_ORDER_TOTAL)
    assert len(sandbox.state.captures) == 1


def test_review_a_free_line_ships_as_a_capture_of_nothing_never_sent(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    """A free gift (unit price 0) shipped on its own: it was "nothing to capture", its unit
    never shipped, and the order could never be completed. It is a capture of 0, recorded and
    announced, that asks the provider nothing."""
    paid = load_event("order-placed")["detail"]["items"]
    gift = {"item_id": "gift", "sku": "GIFT", "quantity": 1, "unit_amount": 0}
    place(runtime, items=[*paid, gift])
    first = ship(runtime, "shipment-1", [{"item_id": "line-1", "quantity": 3}])
    free = ship(runtime, "shipment-2", [{"item_id": "gift", "quantity": 1}])
    last = ship(runtime, "shipment-3", [{"item_id": "line-2", "quantity": 2}])
    assert [first.status, free.status, last.status] == ["SUCCEEDED"] * 3
    assert free.states == CAPTURED_PATH
    assert (free.output["amount"], free.output["status"]) == (0, "captured")
    assert free.output["provider_reference"] is None
    assert first.output["amount"] + last.output["amount"] == EXAMPLE_ORDER_TOTAL
    assert len(sandbox.state.captures) == 2
    lines = {line["item_id"]: line for line in order_item(runtime)["lines"]}
    assert lines["gift"]["shipped_quantity"] == 1
    emitted = [e for e in runtime.emitted_events if e["detail-type"] == "Payment Captured"]
    assert [(e["detail"]["shipment_id"], e["detail"]["amount"]) for e in emitted] == [
        ("shipment-1", first.output["amount"]),
        ("shipment-2", 0),
        ("shipment-3", last.output["amount"]),
    ]


def test_a_free_line_shipped_last_leaves_the_release_to_the_final_capture(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    """The paid lines ship first and take everything capturable: sent as the final capture,
    it released the rest of the authorization (500 more than the order). The free gift's
    capture of 0 that follows asks the provider for nothing, no second release either."""
    paid = load_event("order-placed")["detail"]["items"]
    gift = {"item_id": "gift", "sku": "GIFT", "quantity": 1, "unit_amount": 0}
    place(runtime, items=[*paid, gift], authorized_amount=EXAMPLE_ORDER_TOTAL + 500)
    paid_shipment = ship(
        runtime,
        "shipment-1",
        [{"item_id": "line-1", "quantity": 3}, {"item_id": "line-2", "quantity": 2}],
    )
    free = ship(runtime, "shipment-2", [{"item_id": "gift", "quantity": 1}])
    assert paid_shipment.output["amount"] == EXAMPLE_ORDER_TOTAL
    assert (free.output["amount"], free.output["status"]) == (0, "captured")
    with sandbox.state.lock:
        releases = [release["by"] for release in sandbox.state.releases]
    assert releases == ["final capture"]
    order = order_item(runtime)
    assert (order["captured_amount"], order["reserved_amount"]) == (EXAMPLE_ORDER_TOTAL, 0)
