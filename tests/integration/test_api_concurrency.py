"""The local API under concurrent requests: each request is served as its own Lambda
invocation would be, whatever the others in flight do at the same time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.integration.api_support import (
    Merchant,
    idempotency_key,
    local_api,
    merchant,
    seed_order,
)

__all__ = ["local_api", "merchant"]  # fixtures

THREADS = 8
ROUNDS = 6


def test_defect_11_concurrent_requests_each_get_their_own_answer(merchant: Merchant) -> None:
    """Issue 12 defect 11: the requests shared one Powertools resolver, so concurrent ones got
    502 (KeyError '_route_args') or another request's validation errors."""
    orders = [merchant.place()["order_id"] for _ in range(2)]

    def one_round(index: int) -> list[tuple[str, httpx.Response]]:
        order_id = orders[index % 2]
        with merchant.client() as client:
            return [
                (f"list {order_id}", client.get(f"/orders/{order_id}/captures")),
                (f"get {order_id}", client.get(f"/orders/{order_id}")),
                (
                    f"bad amount {index}",
                    client.post(
                        f"/orders/{order_id}/captures",
                        json={"amount": -index - 1},
                        headers=idempotency_key(),
                    ),
                ),
                (f"missing order-{index}", client.get(f"/orders/missing-{index}")),
            ]

    with ThreadPoolExecutor(THREADS) as pool:
        answers = [a for batch in pool.map(one_round, range(THREADS * ROUNDS)) for a in batch]

    for label, response in answers:
        kind, subject = label.split(" ", 1)
        assert response.status_code < 500, (label, response.status_code, response.text)
        if kind in {"list", "get"}:
            assert response.status_code == 200, (label, response.text)
            if kind == "get":
                assert response.json()["id"] == subject
        elif kind == "bad":
            # The validation error is this request's own: it names its own amount.
            assert response.status_code == 400, (label, response.text)
            error = response.json()["error"]
            assert error["field"] == "amount", (label, error)
        else:
            assert response.status_code == 404, (label, response.text)
            assert subject.removeprefix("order-") in response.json()["error"]["message"]


def test_captures_by_amount_that_race_past_the_order_one_wins_the_others_are_422(
    merchant: Merchant,
) -> None:
    """Three captures of 40000 at once on an order of 70070, each with its own key: one is
    captured; the others no longer fit and are refused as over-captures naming the amount
    (docs/guarantees.md, concurrent captures), and nothing more is captured."""
    detail = seed_order(merchant.merchant_id)
    assert merchant.put_order(detail).status_code == 200
    order_id = detail["order_id"]

    def capture(_: int) -> httpx.Response:
        with merchant.client() as client:
            return client.post(
                f"/orders/{order_id}/captures", json={"amount": 40000}, headers=idempotency_key()
            )

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(capture, range(3)))

    assert sorted(a.status_code for a in answers) == [200, 422, 422], [a.text for a in answers]
    for refused in (a for a in answers if a.status_code == 422):
        assert refused.json()["error"]["type"] == "over_capture"
        assert refused.json()["error"]["field"] == "amount"
    with merchant.client() as client:
        order = client.get(f"/orders/{order_id}").json()
    assert (order["captured_amount"], order["pending_amount"]) == (40000, 0)
