"""Orders at the size limits (issue 12 defect 4, issue 15 scale targets): every order the
service accepts captures, with a small state, flat request units and few requests.

Measured on the local runtime, which fails an execution whose state outgrows 256 KB as AWS does
(``States.DataLimitExceeded`` is not caught by ``States.ALL``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from order_capture.models import MAX_ID_LENGTH, MAX_ORDER_LINES
from order_capture_local.bench.recording import Bench, Run
from order_capture_local.bench.targets import MAX_DYNAMODB_REQUESTS, MAX_WRU_PER_LARGE_CAPTURE
from order_capture_local.runtime import LocalRuntime
from tests.factories import order_placed, order_shipped

pytestmark = pytest.mark.slow(25)  # seconds of CPU: scheduled first (conftest.py)

#: Issue 15's targets for any accepted order.
MAX_STATE_PAYLOAD = 64 * 1024

UNIT_AMOUNT, DISCOUNT, TAX, SHIPPING = 1999, 100, 420, 495


def id_of_length(length: int) -> Callable[[int], str]:
    """Distinct ids of exactly ``length`` characters."""
    return lambda number: f"item-{number:05d}-".ljust(length, "x")[:length]


def uuid_id(number: int) -> str:
    return str(uuid.UUID(int=number))


def large_order(
    order_id: str, lines: int, item_id: Callable[[int], str], sku: Callable[[int], str]
) -> dict[str, Any]:
    items = [
        {
            "item_id": item_id(number),
            "sku": sku(number),
            "quantity": 2,
            "unit_amount": UNIT_AMOUNT,
            "discount_amount": DISCOUNT,
            "tax_amount": TAX,
        }
        for number in range(lines)
    ]
    total = lines * (2 * UNIT_AMOUNT - DISCOUNT + TAX) + SHIPPING
    return order_placed(order_id, items=items, shipping_amount=SHIPPING, authorized_amount=total)


def order_total(event: dict[str, Any]) -> int:
    detail = event["detail"]
    lines = sum(
        item["quantity"] * item["unit_amount"] - item["discount_amount"] + item["tax_amount"]
        for item in detail["items"]
    )
    return int(lines + detail["shipping_amount"])


def largest_produced_payload(history: list[dict[str, Any]]) -> int:
    """The largest input, output or parameters any state produced: every history event's
    payload but those that are the execution's input again (the trigger as it was sent,
    which the first state reads)."""
    started = json.loads(history[0]["executionStartedEventDetails"]["input"])
    largest = 0
    for event in history[1:]:
        for key, details in event.items():
            if not key.endswith("EventDetails") or not isinstance(details, dict):
                continue
            for name in ("input", "output", "parameters"):
                text = details.get(name)
                if isinstance(text, str) and json.loads(text) != started:
                    largest = max(largest, len(text.encode()))
    return largest


def register(bench: Bench, event: dict[str, Any]) -> None:
    bench.register(event)


def ship_measured(bench: Bench, event: dict[str, Any]) -> Run:
    return bench.deliver(event)


def assert_captured_whole(runtime: LocalRuntime, run: Run, placed: dict[str, Any]) -> None:
    assert run.report.status == "SUCCEEDED", (run.report.error, run.report.cause)
    total = order_total(placed)
    assert run.report.output["amount"] == total
    assert run.provider_captures == 1
    order = runtime.repository().get_order("merchant-1", placed["detail"]["order_id"])
    assert (order.captured_amount, order.reserved_amount) == (total, 0)
    assert all(line.open_quantity == 0 for line in order.lines)
    emitted = [
        event
        for event in runtime.emitted_events
        if event["detail-type"] == "Payment Captured"
        and event["detail"]["order_id"] == placed["detail"]["order_id"]
    ]
    assert [event["detail"]["amount"] for event in emitted] == [total]


def test_defect_4_a_1000_line_order_with_128_character_ids_shipped_whole_captures(
    runtime: LocalRuntime,
) -> None:
    bench = Bench(runtime)
    # Given an order of 1,000 lines whose item ids and skus are 128 characters (accepted)
    placed = large_order("order-ids-128", 1000, id_of_length(128), id_of_length(128))
    register(bench, placed)

    # When it ships whole
    run = ship_measured(bench, order_shipped("shipment-1", order_id="order-ids-128"))

    # Then the provider captures once and the ledger records it: the execution completes
    assert_captured_whole(runtime, run, placed)
    # And no state comes near Step Functions' 256 KB limit
    assert largest_produced_payload(runtime.history(run.report.arn)) <= MAX_STATE_PAYLOAD


@pytest.mark.parametrize(
    ("label", "item_id", "sku"),
    [
        ("64-character ids and skus", id_of_length(64), id_of_length(64)),
        ("UUIDs", uuid_id, uuid_id),
    ],
)
@pytest.mark.parametrize("listed", [False, True], ids=["shipped whole", "items listed"])
def test_a_1000_line_order_captures_with_a_small_state_and_flat_request_units(
    runtime: LocalRuntime,
    label: str,
    item_id: Callable[[int], str],
    sku: Callable[[int], str],
    listed: bool,
) -> None:
    bench = Bench(runtime)
    order_id = f"order-{len(item_id(0))}-{listed}"
    placed = large_order(order_id, MAX_ORDER_LINES, item_id, sku)
    register(bench, placed)
    items = (
        [{"item_id": item["item_id"], "quantity": 2} for item in placed["detail"]["items"]]
        if listed
        else None
    )

    run = ship_measured(bench, order_shipped("shipment-1", items, order_id=order_id))

    assert_captured_whole(runtime, run, placed)
    assert largest_produced_payload(runtime.history(run.report.arn)) <= MAX_STATE_PAYLOAD
    # And its request units stay flat in the order's size, in no more requests than a small
    # order's capture (the counters apart from the catalog: see adapters/dynamodb/layout.py)
    assert run.capacity.wru <= MAX_WRU_PER_LARGE_CAPTURE
    assert run.ledger_requests <= MAX_DYNAMODB_REQUESTS


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda items: items.append(dict(items[0], item_id="one-too-many")), "items"),
        (lambda items: items[3].update(item_id="i" * (MAX_ID_LENGTH + 1)), "items[3].item_id"),
        (lambda items: items[5].update(sku="s" * (MAX_ID_LENGTH + 1)), "items[5].sku"),
        # 43 characters, 129 bytes: the limit is in bytes, so 1,000 lines fit one ledger item
        (lambda items: items[7].update(sku="€" * 43), "items[7].sku"),
    ],
    ids=["one line too many", "item id too long", "sku too long", "sku over 128 bytes"],
)
def test_an_order_beyond_the_limits_is_refused_at_registration_naming_the_field(
    runtime: LocalRuntime, change: Callable[[list[dict[str, Any]]], None], field: str
) -> None:
    placed = large_order("order-too-big", MAX_ORDER_LINES, id_of_length(32), id_of_length(32))
    change(placed["detail"]["items"])

    (delivery,) = runtime.put_events([placed])

    (invocation,) = delivery.invocations
    assert invocation.failed
    assert invocation.error_type == "InvalidEventError"
    assert field in invocation.payload["errorMessage"]
    assert runtime.repository().get_order("merchant-1", "order-too-big") is None
