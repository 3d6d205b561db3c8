"""The Omnitron dialect: POST /api/v1/capture-order/ with decimal amounts and Token auth."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx

from order_capture.models import ItemQuantity
from order_capture.money import to_decimal
from tests.integration.api_support import (
    CLIENT_TIMEOUT_SECONDS,
    LocalApiUnderTest,
    Merchant,
    idempotency_key,
    ledger_items,
    local_api,
    merchant,
    racing_first,
)

__all__ = ["local_api", "merchant"]  # fixtures

# An Omnitron shop registers its order items with their pk as item_id.
KWD_ITEMS = [
    {
        "item_id": "101",
        "sku": "OUD-50",
        "quantity": 1,
        "unit_amount": 12345,
        "tax_amount": 0,
        "discount_amount": 0,
    },
    {
        "item_id": "102",
        "sku": "BAKHOOR",
        "quantity": 2,
        "unit_amount": 2500,
        "tax_amount": 0,
        "discount_amount": 1,
    },
]


def capture_order(merchant: Merchant, body: object, scheme: str = "Token") -> httpx.Response:
    with merchant.client(scheme=scheme) as client:
        return client.post("/api/v1/capture-order/", json=body, headers=idempotency_key())


def test_capture_items_returns_the_order_with_exact_decimals(merchant: Merchant) -> None:
    # Given an order in a currency with three decimals
    detail = merchant.place(
        currency="KWD", items=KWD_ITEMS, shipping_amount=750, payment={"authorized_amount": 20089}
    )
    number = detail["order_id"]
    # When one item is captured, then the other
    first = capture_order(
        merchant, {"order": number, "order_items": [{"pk": 101, "attributes": {}}]}
    )
    second = capture_order(merchant, {"order": number, "order_items": [{"pk": 102}]})
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    # Then amounts are JSON numbers written with KWD's three decimals, never through a float
    total = 12345 + 2 * 2500 - 1 + 750
    assert f'"amount":{to_decimal(total, "KWD")}' in first.text
    assert '"amount":18.094' in first.text
    order = first.json(parse_float=Decimal)
    assert order["number"] == number
    assert order["currency"] == "kwd"
    assert order["amount"] == Decimal("18.094")
    assert order["shipping_amount"] == Decimal("0.750")
    assert order["discount_amount"] == Decimal("0.001")
    assert order["status"] == "450" and order["is_send"] is False
    assert order["extra_field"]["captured_amount"] == Decimal("13.095")  # item 101 + shipping
    final = second.json(parse_float=Decimal)
    assert final["status"] == "500" and final["is_send"] is True
    assert final["extra_field"]["captured_amount"] == final["amount"]
    assert final["extra_field"]["remaining_capture_amount"] == Decimal("0.000")


def test_zero_decimal_currency(merchant: Merchant) -> None:
    detail = merchant.place(
        currency="JPY",
        items=[{"item_id": "7", "sku": "TEA", "quantity": 3, "unit_amount": 1200}],
        shipping_amount=500,
        payment={"authorized_amount": 4100},
    )
    response = capture_order(merchant, {"order": detail["order_id"], "order_items": [{"pk": 7}]})
    assert response.status_code == 200, response.text
    assert '"amount":4100,' in response.text and response.json()["currency"] == "jpy"


def test_errors_in_omnitrons_shapes(local_api: LocalApiUnderTest, merchant: Merchant) -> None:
    detail = merchant.place(currency="KWD", items=KWD_ITEMS, payment={"authorized_amount": 20000})
    number = detail["order_id"]
    before = ledger_items(local_api, merchant.merchant_id)
    unknown_item = capture_order(merchant, {"order": number, "order_items": [{"pk": 999}]})
    wrong_type = capture_order(merchant, {"order": number, "order_items": [{"pk": "101"}]})
    empty = capture_order(merchant, {"order": number, "order_items": []})
    missing_order = capture_order(merchant, {"order": "nope", "order_items": [{"pk": 101}]})
    assert ledger_items(local_api, merchant.merchant_id) == before
    assert unknown_item.status_code == 400
    assert list(unknown_item.json()) == ["order_items"]
    assert list(unknown_item.json()["order_items"][0]) == ["pk"]
    assert wrong_type.status_code == 400 and "pk" in wrong_type.json()["order_items"][0]
    assert empty.status_code == 400
    assert all(isinstance(m, str) for m in empty.json()["order_items"])  # the list's own
    assert missing_order.status_code == 404
    assert missing_order.json() == {
        "detail": "order nope not found",
        "code": "order_not_found",
    }
    assert capture_order(merchant, {"order": number, "order_items": [{"pk": 101}]}).is_success
    twice = capture_order(merchant, {"order": number, "order_items": [{"pk": 101}]})
    assert twice.status_code == 409 and twice.json()["code"] == "invalid_state"


def test_401_bodies_are_detail_and_code(local_api: LocalApiUnderTest, merchant: Merchant) -> None:
    body = {"order": "any", "order_items": [{"pk": 1}]}
    with httpx.Client(base_url=local_api.url, timeout=CLIENT_TIMEOUT_SECONDS) as anonymous:
        missing = anonymous.post("/api/v1/capture-order/", json=body, headers=idempotency_key())
        invalid = anonymous.post(
            "/api/v1/capture-order/",
            json=body,
            headers=idempotency_key() | {"Authorization": f"Token oc_{uuid.uuid4().hex}"},
        )
    bearer = capture_order(merchant, body, scheme="Bearer")
    # No Authorization: API Gateway's UNAUTHORIZED, with Omnitron's fields among others'
    assert missing.status_code == 401
    assert missing.json()["detail"] == "Authentication credentials were not provided."
    assert missing.json()["code"] == "not_authenticated"
    assert invalid.status_code == bearer.status_code == 401
    assert (
        invalid.json()
        == bearer.json()
        == {
            "detail": "Invalid token.",
            "code": "authentication_failed",
        }
    )


def test_defect_2_a_retry_of_a_lost_race_captures_only_what_was_asked(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place(currency="KWD", items=KWD_ITEMS, payment={"authorized_amount": 20089})
    number = detail["order_id"]
    body = {"order": number, "order_items": [{"pk": 101}]}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    with (
        racing_first(
            local_api,
            merchant.merchant_id,
            number,
            items=[ItemQuantity(item_id="101", quantity=1)],
        ),
        merchant.client(scheme="Token") as client,
    ):
        lost = client.post("/api/v1/capture-order/", json=body, headers=key)
        retried = client.post("/api/v1/capture-order/", json=body, headers=key)
    # The first request lost pk 101 to the other one: 409
    assert lost.status_code == 409, lost.text
    # The retry answers as the first time, and never captures pk 102, which nobody asked for
    assert (retried.status_code, retried.json()["code"]) == (409, lost.json()["code"])
    assert "'101'" in retried.json()["detail"]
    order = local_api.runtime.repository().get_order(merchant.merchant_id, number)
    assert [(line.item_id, line.shipped_quantity) for line in order.lines] == [
        ("101", 1),
        ("102", 0),
    ]
    # The racing capture alone: pk 101 and the shipping
    assert order.captured_amount == 12345 + detail["shipping_amount"]


def test_review_a_free_item_ships_and_the_order_becomes_shipped(merchant: Merchant) -> None:
    """Item 103, a free gift, captured after the others: it was a 409 "nothing left to
    capture" naming the order, the unit stayed unshipped and the order stuck at "450"."""
    gift = {"item_id": "103", "sku": "SAMPLE", "quantity": 1, "unit_amount": 0}
    detail = merchant.place(
        currency="KWD",
        items=[*KWD_ITEMS, gift],
        shipping_amount=750,
        payment={"authorized_amount": 20089},
    )
    number = detail["order_id"]
    paid = capture_order(merchant, {"order": number, "order_items": [{"pk": 101}, {"pk": 102}]})
    free = capture_order(merchant, {"order": number, "order_items": [{"pk": 103}]})
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "450"
    assert free.status_code == 200, free.text
    order = free.json(parse_float=Decimal)
    assert order["status"] == "500" and order["is_send"] is True
    assert order["extra_field"]["captured_amount"] == order["amount"] == Decimal("18.094")
    again = capture_order(merchant, {"order": number, "order_items": [{"pk": 103}]})
    assert again.status_code == 409, again.text


def test_review_a_400_names_each_wrong_field_under_its_own_name(merchant: Merchant) -> None:
    """Two wrong fields: both messages were under the first field's key, as if ``order``
    were wrong twice. Django REST framework answers each field's messages under its name."""
    response = capture_order(merchant, {"order": "", "order_items": [{"pk": "one"}]})
    assert response.status_code == 400, response.text
    body = response.json()
    assert sorted(body) == ["order", "order_items"]
    named = {"order": body["order"], "order_items[0].pk": body["order_items"][0]["pk"]}
    for field, messages in named.items():
        assert messages and all(message.startswith(f"{field}: ") for message in messages), body


def test_review_a_400_of_an_order_item_is_nested_as_drf_answers_it(merchant: Merchant) -> None:
    """``order_items`` is a nested serializer with many=True: Django REST framework's
    ListSerializer answers its errors as a list of one object per item ({} for a valid one),
    ``{"order_items": [{}, {"pk": [...]}]}``; it was a key ``order_items[1].pk``."""
    detail = merchant.place(currency="KWD", items=KWD_ITEMS, payment={"authorized_amount": 20089})
    response = capture_order(
        merchant, {"order": detail["order_id"], "order_items": [{"pk": 101}, {"pk": "x"}]}
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert list(body) == ["order_items"], body
    assert body["order_items"][0] == {}
    assert list(body["order_items"][1]) == ["pk"]
    assert all(isinstance(message, str) for message in body["order_items"][1]["pk"])


def test_review_an_error_naming_no_field_is_under_non_field_errors(merchant: Merchant) -> None:
    """docs/api.md: "what names no field under ``non_field_errors``", as DRF answers a
    serializer's validate() errors and a body that is no object. A repeated pk (the
    serializer's own check) and a list body were keyed "body", which no DRF client reads."""
    detail = merchant.place(currency="KWD", items=KWD_ITEMS, payment={"authorized_amount": 20089})
    repeated = capture_order(
        merchant, {"order": detail["order_id"], "order_items": [{"pk": 101}, {"pk": 101}]}
    )
    not_an_object = capture_order(merchant, [{"pk": 101}])
    for response in (repeated, not_an_object):
        assert response.status_code == 400, response.text
        assert list(response.json()) == ["non_field_errors"], response.text


def test_review_a_body_that_is_not_json_is_drfs_parse_error(merchant: Merchant) -> None:
    """DRF answers a body its JSON parser refuses with ParseError, ``{"detail": "JSON parse
    error - ..."}``; it was keyed "body" as if a serializer had read it."""
    with merchant.client("Token") as omnitron:
        response = omnitron.post(
            "/api/v1/capture-order/",
            content=b'{"order": ',
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "parse_error", response.text
    assert response.json()["detail"].startswith("JSON parse error - "), response.text
