"""Every error reaches the client in its dialect's shape, with the right status and field, and
without naming anything internal (issue 12, defect 9)."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.config import Config

from order_capture.adapters.api_keys import DynamoDBApiKeyStore
from order_capture.adapters.dynamodb import DynamoDBOrderRepository
from order_capture.errors import LedgerUnavailableError
from tests.integration.api_support import (
    LocalApiUnderTest,
    Merchant,
    idempotency_key,
    ledger_items,
    local_api,
    merchant,
    racing_first,
)

__all__ = ["local_api", "merchant"]  # fixtures


def test_defect_9_medusa_capture_without_provider_credentials_names_no_secret(
    merchant: Merchant,
) -> None:
    # An order at a provider the merchant has no credentials for
    detail = merchant.place(payment={"provider": "stripe", "reference": "pi_none"})
    with merchant.medusa_client() as client:
        response = client.post(
            f"/admin/orders/{detail['order_id']}/capture", headers=idempotency_key()
        )
    body = response.json()
    assert response.status_code == 502, response.text
    assert (body["type"], body["code"]) == ("unexpected_state", "provider_not_configured")
    assert "stripe" in body["message"]
    for internal in ("secret", "order-capture/providers", merchant.merchant_id + "/stripe"):
        assert internal not in response.text.lower()


@pytest.mark.parametrize("media_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8"])
def test_defect_9_media_types_are_case_insensitive(merchant: Merchant, media_type: str) -> None:
    detail = merchant.place()
    with merchant.client() as client:
        response = client.post(
            f"/orders/{detail['order_id']}/captures",
            content=b'{"amount": 1000}',
            headers=idempotency_key() | {"Content-Type": media_type},
        )
    assert response.status_code == 200, response.text
    assert response.json()["amount"] == 1000


def test_defect_9_a_415_is_in_the_dialects_shape(merchant: Merchant) -> None:
    detail = merchant.place()
    with merchant.client() as client:
        response = client.post(
            f"/orders/{detail['order_id']}/captures",
            content=b'{"amount": 1000}',
            headers=idempotency_key() | {"Content-Type": "text/plain"},
        )
    assert response.status_code == 415
    assert response.json()["error"]["field"] == "Content-Type"


def test_defect_9_a_declined_key_answers_a_corrected_body_422_as_stripe_does(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    """The decline is recorded under the key (its capture id derives from it): the key's answer
    from then on. The same body gets the 402 again; another body with that key is 422, never
    the old 402 passed off as the answer to the new request."""
    detail = merchant.place()
    sandbox = local_api.runtime.sandbox
    assert sandbox is not None
    sandbox.add_fault("decline")
    key = {"Idempotency-Key": uuid.uuid4().hex}
    path = f"/orders/{detail['order_id']}/captures"
    with merchant.client() as client:
        declined = client.post(path, json={"amount": 1000}, headers=key)
        again = client.post(path, json={"amount": 1000}, headers=key)
        corrected = client.post(path, json={"amount": 900}, headers=key)
        with_new_key = client.post(path, json={"amount": 900}, headers=idempotency_key())
    assert declined.status_code == 402, declined.text
    assert (again.status_code, again.json()) == (402, declined.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert corrected.status_code == 422, corrected.text
    assert corrected.json()["error"]["type"] == "idempotency_key_reused"
    assert with_new_key.status_code == 200, with_new_key.text
    captures = [i for i in ledger_items(local_api, merchant.merchant_id) if "CAPTURE#" in i["SK"]]
    assert sorted((c["status"], int(c["amount"])) for c in captures) == [
        ("captured", 900),
        ("failed", 1000),
    ]


def test_defect_9_a_refusal_that_wrote_nothing_leaves_the_key_free(merchant: Merchant) -> None:
    detail = merchant.place()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    path = f"/orders/{detail['order_id']}/captures"
    with merchant.client() as client:
        too_much = client.post(path, json={"amount": 10**9}, headers=key)
        fixed = client.post(path, json={"amount": 1000}, headers=key)
    assert too_much.status_code == 422
    assert fixed.status_code == 200, fixed.text


def test_defect_9_an_over_capture_found_by_the_workflow_names_the_field(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place()
    order_id = detail["order_id"]
    with (
        racing_first(local_api, merchant.merchant_id, order_id, amount=9000),
        merchant.client() as client,
    ):
        response = client.post(
            f"/orders/{order_id}/captures", json={"amount": 5000}, headers=idempotency_key()
        )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["type"], error["field"]) == ("over_capture", "amount")


def test_defect_9_a_dynamodb_connection_error_is_ledger_unavailable() -> None:
    """What the state machine's ledger retries match (ErrorEquals LedgerUnavailableError)."""
    unreachable = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 1}),
    )
    repository = DynamoDBOrderRepository("ledger", unreachable)
    with pytest.raises(LedgerUnavailableError):
        repository.get_order("merchant-1", "order-1001")
    # The API's key lookup too (a 503 in the dialect, not a crash)
    with pytest.raises(LedgerUnavailableError):
        DynamoDBApiKeyStore("ledger", unreachable).merchant_for("0" * 64)
