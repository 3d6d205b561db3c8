"""Contract tests of the Adyen adapter against the request/response shapes of Adyen's API
explorer, through ``httpx.MockTransport`` (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.adapters.adyen import AdyenProvider
from order_capture.adapters.credentials import ProviderCredentials
from order_capture.errors import (
    CaptureOutcomeUnknownError,
    OutcomeUnknownNotRetryableError,
    ProviderDeclinedError,
    ProviderError,
    ProviderLookupUnsupportedError,
    ProviderNotConfiguredError,
    ProviderUnavailableError,
)
from order_capture.ports import (
    ProviderItem,
)
from tests.unit.provider_adapters_support import (
    ADYEN_RECEIVED,
    KEY,
    SECRET,
    adyen,
    capture_request,
    lookup,
    refund_request,
    release_request,
)
from tests.unit.provider_recorder import Recorder, json_body


def test_adyen_capture_sends_amount_line_items_and_merchant_account_and_is_pending() -> None:
    recorder = Recorder().answer(201, ADYEN_RECEIVED)
    items = {  # 21% VAT on sku-1 (8000 with tax: 6612 + 1388), none on sku-2
        "sku-1": ProviderItem(sku="TSHIRT-M", tax_amount=1388, amount_including_tax=8000),
        "sku-2": ProviderItem(sku="MUG", amount_including_tax=2050),
    }

    capture = adyen(recorder).capture(
        capture_request("993617894903480A", amount=10545, shipping_amount=495, items=items)
    )

    sent = recorder.last
    assert sent.method == "POST"
    assert str(sent.url) == "https://checkout-test.adyen.com/v71/payments/993617894903480A/captures"
    assert sent.headers["X-API-Key"] == SECRET
    assert sent.headers["Idempotency-Key"] == KEY
    assert sent.headers["Content-Type"] == "application/json"
    assert json_body(sent) == {
        "merchantAccount": "ShopECOM",
        "amount": {"value": 10545, "currency": "EUR"},
        "reference": KEY,
        "lineItems": [
            {"id": "sku-1", "description": "TSHIRT-M", "quantity": 2, "amountIncludingTax": 4000,
             "amountExcludingTax": 3306, "taxAmount": 694, "taxPercentage": 2100},
            # 2050 does not split evenly over 3 units: 2 x 683 + 1 x 684, true quantities.
            {"id": "sku-2", "description": "MUG", "quantity": 2, "amountIncludingTax": 683,
             "amountExcludingTax": 683, "taxAmount": 0, "taxPercentage": 0},
            {"id": "sku-2", "description": "MUG", "quantity": 1, "amountIncludingTax": 684,
             "amountExcludingTax": 684, "taxAmount": 0, "taxPercentage": 0},
            # Shipping is a line: the lines add up to the amount.
            {"id": "shipping", "description": "Shipping", "quantity": 1,
             "amountIncludingTax": 495, "amountExcludingTax": 495, "taxAmount": 0,
             "taxPercentage": 0},
        ],
    }  # fmt: skip
    assert (capture.provider_reference, capture.status) == ("QJCMPCBQPXKHGXX6", "pending")


def test_adyen_refund_and_release_are_received_modifications() -> None:
    recorder = (
        Recorder()
        .answer(201, {**ADYEN_RECEIVED, "pspReference": "REFUND0000000001"})
        .answer(201, {**ADYEN_RECEIVED, "pspReference": "CANCEL0000000001"})
    )
    provider = adyen(recorder)

    refund = provider.refund(refund_request("993617894903480A", "QJCMPCBQPXKHGXX6", 500))
    release = provider.release(release_request("993617894903480A", 9950))

    refund_sent, cancel_sent = recorder.requests
    assert refund_sent.url.path == "/v71/payments/993617894903480A/refunds"
    assert json_body(refund_sent) == {
        "merchantAccount": "ShopECOM",
        "amount": {"value": 500, "currency": "EUR"},
        "reference": f"refund-{KEY}",
        # Open-invoice methods refuse a partial refund without lines.
        "lineItems": [
            {"id": "refund", "description": "Refund", "quantity": 1, "amountIncludingTax": 500,
             "amountExcludingTax": 500, "taxAmount": 0, "taxPercentage": 0},
        ],
    }  # fmt: skip
    assert cancel_sent.url.path == "/v71/payments/993617894903480A/cancels"
    assert cancel_sent.headers["Idempotency-Key"] == f"release-{KEY}"
    assert (refund.provider_reference, refund.status) == ("REFUND0000000001", "pending")
    assert release.status == "pending"


def test_adyen_lookup_is_by_webhook_only() -> None:
    with pytest.raises(ProviderLookupUnsupportedError):
        adyen(Recorder()).find_capture(lookup("993617894903480A", idempotency_key=KEY))


def test_adyen_needs_a_merchant_account() -> None:
    with pytest.raises(ProviderNotConfiguredError):
        AdyenProvider(ProviderCredentials(api_key=SECRET))


def adyen_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "status": status,
        "errorCode": code,
        "message": message,
        "errorType": "validation",
        "pspReference": "8816178914079738",
    }


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            422,
            adyen_error(422, "167", "Original pspReference required for this operation"),
            ProviderDeclinedError,
        ),
        (403, adyen_error(403, "901", "Invalid Merchant Account"), ProviderNotConfiguredError),
        # Another request under this Idempotency-Key is still running (or ran): its outcome
        # is unknown here, never a decline that would give the units back while Adyen
        # captures (adyen-magento2 #1166, #2211: 704 answered for a successful payment).
        (
            422,
            adyen_error(422, "704", "request already processed or in progress"),
            ProviderUnavailableError,
        ),
        (401, {}, ProviderNotConfiguredError),
        (429, {}, ProviderUnavailableError),
        (500, adyen_error(500, "000", "Unknown error"), OutcomeUnknownNotRetryableError),
    ],
)
def test_adyen_error_mapping(status: int, body: dict[str, Any], error: type[ProviderError]) -> None:
    with pytest.raises(error) as raised:
        adyen(Recorder().answer(status, body)).capture(capture_request("993617894903480A"))
    assert type(raised.value) is error


def test_adyen_answer_other_than_received_is_an_unknown_outcome() -> None:
    with pytest.raises(CaptureOutcomeUnknownError):
        adyen(Recorder().answer(200, {"status": "weird"})).capture(capture_request("9936"))
