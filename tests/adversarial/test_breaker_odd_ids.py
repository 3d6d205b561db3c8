"""Adversarial: odd ids in a path, over HTTP through the local API. An id the route's pattern
cannot take (an emoji, a control character, a bidi override, a quote, a backslash) used to be
``404 route_not_found`` naming ``path``, as if the route did not exist; it is the route's own
400 naming the id parameter and why, in each dialect's error shape. Valid ids answer as
before; ids that API Gateway cannot match to a route at all (empty, an encoded slash) are its
own 403 and never reach the function."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.integration.api_support import Merchant, idempotency_key, local_api, merchant

__all__ = ["local_api", "merchant"]  # fixtures

#: As they go in the URL (percent-encoded where a client must).
ODD_IDS = ["%F0%9F%98%80", "order%E2%80%AEevil", "a%22b", "a%5Cb", "a%60b", "a%0Ab", "%09"]
WHY = "not an id; an id is 1 to 128 characters"


def native_error(response: httpx.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["type"], error["field"]


@pytest.mark.parametrize("odd", ODD_IDS)
def test_defect_an_odd_order_id_is_400_naming_order_id_in_the_native_dialect(
    merchant: Merchant, odd: str
) -> None:
    with merchant.client() as client:
        answers = [
            client.get(f"/orders/{odd}"),
            client.get(f"/orders/{odd}/captures"),
            client.post(f"/orders/{odd}/captures", json={"amount": 1}, headers=idempotency_key()),
            client.put(f"/orders/{odd}", json={}, headers=idempotency_key()),
        ]
    for response in answers:
        assert native_error(response) == (400, "invalid_event", "order_id"), response.text
        assert response.json()["error"]["message"].startswith(f"order_id: {WHY}")


@pytest.mark.parametrize("odd", ODD_IDS[:3])
def test_defect_an_odd_capture_id_is_400_naming_capture_id(merchant: Merchant, odd: str) -> None:
    detail = merchant.place()
    with merchant.client() as client:
        shown = client.get(f"/orders/{detail['order_id']}/captures/{odd}")
        refunded = client.post(
            f"/orders/{detail['order_id']}/captures/{odd}/refunds",
            json={"amount": 1},
            headers=idempotency_key(),
        )
    for response in (shown, refunded):
        assert native_error(response) == (400, "invalid_event", "capture_id"), response.text


@pytest.mark.parametrize("odd", ODD_IDS)
def test_defect_an_odd_order_id_is_400_naming_it_in_medusas_shape(
    merchant: Merchant, odd: str
) -> None:
    with merchant.medusa_client() as client:
        response = client.post(f"/admin/orders/{odd}/capture", headers=idempotency_key())
    body = response.json()
    # Medusa's route names its parameter ``id`` (as its other invalid ids already did)
    assert (response.status_code, body["type"], body["field"]) == (400, "invalid_data", "id")
    assert body["message"].startswith(f"id: {WHY}"), body


@pytest.mark.parametrize("odd", ["", "x" * 129, "caf\u00e9", "..", "a b", "\U0001f600", "a\nb"])
def test_defect_an_odd_order_in_omnitrons_body_is_400_naming_order(
    merchant: Merchant, odd: str
) -> None:
    with merchant.client(scheme="Token") as client:
        response = client.post(
            "/api/v1/capture-order/", json={"order": odd, "order_items": [{"pk": 1}]}
        )
    # Django REST framework's shape: the field's own name (not pydantic's union members,
    # "order.constrained-str", as before), with why
    assert response.status_code == 400, response.text
    assert list(response.json()) == ["order"], response.text
    # One message per way the value fails (a string too odd, and not a number either)
    messages = response.json()["order"]
    assert messages[0].startswith("order: String should"), messages
    assert all(message.startswith("order: ") for message in messages), messages


def test_valid_unknown_ids_still_answer_not_found_in_every_dialect(merchant: Merchant) -> None:
    unknown = f"order-{uuid.uuid4().hex[:10]}"
    with merchant.client() as native, merchant.medusa_client() as medusa:
        got = native.get(f"/orders/{unknown}")
        capture = medusa.post(f"/admin/orders/{unknown}/capture", headers=idempotency_key())
    with merchant.client(scheme="Token") as omnitron:
        ordered = omnitron.post(
            "/api/v1/capture-order/", json={"order": unknown, "order_items": [{"pk": 1}]}
        )
    assert native_error(got)[:2] == (404, "order_not_found"), got.text
    assert (capture.status_code, capture.json()["type"]) == (404, "not_found"), capture.text
    assert ordered.status_code == 404, ordered.text


@pytest.mark.parametrize("path", ["/orders/", "/orders/a%2Fb", "/admin/orders//capture"])
def test_an_id_api_gateway_cannot_route_is_its_own_403(merchant: Merchant, path: str) -> None:
    with merchant.client() as client:
        response = client.get(path) if path.startswith("/orders") else client.post(path)
    assert response.status_code == 403, response.text
    assert response.json()["message"] == "Missing Authentication Token"
