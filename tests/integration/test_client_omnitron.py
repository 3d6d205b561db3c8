"""The Omnitron dialect against the OpenAPI document of seed 004, read from ../shared/seeds/ at
test time (never copied into the repository) and applied with openapi-core: every request we
send and every response it documents (200, 401) must validate.

One deliberate deviation, stated in README: the document's ``Order.status`` lists integers
under ``type: string``, which no value satisfies; we serve the type (strings such as "500"), so
the enum is read as the strings of its integers before validating.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from tests.integration.api_support import Merchant, local_api, merchant

__all__ = ["local_api", "merchant"]  # fixtures

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"
PATH = "/api/v1/capture-order/"


def seed_document() -> dict[str, Any]:
    """Seed 004's OpenAPI document: the JSON of its fenced block."""
    (seed,) = SEEDS.glob("004_*.txt")
    match = re.search(r"```json\s*(\{.*?\})\s*```", seed.read_text(), re.DOTALL)
    assert match, f"no JSON block in {seed}"
    document: dict[str, Any] = json.loads(match.group(1))
    return document


@pytest.fixture(scope="module")
def omnitron() -> OpenAPI:
    document = seed_document()
    status = document["components"]["schemas"]["Order"]["properties"]["status"]
    assert status["type"] == "string" and all(isinstance(v, int) for v in status["enum"])
    status["enum"] = [str(value) for value in status["enum"]]  # see the module docstring
    return OpenAPI.from_dict(document)


def post(
    omnitron: OpenAPI, merchant: Merchant, body: Any, *, token: str | None = None
) -> httpx.Response:
    """POST the body as Omnitron's client would, validating request and response."""
    token = merchant.api_key if token is None else token
    headers = {"Authorization": f"Token {token}"}
    raw = json.dumps(body).encode()
    request = MockRequest("http://localhost", "post", PATH, headers=headers, data=raw)
    omnitron.validate_request(request)
    with httpx.Client(base_url=merchant.api.url, timeout=60) as client:
        response = client.post(
            PATH, content=raw, headers=headers | {"Content-Type": "application/json"}
        )
    documented = seed_document()["paths"][PATH]["post"]["responses"]
    assert str(response.status_code) in documented or response.status_code not in {200, 401}
    if str(response.status_code) in documented:
        omnitron.validate_response(
            request,
            MockResponse(
                response.content,
                status_code=response.status_code,
                content_type=response.headers["Content-Type"],
            ),
        )
    return response


ITEMS = [
    {"item_id": "101", "sku": "OUD-50", "quantity": 1, "unit_amount": 12345},
    {"item_id": "102", "sku": "BAKHOOR", "quantity": 2, "unit_amount": 2500, "discount_amount": 1},
]


def test_every_capture_answer_validates_against_seed_004(
    omnitron: OpenAPI, merchant: Merchant
) -> None:
    detail = merchant.place(
        currency="KWD", items=ITEMS, shipping_amount=750, payment={"authorized_amount": 18094}
    )
    number = detail["order_id"]
    first = post(omnitron, merchant, {"order": number, "order_items": [{"pk": 101}]})
    second = post(
        omnitron, merchant, {"order": number, "order_items": [{"pk": 102, "attributes": {}}]}
    )
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json()["status"] == "450" and second.json()["status"] == "500"
    assert "cancel_status" not in first.json()  # no value: left out, not null


def test_401_answers_validate_against_seed_004(omnitron: OpenAPI, merchant: Merchant) -> None:
    body = {"order": "any", "order_items": [{"pk": 1}]}
    unknown = post(omnitron, merchant, body, token=f"oc_{uuid.uuid4().hex}")
    assert unknown.status_code == 401
    assert unknown.json() == {"detail": "Invalid token.", "code": "authentication_failed"}


def test_capturing_a_canceled_item_is_409(omnitron: OpenAPI, merchant: Merchant) -> None:
    detail = merchant.place(currency="EUR", items=ITEMS[:1], payment={"authorized_amount": 20000})
    with merchant.client() as client:
        canceled = client.post(
            f"/orders/{detail['order_id']}/cancellations",
            json={"items": [{"item_id": "101", "quantity": 1}]},
        )
    assert canceled.status_code == 200, canceled.text
    response = post(omnitron, merchant, {"order": detail["order_id"], "order_items": [{"pk": 101}]})
    assert response.status_code == 409 and response.json()["code"] == "invalid_state"


def test_unknown_fields_are_ignored_as_drf_does(omnitron: OpenAPI, merchant: Merchant) -> None:
    detail = merchant.place(currency="KWD", items=ITEMS, payment={"authorized_amount": 20000})
    body = {
        "order": detail["order_id"],
        "order_items": [{"pk": 101, "attributes": {}, "quantity": 1, "note": "gift"}],
        "channel": 3,
    }
    response = post(omnitron, merchant, body)
    assert response.status_code == 200, response.text


def test_errors_name_the_requests_own_fields(omnitron: OpenAPI, merchant: Merchant) -> None:
    detail = merchant.place(currency="KWD", items=ITEMS, payment={"authorized_amount": 20000})
    number = detail["order_id"]
    unknown = post(omnitron, merchant, {"order": number, "order_items": [{"pk": 101}, {"pk": 7}]})
    assert unknown.status_code == 400
    assert list(unknown.json()) == ["order_items"]
    assert unknown.json()["order_items"][0] == {}
    assert all("item_id" not in m for m in unknown.json()["order_items"][1]["pk"])
    assert post(omnitron, merchant, {"order": number, "order_items": [{"pk": 101}]}).is_success
    again = post(omnitron, merchant, {"order": number, "order_items": [{"pk": 101}]})
    assert again.status_code == 409
    assert "order_items[0].pk" in again.json()["detail"] and "item_id" not in again.json()["detail"]
