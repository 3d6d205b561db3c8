"""1,000-line orders captured through every HTTP dialect (issue 15): each capture runs the
Express workflow on the same small state as the event path (tests/statemachine/
test_large_orders.py), and answers with the lines the ledger keeps."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as NotYet
from typing import Any

import httpx
import pytest

from tests.integration.api_support import (
    CLIENT_TIMEOUT_SECONDS,
    LocalApiUnderTest,
    Merchant,
    idempotency_key,
    local_api,
    order_detail,
)

__all__ = ["local_api"]  # fixtures

LINES = 1000
UNIT_AMOUNT, DISCOUNT, TAX = 1999, 100, 420

#: A 1,000-line request is CPU-bound in this process (the local API, the workflow and moto run
#: in it): under load its wall time grows many times (a 60 s client timeout was hit at load 12),
#: the CPU it takes does not (a few seconds a request). So each answer is awaited for as long as
#: this process has spent less than this much CPU on it ...
CPU_SECONDS_PER_REQUEST = 60
#: ... with a wall-clock bound only against a hang, far above any load seen.
HANG_GUARD_SECONDS = 900


def answered(send: Callable[[], httpx.Response]) -> httpx.Response:
    """``send()``'s answer, waited for as long as it takes this process less than
    ``CPU_SECONDS_PER_REQUEST`` of CPU (the client itself never times out reading)."""
    cpu_before, started = time.process_time(), time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as pool:
        answer = pool.submit(send)
        while True:
            try:
                return answer.result(timeout=0.5)
            except NotYet:
                cpu = time.process_time() - cpu_before
                assert cpu < CPU_SECONDS_PER_REQUEST, f"no answer after {cpu:.0f} s of CPU"
                wall = time.monotonic() - started
                assert wall < HANG_GUARD_SECONDS, f"no answer after {wall:.0f} s (a hang)"


@pytest.fixture
def merchant(local_api: LocalApiUnderTest) -> Merchant:
    """A merchant whose clients wait to read for as long as ``answered`` lets them."""
    unbounded_read = httpx.Timeout(CLIENT_TIMEOUT_SECONDS, read=None)
    return dataclasses.replace(local_api.merchant(), timeout=unbounded_read)


def large_order(merchant: Merchant, item_id: Any) -> dict[str, Any]:
    items = [
        {
            "item_id": item_id(number),
            "sku": f"sku-{number:05d}-".ljust(64, "s"),
            "quantity": 2,
            "unit_amount": UNIT_AMOUNT,
            "discount_amount": DISCOUNT,
            "tax_amount": TAX,
        }
        for number in range(1, LINES + 1)
    ]
    total = LINES * (2 * UNIT_AMOUNT - DISCOUNT + TAX)
    detail = order_detail(
        merchant.merchant_id, items=items, shipping_amount=0, payment={"authorized_amount": total}
    )
    response = answered(lambda: merchant.put_order(detail))
    assert response.status_code == 200, response.text
    return detail


def total_of(detail: dict[str, Any]) -> int:
    return int(detail["payment"]["authorized_amount"])


def test_native_captures_1000_listed_items_with_64_character_ids(merchant: Merchant) -> None:
    detail = large_order(merchant, lambda number: f"item-{number:05d}-".ljust(64, "x"))
    items = [{"item_id": item["item_id"], "quantity": 2} for item in detail["items"]]
    with merchant.client() as client:
        response = answered(
            lambda: client.post(
                f"/orders/{detail['order_id']}/captures",
                json={"items": items},
                headers=idempotency_key(),
            )
        )
    assert response.status_code == 200, response.text
    capture = response.json()
    assert capture["amount"] == total_of(detail)
    assert [item["item_id"] for item in capture["items"]] == [i["item_id"] for i in items]


def test_medusa_captures_a_1000_line_order_with_uuid_ids(merchant: Merchant) -> None:
    detail = large_order(merchant, lambda number: str(uuid.UUID(int=number)))
    with merchant.medusa_client() as client:
        response = answered(
            lambda: client.post(
                f"/admin/orders/{detail['order_id']}/capture", headers=idempotency_key()
            )
        )
    assert response.status_code == 200, response.text
    order = response.json()["order"]
    assert order["paid_total"] == total_of(detail)
    assert order["payment_status"] == "captured"
    assert len(order["items"]) == LINES


def test_omnitron_captures_1000_order_items(merchant: Merchant) -> None:
    # Omnitron names order items by their integer pk (the shop's item_id): the longest it has
    detail = large_order(merchant, lambda number: str(10**18 + number))
    body = {
        "order": detail["order_id"],
        "order_items": [{"pk": int(item["item_id"])} for item in detail["items"]],
    }
    with merchant.client("Token") as client:
        response = answered(
            lambda: client.post("/api/v1/capture-order/", json=body, headers=idempotency_key())
        )
    assert response.status_code == 200, response.text
    assert response.json()["is_send"] is True
