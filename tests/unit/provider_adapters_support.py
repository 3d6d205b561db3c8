"""The provider adapters as the contract tests drive them (through ``httpx.MockTransport`` and
the recorder): requests, adapters and the answers the providers' docs show, shared by the
provider test modules."""

from __future__ import annotations

from typing import Any

from order_capture.adapters.adyen import AdyenProvider
from order_capture.adapters.aplazame import AplazameProvider
from order_capture.adapters.credentials import ProviderCredentials
from order_capture.adapters.stripe import StripeProvider
from order_capture.models import CaptureLine
from order_capture.ports import (
    ProviderCaptureLookup,
    ProviderCaptureRequest,
    ProviderRefundRequest,
    ProviderReleaseRequest,
)
from tests.unit.provider_recorder import Recorder

KEY = "6b1f0c6a2f2e5d7a9c3b4e8f1a2d3c4b"  # a capture id, as the service makes them


SECRET = "sk_test_not_a_real_key"


def capture_request(reference: str, amount: int = 10050, **extra: Any) -> ProviderCaptureRequest:
    return ProviderCaptureRequest(
        authorization_reference=reference,
        amount=amount,
        currency="EUR",
        idempotency_key=KEY,
        lines=[
            CaptureLine(item_id="sku-1", quantity=2, amount=8000),
            CaptureLine(item_id="sku-2", quantity=3, amount=2050),
        ],
        merchant_id="m-1",
        order_id="o-1",
        **extra,
    )


def refund_request(reference: str, capture_reference: str, amount: int) -> ProviderRefundRequest:
    return ProviderRefundRequest(
        authorization_reference=reference,
        capture_reference=capture_reference,
        amount=amount,
        currency="EUR",
        idempotency_key=f"refund-{KEY}",
        merchant_id="m-1",
        order_id="o-1",
    )


def refund_of(capture: ProviderCaptureRequest, amount: int) -> ProviderRefundRequest:
    """A refund of ``amount`` of ``capture``, with the capture's lines as the service sends them."""
    return refund_request(capture.authorization_reference, "QJCMPCBQPXKHGXX6", amount).model_copy(
        update={
            "capture_amount": capture.amount,
            "lines": capture.lines,
            "shipping_amount": capture.shipping_amount,
            "items": capture.items,
        }
    )


def release_request(reference: str, remaining: int) -> ProviderReleaseRequest:
    return ProviderReleaseRequest(
        authorization_reference=reference,
        remaining_amount=remaining,
        currency="EUR",
        idempotency_key=f"release-{KEY}",
        merchant_id="m-1",
        order_id="o-1",
    )


def lookup(reference: str, **by: str) -> ProviderCaptureLookup:
    return ProviderCaptureLookup(
        authorization_reference=reference, merchant_id="m-1", order_id="o-1", **by
    )


CAPTURE_BEFORE = 1_767_225_600  # 2026-01-01T00:00:00Z


def stripe_intent(**changes: Any) -> dict[str, Any]:
    """A PaymentIntent as Stripe's capture answers it (docs "Capture a PaymentIntent"),
    with ``latest_charge`` expanded."""
    intent = {
        "id": "pi_3MrPBM2eZvKYlo2C1TEMacFD",
        "object": "payment_intent",
        "amount": 20000,
        "amount_capturable": 9950,
        "amount_received": 10050,
        "currency": "eur",
        "status": "requires_capture",
        "capture_method": "manual",
        "metadata": {},
        "latest_charge": {
            "id": "ch_3MrPBM2eZvKYlo2C1",
            "object": "charge",
            "payment_method_details": {"card": {"capture_before": CAPTURE_BEFORE}, "type": "card"},
        },
    }
    return {**intent, **changes}


def stripe(recorder: Recorder) -> StripeProvider:
    return StripeProvider(ProviderCredentials(api_key=SECRET), 5, recorder.transport)


def multicapture_intent(status: str = "available", capturable: int = 20000) -> dict[str, Any]:
    """The intent as a partial capture's check reads it (GET, ``latest_charge`` expanded)."""
    card = {"capture_before": CAPTURE_BEFORE, "multicapture": {"status": status}}
    charge = {"id": "ch_1", "object": "charge", "payment_method_details": {"card": card}}
    return stripe_intent(amount_capturable=capturable, amount_received=0, latest_charge=charge)


def partial_stripe(recorder: Recorder) -> StripeProvider:
    """``stripe`` for a capture that is not the last: it reads the intent first (multicapture
    available), then answers as queued."""
    recorder.responses.insert(0, Recorder().answer(200, multicapture_intent()).responses[0])
    return stripe(recorder)


def stripe_error(type_: str, code: str | None, **extra: Any) -> dict[str, Any]:
    """Stripe's error body; without a code Stripe leaves ``code`` out (spec3: a string)."""
    coded = {"code": code} if code is not None else {}
    return {"error": {"type": type_, **coded, "message": f"{code} happened", **extra}}


APLAZAME_CAPTURE = {  # POST /orders/:orderId/captures, Aplazame docs "Request capture"
    "remaining_capture_amount": 49970,
    "amount": 10050,
    "id": "cf04aa87a6364f14b164e48a84e99936",
    "created": "2019-06-21T16:51:19.494155+02:00",
    "refunds": [],
    "refunded_amount": 0,
    "remaining_amount": 10050,
}


def aplazame(recorder: Recorder) -> AplazameProvider:
    return AplazameProvider(ProviderCredentials(api_key=SECRET), 5, recorder.transport)


ADYEN_RECEIVED = {  # POST /payments/{paymentPspReference}/captures, Adyen API explorer
    "merchantAccount": "ShopECOM",
    "paymentPspReference": "993617894903480A",
    "pspReference": "QJCMPCBQPXKHGXX6",
    "reference": KEY,
    "status": "received",
    "amount": {"currency": "EUR", "value": 10050},
}


def adyen(recorder: Recorder) -> AdyenProvider:
    credentials = ProviderCredentials(api_key=SECRET, merchant_account="ShopECOM")
    return AdyenProvider(credentials, 5, recorder.transport)


def notification(event: str, success: str = "true", **changes: Any) -> dict[str, Any]:
    """An Adyen standard-webhook notification item for our capture ``KEY``."""
    return {
        "amount": {"currency": "EUR", "value": 10545},
        "eventCode": event,
        "eventDate": "2026-12-01T10:00:00+01:00",
        "merchantAccountCode": "ShopECOM",
        "merchantReference": KEY,
        "originalReference": "993617894903480A",
        "pspReference": "QJCMPCBQPXKHGXX6",
        "reason": "",
        "success": success,
        **changes,
    }
