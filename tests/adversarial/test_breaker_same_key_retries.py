"""Adversarial: the same Idempotency-Key sent again over HTTP, against docs/api.md's promise:
after a provider's decline (402) the same request gets the 402 again and a corrected body is
422 idempotency_key_reused; the key on another order is 422; two racing requests with one key
capture once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.integration.api_support import (
    LocalApiUnderTest,
    Merchant,
    ledger_captures,
    local_api,
    merchant,
)

__all__ = ["local_api", "merchant"]  # fixtures


def test_breaker_same_key_after_a_decline_replays_it_and_refuses_a_corrected_body(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place()
    path = f"/orders/{detail['order_id']}/captures"
    key = {"Idempotency-Key": f"declined-{uuid.uuid4().hex}"}
    assert local_api.runtime.sandbox is not None
    local_api.runtime.sandbox.add_fault("decline")
    with merchant.client() as client:
        declined = client.post(path, json={"amount": 100}, headers=key)
        again = client.post(path, json={"amount": 100}, headers=key)
        corrected = client.post(path, json={"amount": 99}, headers=key)
        listed = client.get(path).json()
    assert declined.status_code == again.status_code == 402, (declined.text, again.text)
    assert again.json() == declined.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert corrected.status_code == 422, corrected.text
    assert corrected.json()["error"]["type"] == "idempotency_key_reused"
    assert listed["results"] == []  # the decline captured nothing: listed nowhere
    captures = ledger_captures(local_api, merchant.merchant_id)
    assert [(c["status"], c["amount"]) for c in captures] == [("failed", 100)]


def test_breaker_same_key_on_another_order_is_422_and_captures_nothing(
    merchant: Merchant,
) -> None:
    first, second = merchant.place(), merchant.place()
    key = {"Idempotency-Key": f"two-orders-{uuid.uuid4().hex}"}
    with merchant.client() as client:
        done = client.post(f"/orders/{first['order_id']}/captures", json={"amount": 5}, headers=key)
        other = client.post(
            f"/orders/{second['order_id']}/captures", json={"amount": 5}, headers=key
        )
        listed = client.get(f"/orders/{second['order_id']}/captures").json()
    assert done.status_code == 200, done.text
    assert other.status_code == 422, other.text
    assert other.json()["error"]["type"] == "idempotency_key_reused"
    assert listed["results"] == []


def test_breaker_two_racing_requests_with_one_key_capture_once(merchant: Merchant) -> None:
    detail = merchant.place()
    path = f"/orders/{detail['order_id']}/captures"
    key = {"Idempotency-Key": f"race-{uuid.uuid4().hex}"}

    def send(_: int) -> httpx.Response:
        with merchant.client() as client:
            return client.post(path, json={"amount": 7}, headers=key)

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(send, range(2)))
    with merchant.client() as client:
        listed = client.get(path).json()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses in ([200, 200], [200, 409]), [a.text for a in answers]
    ok = [answer.json() for answer in answers if answer.status_code == 200]
    assert all(body == ok[0] for body in ok)
    assert [c["amount"] for c in listed["results"]] == [7]
