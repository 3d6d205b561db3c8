"""A capture whose outcome is unknown (it ended requires_action: the provider may hold the
money, nobody knows yet) is no success: every dialect answers 503, as README's status table
and the OpenAPI document say, and a retry with the same key answers again from the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from order_capture_local.lambda_service import LambdaCrash
from tests.integration.api_support import (
    LocalApiUnderTest,
    Merchant,
    idempotency_key,
    local_api,
    merchant,
)

__all__ = ["local_api", "merchant"]  # fixtures


@pytest.fixture
def capture_crashing_after_the_provider(local_api: LocalApiUnderTest) -> Iterator[None]:
    """The Capture function dies after every provider call: the capture ends requires_action."""

    def crash(*_: Any) -> None:
        raise LambdaCrash("Sandbox.Timedout")

    local_api.runtime.after_hooks["CaptureFunction"] = crash
    try:
        yield
    finally:
        del local_api.runtime.after_hooks["CaptureFunction"]


def test_requires_action_is_503_in_every_dialect(
    merchant: Merchant, capture_crashing_after_the_provider: None
) -> None:
    native_order, medusa_order = merchant.place(), merchant.place()
    omnitron_order = merchant.place(
        items=[{"item_id": "1", "sku": "TEA", "quantity": 1, "unit_amount": 900}],
        shipping_amount=0,
        payment={"authorized_amount": 900},
    )
    key = idempotency_key()
    with (
        merchant.client() as bearer,
        merchant.client(scheme="Token") as token,
        merchant.medusa_client() as medusa,
    ):
        answers: dict[str, httpx.Response] = {
            "native": bearer.post(
                f"/orders/{native_order['order_id']}/captures", json={"amount": 100}, headers=key
            ),
            "medusa": medusa.post(f"/admin/orders/{medusa_order['order_id']}/capture"),
            "omnitron": token.post(
                "/api/v1/capture-order/",
                json={"order": omnitron_order["order_id"], "order_items": [{"pk": 1}]},
            ),
        }
        retried = bearer.post(
            f"/orders/{native_order['order_id']}/captures", json={"amount": 100}, headers=key
        )
        order = bearer.get(f"/orders/{native_order['order_id']}").json()
    for dialect, response in answers.items():
        assert response.status_code == 503, (dialect, response.status_code, response.text)
    assert answers["native"].json()["error"]["type"] == "outcome_unknown"
    assert answers["medusa"].json()["type"] == "unknown_error"
    assert retried.status_code == 503 and "Idempotent-Replayed" not in retried.headers
    assert order["pending_amount"] == 100  # kept reserved for reconciliation, not released


def test_campaign_a_same_key_retry_after_reconciliation_released_the_capture_is_final(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    # Given a capture whose provider answered 503 to every attempt: requires_action (503)
    sandbox = local_api.runtime.sandbox
    assert sandbox is not None
    order = merchant.place()
    key = idempotency_key()
    path = f"/orders/{order['order_id']}/captures"
    sandbox.add_fault("unavailable", count=20, status=503)
    try:
        with merchant.client() as client:
            first = client.post(path, json={"amount": 100}, headers=key)
    finally:
        sandbox.state.faults.clear()
    assert first.status_code == 503, first.text
    # When reconciliation finds no capture under its key at the provider and releases it
    invocation = local_api.runtime.invoke("ReconcileFunction", {"grace_seconds": 0})
    assert invocation.payload["released"] == 1, invocation.payload
    # Then the client's retries with the same key get a final answer, not a 5xx forever (the
    # make chaos campaign's requests "still 502 once all settled"), and nothing is captured
    with merchant.client() as client:
        retried = client.post(path, json={"amount": 100}, headers=key)
        again = client.get(f"/orders/{order['order_id']}").json()
    assert retried.status_code == 409, retried.text
    assert retried.json()["error"]["type"] == "not_captured"
    assert again["captured_amount"] == 0 and again["pending_amount"] == 0
