"""Adversarial: every route the API serves, enumerated from the resolver's own route modules
(so a route added later is attacked too, or this test fails until it is): another merchant's
key on an order answers exactly as an order that does not exist and writes nothing; a missing
or unknown key is 401 in the route's dialect, before the route looks at anything."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from order_capture.api import app
from order_capture.api.credentials import AUTH_SCHEME
from order_capture.api.problems import Dialect, dialect_of
from tests.integration.api_support import (
    LocalApiUnderTest,
    Merchant,
    idempotency_key,
    ledger_items,
    local_api,
    merchant,
    order_detail,
)

__all__ = ["local_api", "merchant"]  # fixtures

#: Routes that take no API key (a provider signs each notification instead).
UNAUTHENTICATED_PREFIX = app.WEBHOOKS_PREFIX

#: A well-formed body per route (``{order_id}`` and ``{capture_id}`` filled in), so the
#: attack reaches the order lookup instead of stopping at validation. None: no body.
BODIES: dict[tuple[str, str], Any] = {
    ("GET", "/orders/<order_id>/captures"): None,
    ("POST", "/orders/<order_id>/captures"): {"amount": 1},
    ("GET", "/orders/<order_id>/captures/<capture_id>"): None,
    ("POST", "/orders/<order_id>/captures/<capture_id>/refunds"): {"amount": 1},
    ("GET", "/orders/<order_id>"): None,
    ("POST", "/orders/<order_id>/cancellations"): {"items": [{"item_id": "line-1", "quantity": 1}]},
    ("POST", "/admin/orders/<id>/capture"): None,
    ("POST", "/api/v1/capture-order/"): {"order": "{order_id}", "order_items": [{"pk": 1}]},
    # Registering under B's key makes B's own order of that id (orders are per merchant): it
    # runs last, and answers for A's id as for an unknown one.
    ("PUT", "/orders/<order_id>"): "detail",
}


def served_routes() -> list[tuple[str, str]]:
    """(method, rule) of every route of every route module the API serves."""
    routes: list[tuple[str, str]] = []
    for name in app.DOCUMENT_ORDER:
        for key in app.route_module(name).router._routes:
            rule, methods = key[0], key[1]
            routes.extend((method, rule) for method in methods)
    return routes


def authenticated_routes() -> list[tuple[str, str]]:
    routes = [r for r in served_routes() if not r[1].startswith(UNAUTHENTICATED_PREFIX)]
    return sorted(routes, key=lambda route: route[0] == "PUT")


def test_breaker_every_authenticated_route_has_an_attack_body() -> None:
    missing = [route for route in authenticated_routes() if route not in BODIES]
    assert missing == [], f"add the new routes to BODIES: {missing}"


def request_of(route: tuple[str, str], order_id: str, capture_id: str) -> dict[str, Any]:
    method, rule = route
    path = (
        rule.replace("<order_id>", order_id)
        .replace("<id>", order_id)
        .replace("<capture_id>", capture_id)
    )
    body = BODIES.get(route, {})
    if body == "detail":
        body = order_detail("ignored", order_id=order_id) | {"merchant_id": None}
    elif body is not None:
        body = json.loads(
            json.dumps(body).replace("{order_id}", order_id).replace("{capture_id}", capture_id)
        )
    request: dict[str, Any] = {"method": method, "url": path}
    if method != "GET":
        request["headers"] = idempotency_key()
        if body is not None:
            request["json"] = body
    return request


def client_for(who: Merchant, path: str) -> httpx.Client:
    if dialect_of(path) is Dialect.MEDUSA:
        return who.medusa_client()
    return who.client(scheme=AUTH_SCHEME[dialect_of(path)])


def normalized(response: httpx.Response, *ids: str) -> tuple[int, str]:
    text = response.text
    for each in ids:
        text = text.replace(each, "<ID>")
    return response.status_code, text


def test_breaker_another_merchants_key_answers_as_an_unknown_order_on_every_route(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    # Given merchant A's order with a capture
    detail = merchant.place()
    order_id = detail["order_id"]
    with merchant.client() as client:
        created = client.post(
            f"/orders/{order_id}/captures", json={"amount": 100}, headers=idempotency_key()
        )
    assert created.status_code == 200, created.text
    capture_id = created.json()["id"]
    before = ledger_items(local_api, merchant.merchant_id)
    intruder = local_api.merchant("intruder")
    for route in authenticated_routes():
        unknown_order, unknown_capture = f"order-{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
        # When merchant B sends it for an order that does not exist, then for A's order
        with client_for(intruder, route[1]) as client:
            unknown = client.request(**request_of(route, unknown_order, unknown_capture))
            attacked = client.request(**request_of(route, order_id, capture_id))
        # Then both answers are the same (nothing says A's order exists), and none succeeds
        # on A's order except registering B's own
        if route[0] == "PUT":  # B's own new order, its own timestamps: 200 both times
            assert attacked.status_code == unknown.status_code == 200, attacked.text
            continue
        assert normalized(attacked, order_id, capture_id) == normalized(
            unknown, unknown_order, unknown_capture
        ), route
        assert attacked.status_code == 404, (route, attacked.text)
        assert str(detail["payment"]["authorized_amount"]) not in attacked.text, route
    # And nothing of A's changed
    assert ledger_items(local_api, merchant.merchant_id) == before


@pytest.mark.parametrize("credentials", ["none", "unknown key", "wrong scheme"])
def test_breaker_every_route_without_a_valid_key_is_401_in_its_dialect(
    local_api: LocalApiUnderTest, merchant: Merchant, credentials: str
) -> None:
    detail = merchant.place()
    order_id = detail["order_id"]
    before = ledger_items(local_api, merchant.merchant_id)
    for route in authenticated_routes():
        request = request_of(route, order_id, uuid.uuid4().hex)
        dialect = dialect_of(request["url"])
        scheme = AUTH_SCHEME[dialect]
        headers = dict(request.pop("headers", {}))
        if credentials == "unknown key" and dialect is Dialect.MEDUSA:
            headers["x-medusa-access-token"] = f"oc_{uuid.uuid4().hex}"
        elif credentials == "unknown key":
            headers["Authorization"] = f"{scheme} oc_{uuid.uuid4().hex}"
        elif credentials == "wrong scheme":
            other = "Token" if scheme == "Bearer" else "Bearer"
            headers["Authorization"] = f"{other} {merchant.api_key}"
        with httpx.Client(base_url=local_api.url, timeout=merchant.timeout) as client:
            response = client.request(**request, headers=headers)
        assert response.status_code == 401, (route, credentials, response.text)
        # (without any key header, API Gateway's own 401 answers, in every dialect's shape)
        assert scheme in response.headers["WWW-Authenticate"].split(", "), route
        body = response.json()
        if dialect is Dialect.OMNITRON:
            assert body["code"] in {"not_authenticated", "authentication_failed"}, body
            assert body["detail"], body
        elif dialect is Dialect.MEDUSA:
            assert body["type"] == "unauthorized" and body["message"] == "Unauthorized", body
        else:
            assert body["error"]["type"] == "unauthorized", body
        assert order_id not in response.text
    assert ledger_items(local_api, merchant.merchant_id) == before
