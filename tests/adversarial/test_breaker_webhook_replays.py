"""Adversarial: provider webhooks replayed, reordered and re-signed, over HTTP on the local
runtime (the real workflow, the sandbox speaking Adyen's notifications). Adyen signs no
timestamp, so any notification it ever sent can come again, in any order: nothing may move
money or announce twice, and every answer is ``[accepted]`` or a clear 4xx. (Stripe's stale
replays: test_breaker_stripe_replays.py.)"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.integration.api_support import (
    LocalApiUnderTest,
    Merchant,
    idempotency_key,
    ledger_items,
    refund,
)
from tests.integration.async_support import (
    async_api,
    capture_asynchronously,
    confirmation_execution,
    events_about,
    merchant,
    order_totals,
    post_webhook,
    signed_notification,
    wait_for_status,
)

ACCEPTED = (202, "[accepted]")


__all__ = ["async_api", "merchant"]  # fixtures


def confirmed_by_webhook(api: LocalApiUnderTest, merchant: Merchant) -> tuple[str, str]:
    """A capture of 10050 the sandbox received and confirmed by its signed CAPTURE webhook:
    (order id, capture id)."""
    order_id, capture = capture_asynchronously(api, merchant, "async")
    wait_for_status(merchant, order_id, capture["id"], "captured")
    # its confirmation workflow has announced it
    assert confirmation_execution(api, capture["id"]).status == "SUCCEEDED"
    assert events_about(api, capture["id"]) == ["Payment Captured"]
    return order_id, capture["id"]


def deliver(api: LocalApiUnderTest, merchant_id: str, body: dict[str, Any]) -> None:
    response = post_webhook(api, merchant_id, body)
    assert (response.status_code, response.text) == ACCEPTED


def shown(merchant: Merchant, order_id: str, capture_id: str) -> tuple[Any, ...]:
    with merchant.client() as client:
        order = client.get(f"/orders/{order_id}").json()
        capture = client.get(f"/orders/{order_id}/captures/{capture_id}").json()
    return (
        capture["status"],
        capture["refunded_amount"],
        order["captured_amount"],
        order["refunded_amount"],
        order["remaining_capture_amount"],
    )


def test_breaker_a_capture_notification_replayed_after_a_refund_changes_nothing(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    # Given a capture confirmed by its webhook, then refunded 3000 (the sandbox at once)
    order_id, capture_id = confirmed_by_webhook(async_api, merchant)
    refunded = refund(merchant, order_id, capture_id, 3000)
    assert refunded.status_code == 200, refunded.text
    refund_id = refunded.json()["refund"]["id"]
    before = shown(merchant, order_id, capture_id)
    assert before == ("captured", 3000, 10050, 3000, 70070 - 10050)
    # When Adyen delivers the CAPTURE again, twice, and the refund's REFUND too
    for _ in range(2):
        deliver(async_api, merchant.merchant_id, signed_notification(capture_id, "CAPTURE", "true"))
        deliver(async_api, merchant.merchant_id, signed_notification(refund_id, "REFUND", "true"))
    # Then each is accepted and nothing moves or is announced again
    assert shown(merchant, order_id, capture_id) == before
    assert events_about(async_api, capture_id) == ["Payment Captured"]


def test_breaker_capture_failed_after_capture_reverses_once_whatever_is_replayed(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    # Given a capture confirmed by its webhook
    order_id, capture_id = confirmed_by_webhook(async_api, merchant)
    success = signed_notification(capture_id, "CAPTURE", "true")
    failure = signed_notification(capture_id, "CAPTURE_FAILED", "true")
    # When its CAPTURE_FAILED comes twice, with the CAPTURE replayed between and after
    for body in (failure, success, failure, success):
        deliver(async_api, merchant.merchant_id, body)
    # Then it is reversed once, stays reversed, and each outcome is announced once
    assert shown(merchant, order_id, capture_id) == ("failed", 0, 0, 0, 70070)
    assert events_about(async_api, capture_id) == ["Payment Captured", "Payment Capture Failed"]


def test_breaker_capture_failed_of_a_refunded_capture_reverses_once_and_keeps_the_refund(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    # Given a capture confirmed by its webhook and refunded 3000
    order_id, capture_id = confirmed_by_webhook(async_api, merchant)
    assert refund(merchant, order_id, capture_id, 3000).status_code == 200
    # When Adyen reports CAPTURE_FAILED for it after all, twice
    for _ in range(2):
        deliver(
            async_api,
            merchant.merchant_id,
            signed_notification(capture_id, "CAPTURE_FAILED", "true"),
        )
    # Then the capture is reversed once; the refund Adyen confirmed stays recorded (that money
    # left: only Adyen's REFUND_FAILED or REFUNDED_REVERSED takes it back), so the order shows
    # 3000 refunded of nothing captured, and the failed capture cannot be refunded again
    assert shown(merchant, order_id, capture_id) == ("failed", 3000, 0, 3000, 70070)
    again = refund(merchant, order_id, capture_id, 100)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["field"] == "capture_id"
    # and every dialect still answers with a 4xx at most, each outcome announced once
    with merchant.medusa_client() as medusa:
        answer = medusa.post(f"/admin/orders/{order_id}/capture", headers=idempotency_key())
    assert answer.status_code < 500, answer.text
    assert events_about(async_api, capture_id) == ["Payment Captured", "Payment Capture Failed"]


@pytest.mark.parametrize(
    "change",
    [
        {"amount": {"value": 1, "currency": "EUR"}},
        {"amount": {"value": 10050, "currency": "USD"}},
        {"success": "false"},
        {"eventCode": "CAPTURE_FAILED"},
        {"pspReference": "psp-other"},
        {"originalReference": "auth-other"},
    ],
    ids=["value", "currency", "success", "eventCode", "pspReference", "originalReference"],
)
def test_breaker_a_reused_hmac_over_a_changed_body_is_401_and_changes_nothing(
    async_api: LocalApiUnderTest, merchant: Merchant, change: dict[str, Any]
) -> None:
    # Given two confirmed captures, and a valid signed CAPTURE_FAILED of the second
    _, capture_id = confirmed_by_webhook(async_api, merchant)
    other_order, other_id = confirmed_by_webhook(async_api, merchant)
    before = ledger_items(async_api, merchant.merchant_id)
    valid = signed_notification(other_id, "CAPTURE_FAILED", "true")
    # When the signature of one item is kept over a changed body, alone or beside a valid item
    tampered = signed_notification(capture_id, "CAPTURE", "true")
    tampered["notificationItems"][0]["NotificationRequestItem"].update(change)
    batch = copy.deepcopy(valid)
    batch["notificationItems"] += tampered["notificationItems"]
    for body in (tampered, batch):
        response = post_webhook(async_api, merchant.merchant_id, body)
        # Then the whole call is refused, naming the signature, and nothing changes
        assert response.status_code == 401, response.text
        assert response.json()["error"]["field"] == "hmacSignature"
    assert ledger_items(async_api, merchant.merchant_id) == before
    assert shown(merchant, other_order, other_id)[0] == "captured"
    assert events_about(async_api, capture_id) == ["Payment Captured"]
    assert events_about(async_api, other_id) == ["Payment Captured"]


@pytest.mark.parametrize("event", ["CAPTURE", "CAPTURE_FAILED", "REFUND", "REFUND_FAILED"])
def test_breaker_a_notification_for_another_merchants_capture_changes_nothing_of_it(
    async_api: LocalApiUnderTest, merchant: Merchant, event: str
) -> None:
    # Given another merchant's captured and refunded capture (no webhook key of its own)
    victim = async_api.merchant("victim")
    victim_order = victim.place()
    with victim.client() as client:
        made = client.post(
            f"/orders/{victim_order['order_id']}/captures",
            json={"amount": 1000},
            headers=idempotency_key(),
        )
    assert made.status_code == 200, made.text
    capture_id = made.json()["id"]
    refunded = refund(victim, victim_order["order_id"], capture_id, 400)
    assert refunded.status_code == 200, refunded.text
    reference = refunded.json()["refund"]["id"] if event.startswith("REFUND") else capture_id
    before = ledger_items(async_api, victim.merchant_id)
    announced = len(async_api.runtime.emitted_events)
    # When a notification naming it, and its authorization, is signed with this merchant's
    # key and sent to this merchant's URL, then to the victim's
    body = signed_notification(
        reference, event, "true", authorization=victim_order["payment"]["reference"]
    )
    mine = post_webhook(async_api, merchant.merchant_id, body)
    theirs = post_webhook(async_api, victim.merchant_id, body)
    # Then this merchant's URL accepts and ignores it (not its capture), the victim's refuses
    # it, and nothing of the victim's changes or is announced
    assert (mine.status_code, mine.text) == ACCEPTED
    assert theirs.status_code == 401, theirs.text
    assert ledger_items(async_api, victim.merchant_id) == before
    assert len(async_api.runtime.emitted_events) == announced
    assert order_totals(victim, victim_order["order_id"]) == (1000, 0)
