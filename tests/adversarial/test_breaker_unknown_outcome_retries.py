"""Adversarial: the same Idempotency-Key after the provider timed out (it captured, its answer
never came, the capture ended requires_action: 503), in each dialect, over HTTP on the local
runtime. The retry never captures twice and answers 503 until reconciliation settles the
capture, then 200 (README: "503 retry later with the same key"); a different request with that
key is 422 ``idempotency_key_reused`` in the dialect's shape, before and after. The defect:
a different body with the key got the first capture's 503, then its 200 stored under that
body, and the real retry 422 forever."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.integration.api_support import LocalApiUnderTest, Merchant, served_api

#: Longer than the provider timeout below: the sandbox captures, then answers too late.
LATE_SECONDS = 1.6
LINES = [
    {"item_id": "1", "sku": "TEA", "quantity": 1, "unit_amount": 900},
    {"item_id": "2", "sku": "CUP", "quantity": 1, "unit_amount": 100},
]
Send = Callable[[httpx.Client, str, bool], httpx.Response]


@pytest.fixture(scope="module")
def impatient_api() -> Iterator[LocalApiUnderTest]:
    with served_api(
        retry_time_scale=0.02, parameter_overrides={"ProviderTimeoutSeconds": "1.0"}
    ) as api:
        yield api


def native(client: httpx.Client, order_id: str, other: bool) -> httpx.Response:
    return client.post(f"/orders/{order_id}/captures", json={"amount": 99 if other else 100})


def medusa(client: httpx.Client, order_id: str, other: bool) -> httpx.Response:
    return client.post(f"/admin/orders/{order_id}/capture" + ("?fields=id" if other else ""))


def omnitron(client: httpx.Client, order_id: str, other: bool) -> httpx.Response:
    pk = 2 if other else 1
    return client.post(
        "/api/v1/capture-order/", json={"order": order_id, "order_items": [{"pk": pk}]}
    )


def client_of(merchant: Merchant, dialect: str, key: str) -> httpx.Client:
    if dialect == "medusa":
        client = merchant.medusa_client()
    else:
        client = merchant.client(scheme="Token" if dialect == "omnitron" else "Bearer")
    client.headers["Idempotency-Key"] = key
    return client


def key_reused(dialect: str, response: httpx.Response) -> bool:
    body: dict[str, Any] = response.json()
    return (
        response.status_code == 422
        and {
            "native": lambda: body["error"]["type"] == "idempotency_key_reused",
            "medusa": lambda: (
                body["type"] == "duplicate_error" and body["field"] == "Idempotency-Key"
            ),
            "omnitron": lambda: body["code"] == "idempotency_key_reused",
        }[dialect]()
    )


def captured_at_the_sandbox(api: LocalApiUnderTest, detail: dict[str, Any]) -> list[int]:
    assert api.runtime.sandbox is not None
    reference = detail["payment"]["reference"]
    return [
        capture["amount"]
        for capture in api.runtime.sandbox.state.captures
        if capture["authorization_id"] == reference
    ]


@pytest.mark.parametrize(
    ("dialect", "send", "amount"),
    [("native", native, 100), ("medusa", medusa, 1000), ("omnitron", omnitron, 900)],
    ids=["native", "medusa", "omnitron"],
)
def test_defect_same_key_after_an_unknown_outcome_retries_once_and_refuses_another_body(
    impatient_api: LocalApiUnderTest, dialect: str, send: Send, amount: int
) -> None:
    merchant = impatient_api.merchant()
    detail = merchant.place(items=LINES, shipping_amount=0, payment={"authorized_amount": 1000})
    order_id = detail["order_id"]
    sandbox = impatient_api.runtime.sandbox
    assert sandbox is not None
    # Given a capture the provider made without its answer ever coming back (every attempt)
    sandbox.add_fault("timeout_after_capture", count=4, delay_seconds=LATE_SECONDS)
    with client_of(merchant, dialect, f"late-{uuid.uuid4().hex}") as client:
        try:
            first = send(client, order_id, False)
        finally:
            sandbox.state.faults.clear()
        # When the client retries with the key, and sends another request with it
        retried = send(client, order_id, False)
        other = send(client, order_id, True)
        # Then the retry is 503 again, asked anew (not replayed), the other request refused
        assert first.status_code == retried.status_code == 503, (first.text, retried.text)
        assert "Idempotent-Replayed" not in retried.headers
        assert key_reused(dialect, other), other.text
        # And once reconciliation found the capture at the provider, the retry is its 200,
        # the other request still refused, and the provider captured once
        reconciled = impatient_api.runtime.invoke("ReconcileFunction", {"grace_seconds": 0})
        assert reconciled.payload["confirmed"] == 1, reconciled.payload
        other_after = send(client, order_id, True)
        settled, again = send(client, order_id, False), send(client, order_id, False)
    assert key_reused(dialect, other_after), other_after.text
    assert settled.status_code == 200, settled.text
    assert (again.status_code, again.text) == (200, settled.text)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert captured_at_the_sandbox(impatient_api, detail) == [amount]
    with merchant.client() as client:
        order = client.get(f"/orders/{order_id}").json()
    assert (order["captured_amount"], order["pending_amount"]) == (amount, 0)
