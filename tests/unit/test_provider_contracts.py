"""Contract tests: each adapter against request/response shapes recorded from the providers'
public API docs, through ``httpx.MockTransport`` (no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from order_capture.adapters.adyen import AdyenProvider
from order_capture.adapters.aplazame import AplazameProvider
from order_capture.adapters.credentials import ProviderCredentials
from order_capture.adapters.stripe import metadata_key
from order_capture.errors import (
    CaptureOutcomeUnknownError,
    OutcomeUnknownNotRetryableError,
    ProviderAuthorizationExpiredError,
    ProviderDeclinedError,
    ProviderError,
    ProviderLookupUnsupportedError,
    ProviderMulticaptureUnavailableError,
    ProviderNotConfiguredError,
    ProviderOverCaptureError,
    ProviderUnavailableError,
    proves_nothing_was_captured,
)
from order_capture.ports import (
    ProviderCaptureLookup,
    ProviderItem,
)
from tests.unit.provider_adapters_support import (
    ADYEN_RECEIVED,
    KEY,
    SECRET,
    adyen,
    capture_request,
    lookup,
    multicapture_intent,
    partial_stripe,
    refund_request,
    release_request,
    stripe,
    stripe_error,
    stripe_intent,
)
from tests.unit.provider_recorder import Recorder, form_body, json_body

# --- Aplazame ---------------------------------------------------------------------------------

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


def test_aplazame_capture_posts_the_amount_with_version_and_bearer_key() -> None:
    recorder = Recorder().answer(200, APLAZAME_CAPTURE)

    capture = aplazame(recorder).capture(capture_request("order 42"))

    sent = recorder.last
    assert (sent.method, sent.url.raw_path) == ("POST", b"/orders/order%2042/captures")
    assert str(sent.url).startswith("https://api.aplazame.com/")
    assert sent.headers["Accept"] == "application/vnd.aplazame.v1+json"
    assert sent.headers["Authorization"] == f"Bearer {SECRET}"
    assert json_body(sent) == {"amount": 10050}
    assert capture.provider_reference == "cf04aa87a6364f14b164e48a84e99936"
    assert (capture.amount, capture.currency, capture.status) == (10050, "EUR", "succeeded")


def test_aplazame_refund_targets_the_capture_and_returns_the_newest_refund() -> None:
    recorder = Recorder().answer(
        200,
        {  # POST /orders/:orderId/captures/:captureId/refunds, Aplazame docs
            "amount": 70070,
            "id": "cf04aa87a6364f14b164e48a84e99936",
            "created": "2019-06-21T16:51:19.494155+02:00",
            "refunds": [
                {"id": "older", "amount": 100, "created": "2019-06-21T16:50:00+02:00"},
                {
                    "id": "db654bf752a84b7eaf6fcb7ab5801f60",
                    "amount": 10050,
                    "pending_amount": 60020,
                    "created": "2019-06-21T16:52:07.733892+02:00",
                },
            ],
            "refunded_amount": 10150,
            "remaining_amount": 59920,
        },
    )

    refund = aplazame(recorder).refund(refund_request("o-42", "cf04aa87", 10050))

    assert recorder.last.url.path == "/orders/o-42/captures/cf04aa87/refunds"
    assert json_body(recorder.last) == {"amount": 10050}
    assert (refund.provider_reference, refund.amount) == ("db654bf752a84b7eaf6fcb7ab5801f60", 10050)


def test_aplazame_finds_a_capture_by_its_id_in_the_order_captures() -> None:
    recorder = Recorder().answer(
        200, {"remaining_capture_amount": 0, "results": [APLAZAME_CAPTURE]}
    )
    provider = aplazame(recorder)

    found = provider.find_capture(lookup("o-42", provider_reference=str(APLAZAME_CAPTURE["id"])))

    assert (recorder.last.method, recorder.last.url.path) == ("GET", "/orders/o-42/captures")
    assert found is not None and found.amount == 10050
    recorder.answer(200, {"remaining_capture_amount": 0, "results": [APLAZAME_CAPTURE]})
    assert provider.find_capture(lookup("o-42", provider_reference="other")) is None


def test_aplazame_cannot_look_up_by_idempotency_key() -> None:
    recorder = Recorder()
    with pytest.raises(ProviderLookupUnsupportedError):
        aplazame(recorder).find_capture(lookup("o-42", idempotency_key=KEY))
    assert recorder.requests == []


def aplazame_captures(*amounts_by_id: tuple[str, int]) -> dict[str, Any]:
    """GET /orders/:orderId/captures with captures of these ids and amounts."""
    results = [{**APLAZAME_CAPTURE, "id": id_, "amount": amount} for id_, amount in amounts_by_id]
    return {"remaining_capture_amount": 0, "results": results}


def by_elimination(amount: int, *known: str) -> ProviderCaptureLookup:
    return ProviderCaptureLookup(
        authorization_reference="o-42",
        merchant_id="m-1",
        order_id="o-1",
        idempotency_key=KEY,
        amount=amount,
        known_references=list(known),
    )


def test_aplazame_finds_a_capture_of_unknown_outcome_by_elimination() -> None:
    recorder = Recorder().answer(200, aplazame_captures(("cap-a", 5000), ("cap-b", 10050)))
    found = aplazame(recorder).find_capture(by_elimination(10050, "cap-a"))
    assert (recorder.last.method, recorder.last.url.path) == ("GET", "/orders/o-42/captures")
    assert found is not None
    assert (found.provider_reference, found.amount) == ("cap-b", 10050)


def test_aplazame_without_an_unknown_capture_says_nothing_was_captured() -> None:
    recorder = Recorder().answer(200, aplazame_captures(("cap-a", 5000)))
    assert aplazame(recorder).find_capture(by_elimination(10050, "cap-a")) is None


@pytest.mark.parametrize(
    "captures",
    [
        [("cap-a", 5000), ("cap-b", 10050), ("cap-c", 10050)],  # two candidates
        [("cap-a", 5000), ("cap-b", 9999)],  # one, of another amount
    ],
)
def test_aplazame_never_guesses_between_unknown_captures(captures: list[tuple[str, int]]) -> None:
    recorder = Recorder().answer(200, aplazame_captures(*captures))
    with pytest.raises(ProviderLookupUnsupportedError, match="for a person to decide"):
        aplazame(recorder).find_capture(by_elimination(10050, "cap-a"))


def test_aplazame_release_voids_the_remaining_amount_and_skips_when_nothing_remains() -> None:
    recorder = Recorder().answer(200, {"remaining_amount": 0, "results": []})
    provider = aplazame(recorder)

    provider.release(release_request("o-42", 4000))
    provider.release(release_request("o-42", 0))

    assert len(recorder.requests) == 1
    assert recorder.last.url.path == "/orders/o-42/void"
    assert json_body(recorder.last) == {"amount": 4000}


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            400,
            {
                "error": {
                    "fields": {"amount": ["exceeds"]},
                    "message": "API validation error",
                    "type": "ApiValidationException",
                }
            },
            # Aplazame documents no field as an over-capture signal: a refusal like any other.
            ProviderDeclinedError,
        ),
        # Our media type does not suit the key: an integration error for an operator.
        (406, {}, ProviderNotConfiguredError),
        (415, {"error": {"message": "Unsupported", "type": "x"}}, ProviderNotConfiguredError),
        (
            400,
            {"error": {"message": "API validation error", "type": "ApiValidationException"}},
            ProviderDeclinedError,
        ),
        (
            401,
            {
                "error": {
                    "message": "Authentication credentials were not provided.",
                    "type": "UnauthorizedException",
                }
            },
            ProviderNotConfiguredError,
        ),
        (
            403,
            {"error": {"message": "Forbidden", "type": "ForbiddenException"}},
            ProviderDeclinedError,
        ),
        (
            404,
            {
                "error": {
                    "fields": {"order__id": "145000006"},
                    "message": "Object not found",
                    "type": "ObjectNotFoundException",
                }
            },
            ProviderDeclinedError,
        ),
        (429, {}, ProviderUnavailableError),
        (503, {}, ProviderUnavailableError),
        # No idempotency key at Aplazame: a 500 after sending may have captured.
        # Aplazame's captures take no idempotency key: a lost answer must not be retried.
        (500, {}, OutcomeUnknownNotRetryableError),
        (408, {}, OutcomeUnknownNotRetryableError),
    ],
)
def test_aplazame_error_mapping(
    status: int, body: dict[str, Any], error: type[ProviderError]
) -> None:
    with pytest.raises(error) as raised:
        aplazame(Recorder().answer(status, body)).capture(capture_request("o-42"))
    assert type(raised.value) is error
    assert SECRET not in str(raised.value)


# --- Stripe -----------------------------------------------------------------------------------


def test_stripe_capture_is_form_encoded_with_idempotency_key_and_partial_by_default() -> None:
    recorder = Recorder().answer(200, stripe_intent())

    capture = partial_stripe(recorder).capture(capture_request("pi_3MrPBM2eZvKYlo2C1TEMacFD"))

    sent = recorder.last
    assert sent.method == "POST"
    assert str(sent.url) == (
        "https://api.stripe.com/v1/payment_intents/pi_3MrPBM2eZvKYlo2C1TEMacFD/capture"
    )
    assert sent.headers["Authorization"] == f"Bearer {SECRET}"
    assert sent.headers["Idempotency-Key"] == KEY
    assert sent.headers["Stripe-Version"]
    assert form_body(sent) == {
        "amount_to_capture": "10050",
        "final_capture": "false",
        f"metadata[capture_{KEY}]": "10050",
        "expand[]": "latest_charge",
    }
    assert capture.provider_reference == "pi_3MrPBM2eZvKYlo2C1TEMacFD"
    assert (capture.amount, capture.currency, capture.status) == (10050, "EUR", "succeeded")
    assert capture.authorization_expires_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_stripe_last_capture_is_final() -> None:
    recorder = Recorder().answer(200, stripe_intent(status="succeeded", amount_capturable=0))

    stripe(recorder).capture(capture_request("pi_1", final_capture=True))

    assert form_body(recorder.last)["final_capture"] == "true"


def test_stripe_refund_is_against_the_payment_intent() -> None:
    recorder = (
        Recorder()
        .answer(200, {"object": "list", "data": []})
        .answer(
            200,
            {
                "id": "re_1Nispe2eZvKYlo2Cd31jOCgZ",
                "object": "refund",
                "amount": 1000,
                "currency": "eur",
                "payment_intent": "pi_1",
                "status": "succeeded",
            },
        )
    )

    refund = stripe(recorder).refund(refund_request("pi_1", "pi_1", 1000))

    assert (recorder.last.method, recorder.last.url.path) == ("POST", "/v1/refunds")
    assert recorder.last.headers["Idempotency-Key"] == f"refund-{KEY}"
    assert form_body(recorder.last) == {
        "payment_intent": "pi_1",
        "amount": "1000",
        "metadata[order_id]": "o-1",
        "metadata[merchant_id]": "m-1",
        "metadata[refund_key]": f"refund-{KEY}",
    }
    assert (refund.provider_reference, refund.status) == (
        "re_1Nispe2eZvKYlo2Cd31jOCgZ",
        "succeeded",
    )


def test_stripe_finds_a_capture_by_our_key_in_the_intent_metadata() -> None:
    intent = stripe_intent(metadata={metadata_key(KEY): "10050"})
    recorder = Recorder().answer(200, intent).answer(200, stripe_intent())
    provider = stripe(recorder)

    found = provider.find_capture(lookup("pi_1", idempotency_key=KEY))
    missing = provider.find_capture(lookup("pi_1", idempotency_key=KEY))

    assert recorder.last.method == "GET"
    assert recorder.last.url.params["expand[]"] == "latest_charge"
    assert found is not None and (found.amount, found.currency) == (10050, "EUR")
    assert missing is None


def test_stripe_release_cancels_the_intent() -> None:
    recorder = Recorder().answer(200, stripe_intent(status="canceled"))

    stripe(recorder).release(release_request("pi_1", 9950))

    assert recorder.last.url.path == "/v1/payment_intents/pi_1/cancel"
    assert recorder.last.headers["Idempotency-Key"] == f"release-{KEY}"


def test_stripe_release_of_an_intent_with_nothing_left_is_released_already() -> None:
    """A capture sent final (also when the card has no multicapture) released the rest:
    Stripe refuses to cancel the succeeded intent, which is what a release wanted."""
    unexpected = stripe_error("invalid_request_error", "payment_intent_unexpected_state")
    recorder = Recorder().answer(400, unexpected)

    released = stripe(recorder).release(release_request("pi_1", 9950))

    assert released.status == "succeeded"
    with pytest.raises(ProviderDeclinedError):
        stripe(
            Recorder().answer(404, stripe_error("invalid_request_error", "resource_missing"))
        ).release(release_request("pi_1", 9950))


def test_stripe_metadata_keys_fit_forty_characters() -> None:
    assert len(metadata_key("x" * 200)) == 40
    assert metadata_key("x" * 200) != metadata_key("y" * 200)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            400,
            stripe_error("invalid_request_error", "charge_expired_for_capture"),
            ProviderAuthorizationExpiredError,
        ),
        (
            400,
            stripe_error(
                "invalid_request_error",
                "payment_intent_unexpected_state",
                payment_intent={
                    "id": "pi_1",
                    "status": "canceled",
                    "cancellation_reason": "automatic",
                },
            ),
            ProviderAuthorizationExpiredError,
        ),
        (
            400,
            stripe_error(
                "invalid_request_error",
                "payment_intent_unexpected_state",
                # Captured, but not under our key: someone else's capture.
                payment_intent={"id": "pi_1", "status": "succeeded", "metadata": {}},
            ),
            ProviderDeclinedError,
        ),
        (400, stripe_error("invalid_request_error", "amount_too_large"), ProviderOverCaptureError),
        (
            402,
            stripe_error("card_error", "card_declined", decline_code="generic_decline"),
            ProviderDeclinedError,
        ),
        (
            409,
            stripe_error("invalid_request_error", "idempotency_key_in_use"),
            ProviderUnavailableError,
        ),
        # The key was used with other parameters: the first request may have run.
        (400, stripe_error("idempotency_error", None), OutcomeUnknownNotRetryableError),
        (401, stripe_error("invalid_request_error", None), ProviderNotConfiguredError),
        (429, stripe_error("invalid_request_error", "rate_limit"), ProviderUnavailableError),
        # Stripe stores a 500 as the key's answer: unknown, and asking again cannot settle it.
        (500, stripe_error("api_error", None), OutcomeUnknownNotRetryableError),
    ],
)
def test_stripe_error_mapping(
    status: int, body: dict[str, Any], error: type[ProviderError]
) -> None:
    with pytest.raises(error) as raised:
        partial_stripe(Recorder().answer(status, body)).capture(capture_request("pi_1"))
    assert type(raised.value) is error
    assert SECRET not in str(raised.value)


# --- Adyen ------------------------------------------------------------------------------------


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


# --- What every adapter shares: transport failures --------------------------------------------

ADAPTERS = [aplazame, partial_stripe, adyen]


@pytest.mark.parametrize("make", ADAPTERS)
def test_a_connection_that_never_opened_is_retryable(make: Any) -> None:
    recorder = Recorder().fail(httpx.ConnectError("refused"))
    with pytest.raises(ProviderUnavailableError):
        make(recorder).capture(capture_request("ref-1"))


@pytest.mark.parametrize(
    ("make", "unknown_outcome"),
    [
        # No idempotency key: retrying could capture twice, so it is not retryable.
        (aplazame, OutcomeUnknownNotRetryableError),
        # Idempotency-Key sent: the state machine retries with the same key.
        (partial_stripe, CaptureOutcomeUnknownError),
        (adyen, CaptureOutcomeUnknownError),
    ],
)
def test_a_capture_sent_without_answer_has_an_unknown_outcome(
    make: Any, unknown_outcome: type[Exception]
) -> None:
    recorder = Recorder().fail(httpx.ReadTimeout("no answer"))
    with pytest.raises(unknown_outcome):
        make(recorder).capture(capture_request("ref-1"))
    assert not proves_nothing_was_captured(unknown_outcome.__name__)


def test_a_lookup_that_timed_out_is_retryable() -> None:
    recorder = Recorder().fail(httpx.ReadTimeout("no answer"))
    with pytest.raises(ProviderUnavailableError):
        stripe(recorder).find_capture(lookup("pi_1", idempotency_key=KEY))


@pytest.mark.parametrize("make", ADAPTERS)
def test_every_call_has_a_timeout(make: Any) -> None:
    recorder = Recorder().answer(500, {})
    with pytest.raises(ProviderError):
        make(recorder).capture(capture_request("ref-1"))
    assert recorder.last.extensions["timeout"] == {
        "connect": 5,
        "read": 5,
        "write": 5,
        "pool": 5,
    }


def test_a_success_that_is_not_json_is_an_unknown_outcome_for_a_capture() -> None:
    recorder = Recorder()
    recorder.responses.append(httpx.Response(200, content=b"<html>ok</html>"))
    with pytest.raises(CaptureOutcomeUnknownError):
        partial_stripe(recorder).capture(capture_request("pi_1"))


# --- Issue 11: what each provider's answer proves -----------------------------------------------


def test_defect_11_stripe_already_captured_with_our_key_is_our_capture() -> None:
    """``payment_intent_unexpected_state`` on an intent whose metadata holds our key: an
    earlier attempt captured (Stripe had pruned the key); confirm, never release."""
    ours = stripe_intent(metadata={metadata_key(KEY): "10050"}, status="requires_capture")
    recorder = Recorder().answer(
        400,
        stripe_error(
            "invalid_request_error", "payment_intent_unexpected_state", payment_intent=ours
        ),
    )
    capture = partial_stripe(recorder).capture(capture_request("pi_1"))
    assert (capture.status, capture.amount) == ("succeeded", 10050)


def test_defect_11_stripe_charge_already_captured_looks_up_the_intent_for_our_key() -> None:
    recorder = Recorder().answer(
        400, stripe_error("invalid_request_error", "charge_already_captured")
    )
    recorder.answer(200, stripe_intent(metadata={metadata_key(KEY): "10050"}, status="succeeded"))
    capture = partial_stripe(recorder).capture(capture_request("pi_1"))
    assert recorder.last.method == "GET"
    assert capture.status == "succeeded"


def test_defect_11_stripe_already_captured_by_someone_else_stays_a_refusal() -> None:
    recorder = Recorder().answer(
        400,
        stripe_error(
            "invalid_request_error",
            "payment_intent_unexpected_state",
            payment_intent=stripe_intent(metadata={"capture_other": "1"}, status="succeeded"),
        ),
    )
    with pytest.raises(ProviderDeclinedError):
        partial_stripe(recorder).capture(capture_request("pi_1"))


@pytest.mark.parametrize(
    ("make", "header", "value", "error"),
    [
        ("stripe", "Stripe-Should-Retry", "true", ProviderUnavailableError),
        ("stripe", "Stripe-Should-Retry", "false", OutcomeUnknownNotRetryableError),
        ("adyen", "Transient-Error", "true", ProviderUnavailableError),
        ("adyen", "Transient-Error", "false", OutcomeUnknownNotRetryableError),
    ],
)
def test_defect_11_a_5xx_is_retried_only_when_the_provider_says_so(
    make: str, header: str, value: str, error: type[ProviderError]
) -> None:
    recorder = Recorder().answer(502, {}, **{header: value})
    provider = partial_stripe(recorder) if make == "stripe" else adyen(recorder)
    with pytest.raises(error) as raised:
        provider.capture(capture_request("pi_1"))
    assert type(raised.value) is error
    # Neither is a proof that nothing was captured: the reservation is kept either way.
    assert not proves_nothing_was_captured(type(raised.value).__name__)


def test_defect_11_aplazame_test_mode_keys_ask_for_the_sandbox_media_type() -> None:
    recorder = Recorder().answer(200, APLAZAME_CAPTURE)
    credentials = ProviderCredentials(api_key=SECRET, test_mode=True)
    AplazameProvider(credentials, 5, recorder.transport).capture(capture_request("o-42"))
    assert recorder.last.headers["Accept"] == "application/vnd.aplazame.sandbox.v1+json"


def test_defect_11_stripe_partial_capture_needs_multicapture_and_keeps_the_rest() -> None:
    recorder = Recorder().answer(200, multicapture_intent("available"))
    recorder.answer(200, stripe_intent())
    stripe(recorder).capture(capture_request("pi_1", amount=5000))
    check, sent = recorder.requests
    assert (check.method, check.url.params.get("expand[]")) == ("GET", "latest_charge")
    assert form_body(sent)["final_capture"] == "false"


def test_defect_11_stripe_without_multicapture_refuses_a_partial_capture_before_sending() -> None:
    """Capturing part would release the rest: refused, nothing sent, nothing released; the
    reservation is given back (a decline proves nothing was captured)."""
    recorder = Recorder().answer(200, multicapture_intent("unavailable", capturable=20000))
    with pytest.raises(ProviderMulticaptureUnavailableError) as refused:
        stripe(recorder).capture(capture_request("pi_1", amount=5000))
    assert [request.method for request in recorder.requests] == ["GET"]
    assert proves_nothing_was_captured(type(refused.value).__name__)


def test_defect_11_stripe_without_multicapture_captures_everything_left_in_one_go() -> None:
    recorder = Recorder().answer(200, multicapture_intent("unavailable", capturable=10050))
    recorder.answer(200, stripe_intent(status="succeeded", amount_capturable=0))
    capture = stripe(recorder).capture(capture_request("pi_1", amount=10050))
    assert form_body(recorder.last)["final_capture"] == "true"
    assert capture.status == "succeeded"


def test_defect_11_stripe_refund_already_at_stripe_under_our_key_is_not_sent_again() -> None:
    """Stripe prunes idempotency keys after 24 hours: a refund re-sent later is looked up by
    our key in its metadata first, and not sent a second time."""
    earlier = {"id": "re_1", "object": "refund", "amount": 1000, "currency": "eur",
               "status": "pending", "metadata": {"refund_key": f"refund-{KEY}"}}  # fmt: skip
    recorder = Recorder().answer(200, {"object": "list", "data": [earlier]})
    refund = stripe(recorder).refund(refund_request("pi_1", "pi_1", 1000))
    assert [request.method for request in recorder.requests] == ["GET"]
    assert recorder.last.url.params["payment_intent"] == "pi_1"
    assert (refund.provider_reference, refund.status) == ("re_1", "pending")
