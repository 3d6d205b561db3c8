"""Idempotency-Key is optional on every POST and PUT (as at Stripe): sent, it is honoured;
not sent, each route is safe by its meaning. "Capture everything" (Medusa) and "capture these
items" (Omnitron) find nothing left on a repeat; an amount capture, a refund and a
cancellation are new ones each time, as at Aplazame."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.integration.api_support import (
    LocalApiUnderTest,
    Merchant,
    idempotency_key,
    ledger_items,
    local_api,
    merchant,
    seed_order,
)

__all__ = ["local_api", "merchant"]  # fixtures


def _captures(api: LocalApiUnderTest, merchant_id: str) -> list[dict[str, object]]:
    return [i for i in ledger_items(api, merchant_id) if str(i["SK"]).startswith("CAPTURE#")]


def test_an_amount_capture_without_a_key_is_a_new_capture_each_time(merchant: Merchant) -> None:
    detail = seed_order(merchant.merchant_id)
    assert merchant.put_order(detail).status_code == 200
    path = f"/orders/{detail['order_id']}/captures"
    with merchant.client() as client:
        first = client.post(path, json={"amount": 10050})
        second = client.post(path, json={"amount": 10050})
        listed = client.get(path).json()
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json()["id"] != second.json()["id"]
    assert [
        first.json()["remaining_capture_amount"],
        second.json()["remaining_capture_amount"],
    ] == [
        70070 - 10050,
        70070 - 2 * 10050,
    ]
    assert [c["amount"] for c in listed["results"]] == [10050, 10050]


def test_capture_everything_without_a_key_captures_once(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place()
    path = f"/admin/orders/{detail['order_id']}/capture"
    with merchant.medusa_client() as client:
        first = client.post(path)
        again = client.post(path)
    assert first.status_code == 200, first.text
    assert again.status_code == 200, again.text  # as Medusa: captured payments are skipped
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["order"]["paid_total"] == first.json()["order"]["paid_total"]
    assert len(_captures(local_api, merchant.merchant_id)) == 1
    assert first.json()["order"]["paid_total"] == first.json()["order"]["total"]


def test_racing_captures_of_everything_without_keys_capture_the_order_once(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place()
    path = f"/admin/orders/{detail['order_id']}/capture"

    def capture(_: int) -> httpx.Response:
        with merchant.medusa_client() as client:
            return client.post(path)

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(capture, range(3)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) >= 1 and all(s in {200, 409} for s in statuses), [
        a.text for a in answers
    ]
    with merchant.client() as client:
        order = client.get(f"/orders/{detail['order_id']}").json()
    assert order["captured_amount"] == order["total_amount"]
    assert order["remaining_capture_amount"] == 0


def test_capture_these_items_without_a_key_captures_them_once(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place(
        items=[
            {"item_id": "101", "sku": "A", "quantity": 1, "unit_amount": 1000},
            {"item_id": "102", "sku": "B", "quantity": 2, "unit_amount": 500},
        ],
        shipping_amount=0,
        payment={"authorized_amount": 2000},
    )
    body = {"order": detail["order_id"], "order_items": [{"pk": 101}]}
    with merchant.client(scheme="Token") as client:
        first = client.post("/api/v1/capture-order/", json=body)
        again = client.post("/api/v1/capture-order/", json=body)
    assert first.status_code == 200, first.text
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"
    assert len(_captures(local_api, merchant.merchant_id)) == 1


def test_registering_an_order_without_a_key_twice_changes_nothing(merchant: Merchant) -> None:
    detail = seed_order(merchant.merchant_id)
    with merchant.client() as client:
        first = client.put(f"/orders/{detail['order_id']}", json=detail)
        again = client.put(f"/orders/{detail['order_id']}", json=detail)
        changed = client.put(f"/orders/{detail['order_id']}", json=detail | {"shipping_amount": 1})
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert again.json() == first.json()
    assert changed.status_code == 409


def test_a_sent_key_is_still_honoured(merchant: Merchant) -> None:
    detail = seed_order(merchant.merchant_id)
    assert merchant.put_order(detail).status_code == 200
    key = idempotency_key()
    path = f"/orders/{detail['order_id']}/captures"
    with merchant.client() as client:
        first = client.post(path, json={"amount": 10050}, headers=key)
        retry = client.post(path, json={"amount": 10050}, headers=key)
        listed = client.get(path).json()
    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"
    assert len(listed["results"]) == 1


def test_a_refund_without_a_key_is_a_new_refund_each_time(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = seed_order(merchant.merchant_id)
    assert merchant.put_order(detail).status_code == 200
    with merchant.client() as client:
        capture = client.post(f"/orders/{detail['order_id']}/captures", json={"amount": 10050})
        path = f"/orders/{detail['order_id']}/captures/{capture.json()['id']}/refunds"
        first = client.post(path, json={"amount": 1000})
        second = client.post(path, json={"amount": 1000})
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json()["refund"]["id"] != second.json()["refund"]["id"]
    assert second.json()["refunded_amount"] == 2000
    assert second.json()["remaining_amount"] == 10050 - 2000
