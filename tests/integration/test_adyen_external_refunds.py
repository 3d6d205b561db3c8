"""Refunds made in Adyen's Customer Area reach the ledger through the signed webhook (the
local stack's API, its sandbox speaking Adyen's notifications): a ``REFUND`` naming no refund
of ours is recorded once when its ``merchantReference`` is one of our orders whose
authorization is its ``originalReference``, so our refund API never refunds that money again;
a later ``REFUNDED_REVERSED`` undoes it; a notification proving no order records nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.api_support import LocalApiUnderTest, Merchant, ledger_items
from tests.integration.async_support import (
    post_webhook,
    signed_notification,
    signed_webhook_api,
    webhook_merchant,
)


@pytest.fixture(scope="module")
def async_api() -> Iterator[LocalApiUnderTest]:
    with signed_webhook_api(sandbox_calls_webhook=False) as api:
        yield api


def captured_order(merchant: Merchant) -> tuple[dict[str, Any], str]:
    detail = merchant.place()
    with merchant.client() as client:
        answer = client.post(
            f"/orders/{detail['order_id']}/captures",
            json={"amount": 6000},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert answer.status_code == 200, answer.text
    return detail, answer.json()["id"]


def customer_area_refund(
    detail: dict[str, Any], event: str = "REFUND", psp: str = "psp-ca-1", value: int = 2500
) -> dict[str, Any]:
    """A refund the merchant made in Adyen's Customer Area: the payment's merchantReference
    (our order id) and pspReference as ``originalReference``, its own pspReference."""
    return signed_notification(
        detail["order_id"],
        event,
        "true",
        pspReference=psp,
        originalReference=detail["payment"]["reference"],
        amount={"value": value, "currency": "EUR"},
    )


def resign(body: dict[str, Any]) -> dict[str, Any]:
    from order_capture.adapters.adyen import notification_signature
    from tests.integration.async_support import HMAC_KEY

    item = body["notificationItems"][0]["NotificationRequestItem"]
    item["additionalData"] = {"hmacSignature": notification_signature(item, HMAC_KEY)}
    return body


def refunded(merchant: Merchant, order_id: str, capture_id: str) -> tuple[int, int]:
    with merchant.client() as client:
        capture = client.get(f"/orders/{order_id}/captures/{capture_id}").json()
    return capture["refunded_amount"], capture["remaining_amount"]


def test_defect_11_a_customer_area_refund_is_recorded_once_and_not_refundable_again(
    async_api: LocalApiUnderTest,
) -> None:
    merchant = webhook_merchant(async_api)
    detail, capture_id = captured_order(merchant)
    body = resign(customer_area_refund(detail, psp=f"psp-{uuid.uuid4().hex[:8]}"))
    for _ in range(2):  # Adyen delivers at least once
        answer = post_webhook(async_api, merchant.merchant_id, body)
        assert (answer.status_code, answer.text) == (202, "[accepted]")
    assert refunded(merchant, detail["order_id"], capture_id) == (2500, 3500)
    with merchant.client() as client:
        over = client.post(
            f"/orders/{detail['order_id']}/captures/{capture_id}/refunds",
            json={"amount": 3501},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert over.status_code == 422, over.text

    item = body["notificationItems"][0]["NotificationRequestItem"]
    item["eventCode"] = "REFUNDED_REVERSED"
    answer = post_webhook(async_api, merchant.merchant_id, resign(body))
    assert answer.status_code == 202
    assert refunded(merchant, detail["order_id"], capture_id) == (0, 6000)


@pytest.mark.parametrize(
    "change",
    [
        {"originalReference": "auth_of_another_payment"},  # not this order's authorization
        {"merchantReference": "no-such-order"},
        {"success": "false"},  # refused: nothing moved
    ],
)
def test_a_customer_area_refund_that_proves_no_order_records_nothing(
    async_api: LocalApiUnderTest, change: dict[str, str]
) -> None:
    merchant = webhook_merchant(async_api)
    detail, capture_id = captured_order(merchant)
    body = customer_area_refund(detail, psp=f"psp-{uuid.uuid4().hex[:8]}")
    body["notificationItems"][0]["NotificationRequestItem"].update(change)
    before = ledger_items(async_api, merchant.merchant_id)
    answer = post_webhook(async_api, merchant.merchant_id, resign(body))
    assert (answer.status_code, answer.text) == (202, "[accepted]")
    assert refunded(merchant, detail["order_id"], capture_id) == (0, 6000)
    assert len(ledger_items(async_api, merchant.merchant_id)) == len(before)
