"""Aplazame's own Python client, ``aplazame-sdk`` (PyPI), against the native dialect, configured
as its README tells a user (an access token and a host; no extra headers): ``get`` and plain
``post`` reproduce seed 003's figures, and every error, the service's or API Gateway's own,
parses as ``AplazameError``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aplazame_sdk import AplazameError, Client

from order_capture_local.api_server import GATEWAY_RESPONSE_TYPES, GatewayResponses
from tests.integration.api_support import (
    LocalApiUnderTest,
    Merchant,
    local_api,
    merchant,
    seed_order,
)

__all__ = ["local_api", "merchant"]  # fixtures


def sdk(api: LocalApiUnderTest, access_token: str) -> Client:
    return Client(access_token, host=api.url.removeprefix("http://"), ssl=False)


def error_of(call: Any) -> AplazameError:
    with pytest.raises(AplazameError) as raised:
        call()
    return raised.value


def test_get_and_post_reproduce_the_seed_figures(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    client = sdk(local_api, merchant.api_key)
    detail = seed_order(merchant.merchant_id)
    order_id = detail["order_id"]
    assert client.update(order_id, detail).status_code == 200  # PUT /orders/{id}
    first = client.post(f"orders/{order_id}/captures", {"amount": 10050})
    second = client.post(f"orders/{order_id}/captures", {"amount": 10050})
    listed = client.get(f"orders/{order_id}/captures")
    assert first.json()["remaining_capture_amount"] == 60020
    assert second.json()["remaining_capture_amount"] == 49970
    assert listed.json()["remaining_capture_amount"] == 49970
    assert [c["amount"] for c in listed.json()["results"]] == [10050, 10050]
    assert {k: first.json()[k] for k in ("amount", "refunds", "refunded_amount")} == {
        "amount": 10050,
        "refunds": [],
        "refunded_amount": 0,
    }
    for response in (first, second, listed):
        assert response.headers["X-Aplazame-Media-Type"] == "aplazame.v1"
        assert response.headers["Content-Type"].startswith("application/json")


def test_every_service_error_parses_as_aplazame_error(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    client = sdk(local_api, merchant.api_key)
    detail = seed_order(merchant.merchant_id)
    order_id = detail["order_id"]
    client.update(order_id, detail)
    path = f"orders/{order_id}/captures"
    errors = {
        400: error_of(lambda: client.post(path, {"amount": -1})),
        401: error_of(lambda: sdk(local_api, "oc_unknown").get(path)),
        404: error_of(lambda: client.get("orders/missing-order/captures")),
        422: error_of(lambda: client.post(path, {"amount": 70071})),
    }
    errors[409] = error_of(lambda: client.update(order_id, detail | {"shipping_amount": 5}))
    for status, error in errors.items():
        assert error.code == status, (status, error)
        assert error.message and error.type, (status, vars(error))
        assert error.response.headers["X-Aplazame-Media-Type"] == "aplazame.v1"
    assert errors[400].type == "invalid_event" and "amount" in errors[400].message


@pytest.fixture
def crashing_api_function(local_api: LocalApiUnderTest) -> Iterator[None]:
    def crash(_: Any) -> None:
        raise RuntimeError("the function crashed")

    local_api.runtime.fault_hooks["ApiFunction"] = crash
    try:
        yield
    finally:
        del local_api.runtime.fault_hooks["ApiFunction"]


def test_gateway_errors_parse_as_aplazame_error(
    local_api: LocalApiUnderTest, merchant: Merchant, crashing_api_function: None
) -> None:
    client = sdk(local_api, merchant.api_key)
    no_route = error_of(lambda: client.get("no/such/route"))
    crashed = error_of(lambda: client.get("orders/any/captures"))
    assert (no_route.code, no_route.message) == (403, "Missing Authentication Token")
    assert no_route.type == "MISSING_AUTHENTICATION_TOKEN"
    assert (crashed.code, crashed.message) == (502, "Internal server error")
    for error in (no_route, crashed):
        assert error.response.headers["X-Aplazame-Media-Type"] == "aplazame.v1"


def test_the_gateway_401_without_a_key_satisfies_the_three_dialects(
    local_api: LocalApiUnderTest,
) -> None:
    """API Gateway's UNAUTHORIZED (no key header: the authorizer is not invoked) is static."""
    answer = GatewayResponses.from_template(local_api.runtime.template_path).error(401, "-")
    response = requests.Response()
    response.status_code = answer.status
    response._content = answer.body
    error = AplazameError(response)
    assert (error.code, error.type) == (401, "unauthorized") and error.message
    body = json.loads(answer.body)
    assert (body["type"], body["message"]) == ("unauthorized", "Unauthorized")
    assert body["code"] == "not_authenticated" and body["detail"]
    assert answer.header("X-Aplazame-Media-Type") == "aplazame.v1"


@pytest.mark.parametrize("status", sorted(set(GATEWAY_RESPONSE_TYPES) - {401}))
def test_every_gateway_response_satisfies_the_three_dialects(
    local_api: LocalApiUnderTest, status: int
) -> None:
    """template.yaml's GatewayResponses, rendered for each error API Gateway answers itself:
    aplazame-sdk parses it, and it carries Medusa's type/message and Omnitron's detail/code."""
    gateway = GatewayResponses.from_template(local_api.runtime.template_path)
    answer = gateway.error(status, 'Limit "exceeded"')
    response = requests.Response()
    response.status_code = answer.status
    response._content = answer.body
    error = AplazameError(response)
    assert (error.code, error.message) == (status, 'Limit "exceeded"')
    body = json.loads(answer.body)
    assert (body["type"], body["message"]) == (GATEWAY_RESPONSE_TYPES[status], 'Limit "exceeded"')
    assert (body["detail"], body["code"]) == ('Limit "exceeded"', GATEWAY_RESPONSE_TYPES[status])
    assert answer.header("X-Aplazame-Media-Type") == "aplazame.v1"
