"""Refunds against a capture over HTTP: ledger, provider and every dialect's view of them."""

from __future__ import annotations

import uuid

from order_capture.api.medusa_order import medusa_order
from order_capture.api.omnitron import omnitron_order
from tests.integration.api_support import (
    LocalApiUnderTest,
    Merchant,
    captured,
    idempotency_key,
    ledger_captures,
    ledger_items,
    local_api,
    merchant,
    refund,
    seed_order,
)

__all__ = ["local_api", "merchant"]  # fixtures


def provider_refunds(local_api: LocalApiUnderTest, provider_capture_id: str) -> list[int]:
    sandbox = local_api.runtime.sandbox
    assert sandbox is not None
    with sandbox.state.lock:
        capture = next(c for c in sandbox.state.captures if c["id"] == provider_capture_id)
        return [r["amount"] for r in capture["refunds"]]


def provider_capture_id(local_api: LocalApiUnderTest, merchant_id: str, capture_id: str) -> str:
    item = next(
        i for i in ledger_items(local_api, merchant_id) if i["SK"] == f"CAPTURE#{capture_id}"
    )
    return str(item["provider_reference"])


def test_partial_then_full_refund_updates_capture_order_and_every_dialect(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    # Given a capture of 10050 of Aplazame's seed order
    order_id, capture = captured(merchant)
    repository = local_api.runtime.repository()
    # When 3000 of it is refunded
    first = refund(merchant, order_id, capture["id"], 3000)
    # Then the capture shows the refund and what is left to refund
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["refund"]["amount"] == 3000 and body["refund"]["status"] == "refunded"
    assert [(r["id"], r["amount"]) for r in body["refunds"]] == [(body["refund"]["id"], 3000)]
    assert (body["amount"], body["refunded_amount"], body["remaining_amount"]) == (
        10050,
        3000,
        7050,
    )
    # And the order, Medusa and Omnitron say partially refunded
    order = repository.get_order(merchant.merchant_id, order_id)
    captures = repository.list_captures(merchant.merchant_id, order_id)
    assert order.refunded_amount == 3000
    medusa = medusa_order(order, captures)
    assert (medusa.payment_status, medusa.refunded_total, medusa.refundable_amount) == (
        "partially_refunded",
        3000,
        7050,
    )
    assert str(omnitron_order(order).refund_amount) == "30.00"

    # When the rest is refunded
    second = refund(merchant, order_id, capture["id"], 7050)
    assert second.status_code == 200, second.text
    assert (second.json()["refunded_amount"], second.json()["remaining_amount"]) == (10050, 0)
    # Then every read shows both refunds, and the provider made exactly those two
    with merchant.client() as client:
        one = client.get(f"/orders/{order_id}/captures/{capture['id']}").json()
        listed = client.get(f"/orders/{order_id}/captures").json()
        native_order = client.get(f"/orders/{order_id}").json()
    assert [r["amount"] for r in one["refunds"]] == [3000, 7050]
    assert listed["results"][0]["refunds"] == one["refunds"]
    assert native_order["refunded_amount"] == 10050
    order = repository.get_order(merchant.merchant_id, order_id)
    medusa = medusa_order(order, repository.list_captures(merchant.merchant_id, order_id))
    assert (medusa.payment_status, medusa.refundable_amount) == ("refunded", 0)
    assert str(omnitron_order(order).refund_amount) == "100.50"
    provider_id = provider_capture_id(local_api, merchant.merchant_id, capture["id"])
    assert provider_refunds(local_api, provider_id) == [3000, 7050]


def test_over_refund_is_422_naming_amount_and_changes_nothing(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id, capture = captured(merchant)
    assert refund(merchant, order_id, capture["id"], 10000).status_code == 200
    before = ledger_items(local_api, merchant.merchant_id)
    response = refund(merchant, order_id, capture["id"], 51)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["type"], error["field"]) == ("over_refund", "amount")
    assert "50" in error["message"]
    assert ledger_items(local_api, merchant.merchant_id) == before
    provider_id = provider_capture_id(local_api, merchant.merchant_id, capture["id"])
    assert provider_refunds(local_api, provider_id) == [10000]


def test_invalid_amounts_are_400(merchant: Merchant) -> None:
    order_id, capture = captured(merchant)
    for amount in (0, -1, "5", 1.5, None):
        response = refund(merchant, order_id, capture["id"], amount)
        assert response.status_code == 400, (amount, response.text)
        assert response.json()["error"]["field"] == "amount"


def test_unknown_capture_and_order_are_404(merchant: Merchant) -> None:
    order_id, _ = captured(merchant)
    unknown_capture = refund(merchant, order_id, "0" * 32, 1)
    unknown_order = refund(merchant, "no-such-order", "0" * 32, 1)
    assert unknown_capture.status_code == 404
    assert unknown_capture.json()["error"]["field"] == "capture_id"
    assert unknown_order.status_code == 404
    assert unknown_order.json()["error"]["field"] == "order_id"


def test_a_key_of_another_merchant_finds_nothing(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id, capture = captured(merchant)
    before = ledger_items(local_api, merchant.merchant_id)
    other = local_api.merchant("other")
    response = refund(other, order_id, capture["id"], 100)
    assert response.status_code == 404
    assert ledger_items(local_api, merchant.merchant_id) == before


def test_a_retry_with_the_same_key_never_refunds_twice(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id, capture = captured(merchant)
    key = uuid.uuid4().hex
    first = refund(merchant, order_id, capture["id"], 2500, key=key)
    replayed = refund(merchant, order_id, capture["id"], 2500, key=key)
    other_amount = refund(merchant, order_id, capture["id"], 2600, key=key)
    assert first.status_code == replayed.status_code == 200
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == first.json()
    assert other_amount.status_code == 422
    assert other_amount.json()["error"]["type"] == "idempotency_key_reused"
    # Even once the API's idempotency record is gone, the key names the same refund
    forget_idempotency_records(local_api)
    after_expiry = refund(merchant, order_id, capture["id"], 2500, key=key)
    assert after_expiry.status_code == 200, after_expiry.text
    assert "Idempotent-Replayed" not in after_expiry.headers
    assert after_expiry.json()["refund"]["id"] == first.json()["refund"]["id"]
    assert after_expiry.json()["refunded_amount"] == 2500
    provider_id = provider_capture_id(local_api, merchant.merchant_id, capture["id"])
    assert provider_refunds(local_api, provider_id) == [2500]


def forget_idempotency_records(local_api: LocalApiUnderTest) -> None:
    """What the records' TTL does after a day."""
    import boto3

    table = next(iter(local_api.runtime.template.tables.values())).name
    dynamodb = boto3.client("dynamodb")
    for item in local_api.runtime.ledger():
        if "expiration" in item and "status" in item and "data" in item:
            dynamodb.delete_item(
                TableName=table, Key={"PK": {"S": item["PK"]}, "SK": {"S": item["SK"]}}
            )


def test_provider_decline_is_402_and_the_amount_stays_refundable(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id, capture = captured(merchant)
    sandbox = local_api.runtime.sandbox
    assert sandbox is not None
    sandbox.add_fault("decline", operation="refund")
    key = uuid.uuid4().hex
    declined = refund(merchant, order_id, capture["id"], 1000, key=key)
    again = refund(merchant, order_id, capture["id"], 1000, key=key)
    assert declined.status_code == 402, declined.text
    assert declined.json()["error"]["type"] == "provider_declined"
    assert again.status_code == 402  # the same request keeps its answer
    with merchant.client() as client:
        after = client.get(f"/orders/{order_id}/captures/{capture['id']}").json()
    assert (after["refunds"], after["refunded_amount"], after["remaining_amount"]) == ([], 0, 10050)
    refund_items = [
        i for i in ledger_items(local_api, merchant.merchant_id) if i["SK"].startswith("REFUND#")
    ]
    assert [(i["status"], i["failure"]["reason"]) for i in refund_items] == [
        ("failed", "provider_declined")
    ]
    # A new request may refund the amount
    assert refund(merchant, order_id, capture["id"], 10050).status_code == 200


def test_provider_unavailable_keeps_the_refund_pending_until_the_retry(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id, capture = captured(merchant)
    sandbox = local_api.runtime.sandbox
    assert sandbox is not None
    sandbox.add_fault("unavailable", operation="refund")
    key = uuid.uuid4().hex
    unavailable = refund(merchant, order_id, capture["id"], 4000, key=key)
    assert unavailable.status_code == 503, unavailable.text
    with merchant.client() as client:
        during = client.get(f"/orders/{order_id}/captures/{capture['id']}").json()
    # Reserved: another refund cannot take the same money while this one is undecided
    assert (during["refunded_amount"], during["remaining_amount"]) == (0, 6050)
    assert [r["status"] for r in during["refunds"]] == ["pending"]
    retried = refund(merchant, order_id, capture["id"], 4000, key=key)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["refunded_amount"], retried.json()["remaining_amount"]) == (4000, 6050)
    provider_id = provider_capture_id(local_api, merchant.merchant_id, capture["id"])
    assert provider_refunds(local_api, provider_id) == [4000]


def test_only_a_captured_capture_can_be_refunded(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = seed_order(merchant.merchant_id)
    assert merchant.put_order(detail).status_code == 200
    sandbox = local_api.runtime.sandbox
    assert sandbox is not None
    sandbox.add_fault("decline")
    with merchant.client() as client:
        client.post(
            f"/orders/{detail['order_id']}/captures",
            json={"amount": 100},
            headers=idempotency_key(),
        )
        listed = client.get(f"/orders/{detail['order_id']}/captures").json()["results"]
    (failed,) = ledger_captures(local_api, merchant.merchant_id)
    assert listed == [] and failed["status"] == "failed"
    response = refund(merchant, detail["order_id"], failed["capture_id"], 100)
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "capture_id"


def test_a_refund_left_pending_is_sent_again_by_reconciliation_once(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    """The provider was unreachable and the client never retried: the Reconcile schedule asks
    again with the same idempotency key, and the money leaves once."""
    order_id, capture = captured(merchant)
    sandbox = local_api.runtime.sandbox
    assert sandbox is not None
    sandbox.add_fault("unavailable", operation="refund")
    assert refund(merchant, order_id, capture["id"], 4000).status_code == 503
    reconciled = local_api.runtime.invoke("ReconcileFunction", {"grace_seconds": 0})
    assert not reconciled.failed, reconciled.payload
    refunds_report = reconciled.payload["refunds"]
    assert refunds_report["refunded"] >= 1
    with merchant.client() as client:
        after = client.get(f"/orders/{order_id}/captures/{capture['id']}").json()
        order = client.get(f"/orders/{order_id}").json()
    assert [r["status"] for r in after["refunds"]] == ["refunded"]
    assert (after["refunded_amount"], after["remaining_amount"]) == (4000, 6050)
    assert order["refunded_amount"] == 4000
    provider_id = provider_capture_id(local_api, merchant.merchant_id, capture["id"])
    assert provider_refunds(local_api, provider_id) == [4000]
    # Settled: the next run does not see it again
    again = local_api.runtime.invoke("ReconcileFunction", {"grace_seconds": 0}).payload
    assert provider_refunds(local_api, provider_id) == [4000]
    assert again["refunds"]["refunded"] == 0
