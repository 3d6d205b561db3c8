"""Contract tests of the Stripe adapter against the request/response shapes of Stripe's public
API docs, through ``httpx.MockTransport`` (no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from order_capture.adapters.credentials import ProviderCredentials
from order_capture.adapters.stripe import StripeProvider, metadata_key
from order_capture.errors import (
    CaptureOutcomeUnknownError,
    OutcomeUnknownNotRetryableError,
    ProviderAuthorizationExpiredError,
    ProviderDeclinedError,
    ProviderError,
    ProviderMulticaptureUnavailableError,
    ProviderNotConfiguredError,
    ProviderOverCaptureError,
    ProviderUnavailableError,
    proves_nothing_was_captured,
)
from tests.unit.provider_adapters_support import (
    KEY,
    SECRET,
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
from tests.unit.provider_recorder import Recorder, form_body


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


class PrunedKeyStripe:
    """A multicapture intent once our Idempotency-Key was pruned (Stripe keeps keys 24 hours,
    then a reused key makes a new request): an earlier attempt of ``KEY`` captured 5000 and
    its answer was lost; the intent's metadata says so."""

    def __init__(self, authorized: int) -> None:
        self.captured = [5000]
        self.capturable = authorized - 5000

    def intent(self) -> dict[str, Any]:
        return multicapture_intent("available", capturable=self.capturable) | {
            "amount_received": sum(self.captured),
            "metadata": {metadata_key(KEY): "5000"},
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/capture"):
            form = dict(httpx.QueryParams(request.content.decode()))
            amount = int(form["amount_to_capture"])
            if amount > self.capturable:
                error = stripe_error("invalid_request_error", "amount_too_large")
                return httpx.Response(400, json=error)
            self.captured.append(amount)
            self.capturable = 0 if form["final_capture"] == "true" else self.capturable - amount
        return httpx.Response(200, json=self.intent())


@pytest.mark.parametrize("authorized", [20000, 8000])
def test_review_a_partial_capture_sent_again_finds_its_capture_in_the_intent_never_twice(
    authorized: int,
) -> None:
    # 20000: 15000 still capturable, Stripe would capture 5000 a second time; 8000: 3000
    # capturable, Stripe would answer amount_too_large, read as a decline of money it holds.
    fake = PrunedKeyStripe(authorized)
    provider = StripeProvider(ProviderCredentials(api_key=SECRET), 5, httpx.MockTransport(fake))

    capture = provider.capture(capture_request("pi_1", amount=5000))

    assert fake.captured == [5000]
    assert (capture.status, capture.amount, capture.provider_reference) == (
        "succeeded",
        5000,
        multicapture_intent()["id"],
    )


def test_review_a_partial_capture_retried_after_a_lost_answer_is_not_sent_again() -> None:
    # Attempt 1 reads 10000 capturable, sends final_capture=false and captures; its answer
    # times out. Attempt 2 reads 5000 capturable: it would send final_capture=true under the
    # same key (Stripe: idempotency_error, an unknown outcome). The intent holds our key.
    recorder = Recorder()
    recorder.answer(200, multicapture_intent("available", capturable=10000))
    recorder.fail(httpx.ReadTimeout("lost"))
    captured = multicapture_intent("available", capturable=5000)
    recorder.answer(200, captured | {"amount_received": 5000,
                                     "metadata": {metadata_key(KEY): "5000"}})  # fmt: skip
    provider = stripe(recorder)

    with pytest.raises(CaptureOutcomeUnknownError):
        provider.capture(capture_request("pi_1", amount=5000))
    capture = provider.capture(capture_request("pi_1", amount=5000))

    assert [r.method for r in recorder.requests] == ["GET", "POST", "GET"]
    assert (capture.status, capture.amount) == ("succeeded", 5000)
