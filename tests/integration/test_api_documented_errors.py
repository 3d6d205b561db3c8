"""Every route's error answers are the ones docs/openapi.json documents: the status is listed
for the route, and the body validates against the schema listed for it (openapi-core, the
validator a client generator or a contract test would use). Schemathesis (test_api_openapi.py)
fuzzes with a valid key and a random body, so it seldom meets a route's 401, 404, 409, 413
or 415; here each one is provoked on purpose, on every route that can send it.

403 is API Gateway's (an authorizer's Deny, a path with no resource): no route sends it, so no
route documents it (see docs/api.md for the gateway's own answers).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from order_capture.api.app import MAX_BODY_BYTES
from order_capture_local.api_server import openapi_document
from tests.integration.api_support import Merchant, local_api, merchant

__all__ = ["local_api", "merchant"]  # fixtures

JSON = "application/json"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None
    #: Bearer, Token (Omnitron), Medusa (``x-medusa-access-token``); None: no credentials.
    scheme: str | None = "Bearer"
    content_type: str = JSON
    raw: bytes | None = None


@pytest.fixture(scope="module")
def documented() -> OpenAPI:
    return OpenAPI.from_dict(json.loads(openapi_document()))


def send(merchant: Merchant, call: Call) -> tuple[int, str, bytes]:
    headers = {"Idempotency-Key": uuid.uuid4().hex, "Content-Type": call.content_type}
    if call.scheme == "Medusa":
        headers["x-medusa-access-token"] = merchant.api_key
    elif call.scheme is not None:
        headers["Authorization"] = f"{call.scheme} {merchant.api_key}"
    body = (
        call.raw
        if call.raw is not None
        else (json.dumps(call.body).encode() if call.body is not None else None)
    )
    answer = merchant.api.api.request(call.method, call.path, headers, body)
    return answer.status, answer.header("Content-Type") or "", answer.body


def assert_documented(
    documented: OpenAPI, call: Call, status: int, answer: tuple[int, str, bytes]
) -> None:
    got, content_type, body = answer
    assert got == status, f"{call.method} {call.path}: {got} {body[:300]!r}"
    path, _, query = call.path.partition("?")
    request = MockRequest(
        "http://localhost",
        call.method.lower(),
        # Omnitron's clients post to ``/api/v1/capture-order/``; the document's path has no
        # trailing slash, and both reach the route.
        path.rstrip("/"),
        args=dict(part.split("=", 1) for part in query.split("&") if part),
    )
    documented.validate_response(
        request, MockResponse(body, status_code=got, content_type=content_type.split(";")[0])
    )


def too_large() -> bytes:
    return b'{"padding": "' + b"x" * MAX_BODY_BYTES + b'"}'


def error_calls(merchant: Merchant) -> list[tuple[int, Call]]:
    """(status, call) for every error each route can be made to send."""
    open_order = merchant.place()["order_id"]
    closed = merchant.place()["order_id"]
    with merchant.client() as client:
        captured = client.post(
            f"/orders/{closed}/captures", json={"amount": 10171}, headers={"Idempotency-Key": "a"}
        )
        # Its units then ship, worth nothing left: a capture of 0
        shipped = client.post(
            f"/orders/{closed}/captures",
            json={"items": [{"item_id": "line-1", "quantity": 3}]},
            headers={"Idempotency-Key": "b"},
        )
    assert captured.status_code == 200, captured.text
    assert (shipped.status_code, shipped.json()["amount"]) == (200, 0), shipped.text
    canceled = merchant.place()
    with merchant.client() as client:
        every_unit = [
            {"item_id": i["item_id"], "quantity": i["quantity"]} for i in canceled["items"]
        ]
        canceling = client.post(
            f"/orders/{canceled['order_id']}/cancellations",
            json={"items": every_unit},
            headers={"Idempotency-Key": "c"},
        )
    assert canceling.status_code == 200, canceling.text
    capture_id = captured.json()["id"]
    order = f"/orders/{open_order}"
    done = f"/orders/{closed}"
    notification = {"live": "false", "notificationItems": [{"NotificationRequestItem": {}}]}
    adyen = f"/webhooks/adyen?merchant_id={merchant.merchant_id}"
    stripe = f"/webhooks/stripe?merchant_id={merchant.merchant_id}"
    items = {"items": [{"item_id": "line-1", "quantity": 1}]}
    return [
        # native: GET and PUT /orders/{id}
        (401, Call("GET", order, scheme=None)),
        (404, Call("GET", "/orders/no-such-order")),
        (400, Call("GET", "/orders/" + "x" * 200)),
        (401, Call("PUT", order, {}, scheme=None)),
        (400, Call("PUT", order, {"order_id": open_order})),
        (409, Call("PUT", done, {**merchant.place(), "order_id": closed})),
        (413, Call("PUT", order, raw=too_large())),
        (415, Call("PUT", order, {}, content_type="text/plain")),
        # native: captures
        (401, Call("GET", f"{order}/captures", scheme=None)),
        (404, Call("GET", "/orders/no-such-order/captures")),
        (401, Call("POST", f"{order}/captures", {"amount": 1}, scheme=None)),
        (400, Call("POST", f"{order}/captures", {"amount": "one"})),
        (404, Call("POST", "/orders/no-such-order/captures", {"amount": 1})),
        (409, Call("POST", f"{done}/captures", items)),
        (413, Call("POST", f"{order}/captures", raw=too_large())),
        (415, Call("POST", f"{order}/captures", {"amount": 1}, content_type="text/plain")),
        (401, Call("GET", f"{done}/captures/{capture_id}", scheme=None)),
        (400, Call("GET", f"{done}/captures/{capture_id}?expand=everything")),
        (404, Call("GET", f"{done}/captures/{'0' * 32}")),
        # native: refunds
        (401, Call("POST", f"{done}/captures/{capture_id}/refunds", {"amount": 1}, scheme=None)),
        (400, Call("POST", f"{done}/captures/{capture_id}/refunds", {"amount": -1})),
        (404, Call("POST", f"{done}/captures/{'0' * 32}/refunds", {"amount": 1})),
        (413, Call("POST", f"{done}/captures/{capture_id}/refunds", raw=too_large())),
        # native: cancellations
        (401, Call("POST", f"{order}/cancellations", items, scheme=None)),
        (400, Call("POST", f"{order}/cancellations", {"items": []})),
        (404, Call("POST", "/orders/no-such-order/cancellations", items)),
        (409, Call("POST", f"{done}/cancellations", items)),
        # Medusa
        (401, Call("POST", f"/admin/orders/{open_order}/capture", scheme=None)),
        (404, Call("POST", "/admin/orders/no-such-order/capture", scheme="Medusa")),
        (400, Call("POST", f"/admin/orders/{canceled['order_id']}/capture", scheme="Medusa")),
        # Omnitron
        (401, Call("POST", "/api/v1/capture-order/", {}, scheme=None)),
        (400, Call("POST", "/api/v1/capture-order/", {"order": ""}, scheme="Token")),
        (
            404,
            Call(
                "POST",
                "/api/v1/capture-order/",
                {"order": "no-such-order", "order_items": [{"pk": 101}]},
                scheme="Token",
            ),
        ),
        (413, Call("POST", "/api/v1/capture-order/", raw=too_large(), scheme="Token")),
        (
            415,
            Call("POST", "/api/v1/capture-order/", {}, scheme="Token", content_type="text/plain"),
        ),
        # Adyen's webhook
        (401, Call("POST", adyen, notification, scheme=None)),
        (400, Call("POST", adyen, {"live": "false"}, scheme=None)),
        (400, Call("POST", "/webhooks/adyen", notification, scheme=None)),
        (
            404,
            Call(
                "POST",
                f"/webhooks/paypal?merchant_id={merchant.merchant_id}",
                notification,
                scheme=None,
            ),
        ),
        (413, Call("POST", adyen, raw=too_large(), scheme=None)),
        (415, Call("POST", adyen, notification, scheme=None, content_type="text/plain")),
        # Stripe's webhook
        (401, Call("POST", stripe, {"id": "evt_1"}, scheme=None)),
        (400, Call("POST", "/webhooks/stripe", {"id": "evt_1"}, scheme=None)),
        (413, Call("POST", stripe, raw=too_large(), scheme=None)),
        (415, Call("POST", stripe, {}, scheme=None, content_type="text/plain")),
    ]


def test_every_error_a_route_sends_is_documented_with_its_body(
    documented: OpenAPI, merchant: Merchant
) -> None:
    failures = []
    calls = error_calls(merchant)
    for status, call in calls:
        try:
            assert_documented(documented, call, status, send(merchant, call))
        except Exception as error:  # every mismatch listed, not only the first
            failures.append(
                f"{status} {call.method} {call.path[:60]}: {type(error).__name__}: {error}"[:400]
            )
    assert not failures, "\n".join(failures)
    statuses = {
        (call.method, call.path.split("?")[0].split("/")[1], status) for status, call in calls
    }
    assert {s for *_, s in statuses} >= {400, 401, 404, 409, 413, 415}
