"""API keys per merchant, tenant isolation on every route, and Idempotency-Key."""

from __future__ import annotations

import hashlib
import json
import uuid

import httpx
import pytest

from order_capture_local.cli import main
from tests.integration.api_support import (
    CLIENT_TIMEOUT_SECONDS,
    LocalApiUnderTest,
    Merchant,
    idempotency_key,
    ledger_items,
    local_api,
    merchant,
)

__all__ = ["local_api", "merchant"]  # fixtures


def test_every_route_answers_another_merchants_key_with_404_and_no_data(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    # Given merchant A's order with a capture
    detail = merchant.place()
    order_id = detail["order_id"]
    with merchant.client() as client:
        created = client.post(
            f"/orders/{order_id}/captures", json={"amount": 100}, headers=idempotency_key()
        )
    capture_id = created.json()["id"]
    ledger_before = ledger_items(local_api, merchant.merchant_id)
    other = local_api.merchant("intruder")
    # When merchant B tries every route on A's order
    with (
        other.client() as bearer,
        other.client(scheme="Token") as token,
        other.medusa_client() as medusa,
    ):
        responses = {
            "list": bearer.get(f"/orders/{order_id}/captures"),
            "capture": bearer.post(
                f"/orders/{order_id}/captures", json={"amount": 1}, headers=idempotency_key()
            ),
            "get capture": bearer.get(f"/orders/{order_id}/captures/{capture_id}"),
            "get order": bearer.get(f"/orders/{order_id}"),
            "cancel": bearer.post(
                f"/orders/{order_id}/cancellations",
                json={"items": [{"item_id": "line-1", "quantity": 1}]},
                headers=idempotency_key(),
            ),
            "medusa": medusa.post(f"/admin/orders/{order_id}/capture", headers=idempotency_key()),
            "omnitron": token.post(
                "/api/v1/capture-order/",
                json={"order": order_id, "order_items": [{"pk": 1}]},
                headers=idempotency_key(),
            ),
        }
        # PUT under B's key registers B's own order: A's stays untouched
        put = bearer.put(
            f"/orders/{order_id}", json=detail | {"merchant_id": None}, headers=idempotency_key()
        )
    # Then: 404 everywhere, and nothing of A's in any body
    for route, response in responses.items():
        assert response.status_code == 404, (route, response.text)
        assert capture_id not in response.text and "10171" not in response.text, route
    assert put.status_code == 200
    assert ledger_items(local_api, merchant.merchant_id) == ledger_before


def test_keys_are_stored_hashed_and_never_logged(
    local_api: LocalApiUnderTest, capfd: pytest.CaptureFixture[str]
) -> None:
    merchant = local_api.merchant()
    merchant.place()
    ledger = json.dumps(local_api.runtime.ledger())
    digest = hashlib.sha256(merchant.api_key.encode()).hexdigest()
    assert merchant.api_key not in ledger
    assert f"APIKEY#{digest}" in ledger
    captured = capfd.readouterr()
    assert merchant.api_key not in captured.out + captured.err


def test_keys_create_against_the_running_local_api(
    local_api: LocalApiUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create", "--merchant", "shop-7", "--local-url", local_api.url]) == 0
    api_key = capsys.readouterr().out.strip()
    with httpx.Client(base_url=local_api.url, timeout=CLIENT_TIMEOUT_SECONDS) as client:
        response = client.get("/orders/none", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 404  # authenticated: the order simply does not exist


def test_keys_create_on_a_table(
    local_api: LocalApiUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    table = next(iter(local_api.runtime.template.tables.values())).name
    assert main(["keys", "create", "--merchant", "shop-8", "--table", table]) == 0
    api_key = capsys.readouterr().out.strip()
    assert api_key.startswith("oc_")
    with httpx.Client(base_url=local_api.url, timeout=CLIENT_TIMEOUT_SECONDS) as client:
        response = client.get("/orders/none", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 404


def test_a_retry_replays_the_first_response_and_captures_once(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place()
    key = {"Idempotency-Key": f"retry-{uuid.uuid4().hex}"}
    path = f"/orders/{detail['order_id']}/captures"
    with merchant.client() as client:
        first = client.post(path, json={"amount": 700}, headers=key)
        retry = client.post(
            path, content=b'{ "amount" : 700 }', headers=key | {"Content-Type": "application/json"}
        )
        listed = client.get(path).json()
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(listed["results"]) == 1
    assert local_api.runtime.sandbox is not None
    assert len(local_api.runtime.sandbox.state.captures) >= 1


def test_the_same_key_for_another_request_is_422(merchant: Merchant) -> None:
    detail = merchant.place()
    key = {"Idempotency-Key": f"reuse-{uuid.uuid4().hex}"}
    path = f"/orders/{detail['order_id']}/captures"
    with merchant.client() as client:
        first = client.post(path, json={"amount": 700}, headers=key)
        other_body = client.post(path, json={"amount": 701}, headers=key)
        other_route = client.post(
            f"/orders/{detail['order_id']}/cancellations",
            json={"items": [{"item_id": "line-1", "quantity": 1}]},
            headers=key,
        )
        listed = client.get(path).json()
    assert first.status_code == 200
    for response in (other_body, other_route):
        assert response.status_code == 422
        assert response.json()["error"]["type"] == "idempotency_key_reused"
        assert response.json()["error"]["field"] == "Idempotency-Key"
    assert [c["amount"] for c in listed["results"]] == [700]


def test_a_refused_request_is_not_stored_under_its_key(merchant: Merchant) -> None:
    detail = merchant.place()
    key = {"Idempotency-Key": f"fix-{uuid.uuid4().hex}"}
    path = f"/orders/{detail['order_id']}/captures"
    with merchant.client() as client:
        refused = client.post(path, json={"amount": 10**9}, headers=key)
        fixed = client.post(path, json={"amount": 10**9}, headers=key)
    assert refused.status_code == fixed.status_code == 422
    assert fixed.json()["error"]["type"] == "over_capture"  # re-evaluated, not a key conflict


def test_keys_are_scoped_to_the_merchant(local_api: LocalApiUnderTest) -> None:
    first, second = local_api.merchant(), local_api.merchant()
    shared_key = {"Idempotency-Key": "same-key-for-two-merchants"}
    responses = []
    for each in (first, second):
        detail = each.place()
        with each.client() as client:
            responses.append(
                client.post(
                    f"/orders/{detail['order_id']}/captures", json={"amount": 5}, headers=shared_key
                )
            )
    assert [r.status_code for r in responses] == [200, 200]
    assert responses[0].json()["id"] != responses[1].json()["id"]
