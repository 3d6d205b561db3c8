"""The Medusa dialect: POST /admin/orders/{id}/capture returns Medusa's Order."""

from __future__ import annotations

import httpx

from tests.integration.api_support import (
    CLIENT_TIMEOUT_SECONDS,
    LocalApiUnderTest,
    Merchant,
    idempotency_key,
    ledger_items,
    local_api,
    merchant,
    order_detail,
)

__all__ = ["local_api", "merchant"]  # fixtures


def test_capture_everything_returns_medusas_order(merchant: Merchant) -> None:
    detail = merchant.place()
    with merchant.medusa_client() as client:
        response = client.post(
            f"/admin/orders/{detail['order_id']}/capture", headers=idempotency_key()
        )
    assert response.status_code == 200, response.text
    order = response.json()["order"]
    lines = detail["items"]
    subtotal = sum(line["quantity"] * line["unit_amount"] for line in lines)
    discount = sum(line["discount_amount"] for line in lines)
    tax = sum(line["tax_amount"] for line in lines)
    total = subtotal - discount + tax + detail["shipping_amount"]
    assert order["id"] == detail["order_id"]
    assert order["currency_code"] == "eur"
    assert (order["subtotal"], order["discount_total"], order["tax_total"]) == (
        subtotal,
        discount,
        tax,
    )
    assert order["shipping_total"] == detail["shipping_amount"]
    assert order["total"] == order["paid_total"] == order["refundable_amount"] == total
    assert order["refunded_total"] == 0
    assert order["status"] == "completed"
    assert order["payment_status"] == "captured"
    assert order["fulfillment_status"] == "shipped"
    assert [item["id"] for item in order["items"]] == [line["item_id"] for line in lines]
    assert order["items"][0]["unit_price"] == lines[0]["unit_amount"]
    assert order["payments"][0]["amount"] == detail["payment"]["authorized_amount"]
    assert order["payments"][0]["captured_at"] is not None


def test_expand_and_fields_choose_what_is_returned(merchant: Merchant) -> None:
    detail = merchant.place()
    with merchant.medusa_client() as client:
        response = client.post(
            f"/admin/orders/{detail['order_id']}/capture",
            params={"expand": "payments", "fields": "status,paid_total"},
            headers=idempotency_key(),
        )
    assert response.status_code == 200, response.text
    order = response.json()["order"]
    assert set(order) == {"id", "status", "paid_total", "payments"}


def test_unknown_expand_is_400_and_captures_nothing(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place()
    before = ledger_items(local_api, merchant.merchant_id)
    with merchant.medusa_client() as client:
        response = client.post(
            f"/admin/orders/{detail['order_id']}/capture",
            params={"expand": "cart"},
            headers=idempotency_key(),
        )
    assert response.status_code == 400
    assert response.json()["type"] == "invalid_data" and response.json()["field"] == "expand"
    assert ledger_items(local_api, merchant.merchant_id) == before


def test_review_capturing_a_captured_order_answers_the_order_as_medusa_does(
    merchant: Merchant,
) -> None:
    # Medusa v1's OrderService.capturePayment skips payments already captured and answers
    # the order (200); its 409 is a conflict with another request, which medusa-js retries
    # (shouldRetryCondition): a deterministic 409 was retried maxRetries times, then thrown.
    detail = merchant.place()
    path = f"/admin/orders/{detail['order_id']}/capture"
    with merchant.medusa_client() as client:
        first = client.post(path, headers=idempotency_key())
        again = client.post(path, headers=idempotency_key())
    assert first.status_code == 200, first.text
    assert again.status_code == 200, again.text
    assert again.json()["order"]["payment_status"] == "captured"
    assert again.json()["order"]["paid_total"] == first.json()["order"]["paid_total"]
    with merchant.client() as native:
        listed = native.get(f"/orders/{detail['order_id']}/captures")
    assert len(listed.json()["results"]) == 1, listed.text


def test_review_capturing_a_canceled_order_is_400_not_allowed(merchant: Merchant) -> None:
    # Medusa v1: "A canceled order cannot capture payment", MedusaError NOT_ALLOWED (400).
    detail = merchant.place()
    every_unit = [{"item_id": i["item_id"], "quantity": i["quantity"]} for i in detail["items"]]
    with merchant.client() as native:
        canceled = native.post(
            f"/orders/{detail['order_id']}/cancellations",
            json={"items": every_unit},
            headers=idempotency_key(),
        )
    assert canceled.status_code == 200, canceled.text
    with merchant.medusa_client() as client:
        response = client.post(
            f"/admin/orders/{detail['order_id']}/capture", headers=idempotency_key()
        )
    assert response.status_code == 400, response.text
    assert response.json() == {
        "type": "not_allowed",
        "message": "A canceled order cannot capture payment",
        "field": "id",
    }


def test_over_capture_is_422_invalid_request(merchant: Merchant) -> None:
    # An order whose authorization is below its total cannot be captured whole
    detail = merchant.place(payment={"authorized_amount": 5000})
    with merchant.medusa_client() as client:
        response = client.post(
            f"/admin/orders/{detail['order_id']}/capture", headers=idempotency_key()
        )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request_error"


def test_not_found_and_unauthorized_in_medusas_shape(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    import httpx

    with merchant.medusa_client() as client:
        missing = client.post("/admin/orders/order_missing/capture", headers=idempotency_key())
    with httpx.Client(base_url=local_api.url, timeout=CLIENT_TIMEOUT_SECONDS) as anonymous:
        unauthorized = anonymous.post(
            "/admin/orders/order_missing/capture", headers=idempotency_key()
        )
    assert missing.status_code == 404 and missing.json()["type"] == "not_found"
    assert missing.json()["field"] == "id"
    # No x-medusa-access-token: API Gateway's UNAUTHORIZED, in Medusa's shape among others'
    assert unauthorized.status_code == 401
    assert unauthorized.json()["type"] == "unauthorized"
    assert unauthorized.json()["message"] == "Unauthorized"


def test_x_medusa_access_token_authenticates_like_bearer(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place()
    path = f"/admin/orders/{detail['order_id']}/capture"
    with httpx.Client(base_url=local_api.url, timeout=CLIENT_TIMEOUT_SECONDS) as client:
        unknown = client.post(path, headers={"x-medusa-access-token": "oc_unknown"})
        captured = client.post(path, headers={"x-medusa-access-token": merchant.api_key})
    assert unknown.status_code == 401 and unknown.json()["type"] == "unauthorized"
    assert captured.status_code == 200, captured.text


def test_shop_references_are_stored_echoed_and_part_of_the_registration(
    merchant: Merchant,
) -> None:
    references = {
        "customer_id": "cus_1",
        "email": "buyer@example.com",
        "display_id": 7,
        "region_id": "reg_eu",
        "metadata": {"note": "gift", "weight": 0.5},
    }
    detail = merchant.place(**references)
    with merchant.medusa_client() as client:
        order = client.post(f"/admin/orders/{detail['order_id']}/capture").json()["order"]
    assert {key: order[key] for key in references} == references
    assert order["customer"]["email"] == "buyer@example.com"
    assert merchant.put_order(detail).status_code == 200  # the same registration again
    changed = merchant.put_order(detail | {"email": "other@example.com"})
    assert changed.status_code == 409
    invalid = merchant.put_order(detail | {"order_id": "o-2", "email": "not an email"})
    assert invalid.status_code == 400 and invalid.json()["error"]["field"] == "email"
    too_big = merchant.put_order(detail | {"order_id": "o-3", "metadata": {"x": "y" * 3000}})
    assert too_big.status_code == 400 and too_big.json()["error"]["field"] == "metadata"


def test_unknown_shop_references_default_to_values_of_their_type(merchant: Merchant) -> None:
    detail = merchant.place()
    with merchant.medusa_client() as client:
        order = client.post(f"/admin/orders/{detail['order_id']}/capture").json()["order"]
    assert (order["display_id"], order["customer_id"], order["email"], order["region_id"]) == (
        0,
        "",
        "",
        "",
    )
    assert order["metadata"] is None
    for relation in ("claims", "discounts", "returns", "shipping_methods", "swaps", "gift_cards"):
        assert order[relation] == []


def test_review_a_lines_refundable_is_what_its_captures_took_never_its_canceled_units(
    merchant: Merchant,
) -> None:
    """Line 1, 3 units of 1000 (discount 100, tax 210): 1 unit canceled, the other 2 shipped
    and captured. Its ``refundable`` (``@medusajs/client-types`` LineItem: what can be refunded
    for it) was the value of all 3 units, and the items' sum exceeded ``paid_total``."""
    detail = order_detail(
        merchant.merchant_id,
        currency="EUR",
        shipping_amount=500,
        items=[
            {
                "item_id": "1",
                "sku": "A",
                "quantity": 3,
                "unit_amount": 1000,
                "discount_amount": 100,
                "tax_amount": 210,
            },
            {"item_id": "2", "sku": "B", "quantity": 1, "unit_amount": 2000},
        ],
        payment={"authorized_amount": 5610},
    )
    order_id = detail["order_id"]
    assert merchant.put_order(detail).status_code == 200
    with merchant.client() as client:
        canceled = client.post(
            f"/orders/{order_id}/cancellations", json={"items": [{"item_id": "1", "quantity": 1}]}
        )
    with merchant.medusa_client() as client:
        response = client.post(
            f"/admin/orders/{order_id}/capture", params={"expand": "items"},
            headers=idempotency_key(),
        )  # fmt: skip
    assert canceled.status_code == 200, canceled.text
    assert response.status_code == 200, response.text
    order = response.json()["order"]
    line_1, line_2 = order["items"]
    assert line_2["refundable"] == 2000
    canceled_value = 3110 - 2074  # the canceled unit's share of the line's 3110
    assert line_1["refundable"] == 3110 - canceled_value
    assert sum(item["refundable"] for item in order["items"]) + 500 == order["paid_total"]


def test_capturing_a_captured_order_reads_the_order_once_for_its_answer(
    merchant: Merchant,
) -> None:
    # The refused capture reads the order to tell "nothing left" from a capture in flight; the
    # 200 answers that same read (Medusa's nothing-left path read the order twice).
    from collections import Counter
    from typing import Any

    from order_capture.api.app import default_dependencies

    detail = merchant.place()
    path = f"/admin/orders/{detail['order_id']}/capture"
    made: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        made[model.name] += 1

    # The local API runs ApiFunction in this process, on the DynamoDB ledger's one client.
    ledger: Any = default_dependencies().repository
    events = ledger.table.client.meta.events
    with merchant.medusa_client() as client:
        assert client.post(path, headers=idempotency_key()).status_code == 200
        events.register("before-call.dynamodb", count)
        try:
            again = client.post(path, headers=idempotency_key())
        finally:
            events.unregister("before-call.dynamodb", count)
    assert again.status_code == 200, again.text
    # The refused capture's read of the order and this shipment's capture (BatchGetItem), then
    # once: the order (BatchGetItem), its captures (Query, and BatchGetItem for their lines),
    # its refunds (Query). It read the order and its captures twice: 5 BatchGetItem, 3 Query.
    assert made == Counter({"BatchGetItem": 3, "Query": 2}), made
