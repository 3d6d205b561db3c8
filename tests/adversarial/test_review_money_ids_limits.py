"""Review B: money and identifiers at their limits over HTTP, in every dialect, and on order
registration. Each test here failed on the code as reviewed."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.integration.api_support import (
    Merchant,
    idempotency_key,
    local_api,
    merchant,
    order_detail,
)

__all__ = ["local_api", "merchant"]  # fixtures

#: More digits than Python's ``int`` parser takes (``sys.get_int_max_str_digits()``, 4300):
#: a 5 KB body, far inside the 256 KiB limit.
HUGE_INTEGER = "9" * 5000


def _post(client: httpx.Client, path: str, text: str) -> httpx.Response:
    return client.post(
        path,
        content=text.encode(),
        headers={"Content-Type": "application/json", **idempotency_key()},
    )


# --- A JSON integer of 5,000 digits: 502 from API Gateway, no dialect's 400 -------------------


def test_review_a_5000_digit_amount_is_a_400_naming_amount_not_a_502(merchant: Merchant) -> None:
    detail = merchant.place()
    with merchant.client() as client:
        response = _post(
            client, f"/orders/{detail['order_id']}/captures", f'{{"amount": {HUGE_INTEGER}}}'
        )
        listed = client.get(f"/orders/{detail['order_id']}/captures").json()
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == "amount", response.text
    assert listed["results"] == []


def test_review_a_5000_digit_number_in_an_order_is_a_400_naming_it_not_a_502(
    merchant: Merchant,
) -> None:
    detail = order_detail(merchant.merchant_id)
    text = json.dumps(detail)[:-1] + f', "metadata": {{"n": {HUGE_INTEGER}}}}}'
    with merchant.client() as client:
        response = client.put(
            f"/orders/{detail['order_id']}",
            content=text.encode(),
            headers={"Content-Type": "application/json", **idempotency_key()},
        )
        got = client.get(f"/orders/{detail['order_id']}")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == "metadata.n", response.text
    assert got.status_code == 404  # nothing written


def test_review_a_5000_digit_pk_is_omnitrons_400_naming_the_pk_not_a_502(
    merchant: Merchant,
) -> None:
    detail = merchant.place(
        items=[{"item_id": "17", "sku": "A", "quantity": 1, "unit_amount": 1000}],
        shipping_amount=0,
        payment={"authorized_amount": 1000},
    )
    body = f'{{"order": "{detail["order_id"]}", "order_items": [{{"pk": {HUGE_INTEGER}}}]}}'
    with merchant.client(scheme="Token") as client:
        response = _post(client, "/api/v1/capture-order/", body)
    assert response.status_code == 400, response.text
    errors = response.json()
    assert list(errors) == ["order_items"], errors  # DRF's shape: the nested serializer's field
    assert list(errors["order_items"][0]) == ["pk"], errors


# --- NaN and Infinity are not JSON (RFC 8259): accepted, then echoed as null ---------------------


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_review_nan_or_infinity_in_a_body_is_a_400_naming_the_field(
    merchant: Merchant, token: str
) -> None:
    detail = order_detail(merchant.merchant_id)
    text = json.dumps(detail)[:-1] + f', "metadata": {{"weight": {token}}}}}'
    with merchant.client() as client:
        response = client.put(
            f"/orders/{detail['order_id']}",
            content=text.encode(),
            headers={"Content-Type": "application/json", **idempotency_key()},
        )
    # On the code reviewed: 200, and Medusa's Order then echoes metadata {"weight": null}.
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == "metadata.weight", response.text


# --- The 256 KiB limit counts characters, not bytes ---------------------------------------------


def test_review_a_body_over_256_kib_of_multibyte_text_is_413(merchant: Merchant) -> None:
    detail = merchant.place()
    pad = "\U0001f600" * 70_000  # 70,000 characters, 280,000 bytes of UTF-8
    text = json.dumps({"amount": 1, "pad": pad}, ensure_ascii=False)
    assert len(text) < 256 * 1024 < len(text.encode())
    with merchant.client() as client:
        response = _post(client, f"/orders/{detail['order_id']}/captures", text)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["field"] == "body", response.text


def test_review_omnitron_captures_despite_a_body_over_256_kib(merchant: Merchant) -> None:
    """Omnitron ignores unknown fields (as DRF does), so the oversized body is not even a 400:
    the capture is made."""
    detail = merchant.place(
        items=[{"item_id": "17", "sku": "A", "quantity": 1, "unit_amount": 1000}],
        shipping_amount=0,
        payment={"authorized_amount": 1000},
    )
    body = {"order": detail["order_id"], "order_items": [{"pk": 17}], "note": "é" * 140_000}
    text = json.dumps(body, ensure_ascii=False)
    assert len(text) < 256 * 1024 < len(text.encode())
    with merchant.client(scheme="Token") as client:
        response = _post(client, "/api/v1/capture-order/", text)
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "payload_too_large", response.text


# --- Duplicate item ids: refused, but the error names "body", not the items -------------------


def _assert_names_items(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    field = response.json()["error"]["field"]
    assert field.startswith("items"), f"field {field!r}: {response.text}"


def test_review_a_capture_listing_an_item_twice_names_items(merchant: Merchant) -> None:
    detail = merchant.place()  # line-1: 3 units
    items = [{"item_id": "line-1", "quantity": 2}, {"item_id": "line-1", "quantity": 2}]
    with merchant.client() as client:
        response = client.post(
            f"/orders/{detail['order_id']}/captures",
            json={"items": items},
            headers=idempotency_key(),
        )
    _assert_names_items(response)


def test_review_a_cancellation_listing_an_item_twice_names_items(merchant: Merchant) -> None:
    detail = merchant.place()
    items = [{"item_id": "line-1", "quantity": 1}, {"item_id": "line-1", "quantity": 1}]
    with merchant.client() as client:
        response = client.post(
            f"/orders/{detail['order_id']}/cancellations",
            json={"items": items},
            headers=idempotency_key(),
        )
    _assert_names_items(response)


def test_review_an_order_registered_with_an_item_twice_names_items(merchant: Merchant) -> None:
    detail = order_detail(merchant.merchant_id)
    detail["items"][1]["item_id"] = detail["items"][0]["item_id"]
    _assert_names_items(merchant.put_order(detail))
