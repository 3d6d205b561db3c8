"""What a Stripe answer proves, judged by Stripe's own library (``stripe`` on PyPI) and spec3:
the error codes the adapter acts on are Stripe's, and where Stripe says whether to retry
(``Stripe-Should-Retry``) we decide as its library does. (The behaviour itself is asserted in
test_stripe_contract.py: ``test_stripe_error_mapping``, ``test_defect_11_*``.)"""

from __future__ import annotations

import typing
from typing import Any

import pytest
import stripe
from stripe._http_client import HTTPClient

from order_capture.adapters import stripe as adapter
from order_capture.errors import (
    OutcomeUnknownNotRetryableError,
    ProviderDeclinedError,
    ProviderError,
    ProviderNotConfiguredError,
    ProviderUnavailableError,
)
from tests.unit.provider_adapters_support import capture_request, partial_stripe, stripe_error
from tests.unit.provider_adapters_support import stripe as stripe_adapter
from tests.unit.provider_recorder import Recorder
from tests.unit.provider_specs import stripe_spec


def _literals(annotation: Any) -> set[str]:
    found: set[str] = set()
    for argument in typing.get_args(annotation):
        found |= {argument} if isinstance(argument, str) else _literals(argument)
    return found


#: Stripe's error codes, as its library lists them (``PaymentIntent.last_payment_error.code``).
STRIPE_ERROR_CODES = _literals(stripe.PaymentIntent.LastPaymentError.__annotations__["code"])


@pytest.mark.parametrize(
    "codes",
    ["_EXPIRED_CODES", "_OVER_AMOUNT_CODES", "_TRY_AGAIN_CODES", "_ALREADY_CAPTURED_CODES"],
)
def test_every_code_the_adapter_acts_on_is_a_stripe_error_code(codes: str) -> None:
    assert len(STRIPE_ERROR_CODES) > 100
    assert getattr(adapter, codes) <= STRIPE_ERROR_CODES


def test_idempotency_error_is_a_stripe_error_type() -> None:
    types = stripe_spec()["components"]["schemas"]["api_errors"]["properties"]["type"]["enum"]
    assert "idempotency_error" in types


def stripes_library_retries(status: int, header: str | None) -> bool:
    headers = {} if header is None else {"stripe-should-retry": header}
    retries: bool = HTTPClient._should_retry(None, (b"", status, headers), None, 0, 2)  # type: ignore[arg-type]
    return retries


@pytest.mark.parametrize(
    ("status", "body", "header", "ours"),
    [
        (503, stripe_error("api_error", None), "true", ProviderUnavailableError),
        (500, stripe_error("api_error", None), "false", OutcomeUnknownNotRetryableError),
        (
            409,
            stripe_error("invalid_request_error", "lock_timeout"),
            "true",
            ProviderUnavailableError,
        ),
        (402, stripe_error("card_error", "card_declined"), "false", ProviderDeclinedError),
        (
            409,
            stripe_error("invalid_request_error", "idempotency_key_in_use"),
            None,
            ProviderUnavailableError,
        ),
    ],
)
def test_we_retry_where_stripes_library_retries_when_stripe_says(
    status: int, body: dict[str, Any], header: str | None, ours: type[ProviderError]
) -> None:
    headers = {} if header is None else {"Stripe-Should-Retry": header}
    with pytest.raises(ProviderError) as raised:
        partial_stripe(Recorder().answer(status, body, **headers)).capture(capture_request("pi_1"))
    assert type(raised.value) is ours
    we_retry = isinstance(raised.value, ProviderUnavailableError)
    assert we_retry == stripes_library_retries(status, header)


def test_a_5xx_without_the_header_is_where_we_differ_on_purpose() -> None:
    """Stripe's library retries it, expecting its idempotency layer to replay the stored 500:
    asking again settles nothing, so we keep the capture reserved as an unknown outcome and
    settle it by lookup (the intent's metadata) instead."""
    assert stripes_library_retries(500, None)
    with pytest.raises(OutcomeUnknownNotRetryableError):
        partial_stripe(Recorder().answer(500, stripe_error("api_error", None))).capture(
            capture_request("pi_1")
        )


def stripes_error_class(status: int, body: dict[str, Any]) -> type[Exception]:
    """The exception Stripe's own library raises for this answer (its v1 error mapping)."""
    from stripe._api_requestor import _APIRequestor

    raised = _APIRequestor.specific_v1_api_error(None, "", status, body, {}, body["error"])  # type: ignore[arg-type,no-untyped-call]
    return type(raised)


@pytest.mark.parametrize(
    ("status", "body", "stripes", "ours"),
    [
        # The key was used with other parameters: the first request may have run.
        (400, stripe_error("idempotency_error", None), stripe.IdempotencyError,
         OutcomeUnknownNotRetryableError),
        # Nothing was done: try again later with the same key.
        (429, stripe_error("invalid_request_error", "rate_limit"), stripe.RateLimitError,
         ProviderUnavailableError),
        (400, stripe_error("invalid_request_error", "rate_limit"), stripe.RateLimitError,
         ProviderUnavailableError),
        (402, stripe_error("card_error", "card_declined"), stripe.CardError,
         ProviderDeclinedError),
        (401, stripe_error("invalid_request_error", None), stripe.AuthenticationError,
         ProviderNotConfiguredError),
        (403, stripe_error("invalid_request_error", None), stripe.PermissionError,
         ProviderNotConfiguredError),
        (404, stripe_error("invalid_request_error", "resource_missing"),
         stripe.InvalidRequestError, ProviderDeclinedError),
        (500, stripe_error("api_error", None), stripe.APIError,
         OutcomeUnknownNotRetryableError),
    ],
)  # fmt: skip
def test_each_of_stripes_error_classes_means_to_us_what_it_means_to_stripe(
    status: int, body: dict[str, Any], stripes: type[Exception], ours: type[ProviderError]
) -> None:
    """The answers our tests play are the ones Stripe's library raises each class for, and
    the adapter reads each as that class means: IdempotencyError an unknown outcome (never a
    decline), RateLimitError nothing done, CardError a decline, Authentication/Permission a
    merchant's configuration, APIError (5xx without Stripe-Should-Retry) an unknown outcome."""
    assert stripes_error_class(status, body) is stripes
    with pytest.raises(ours):
        stripe_adapter(Recorder().answer(status, body)).capture(
            capture_request("pi_1", final_capture=True)
        )


@pytest.mark.parametrize("ours_in_metadata", [True, False])
def test_payment_intent_unexpected_state_is_stripes_invalid_request_and_ours_only_with_our_key(
    ours_in_metadata: bool,
) -> None:
    """Stripe's library raises InvalidRequestError (code ``payment_intent_unexpected_state``)
    for a capture of an intent already captured; with our key in the intent's metadata it was
    our capture (an answer lost, the key pruned): confirmed; without, a refusal."""
    from order_capture.adapters.stripe import metadata_key
    from tests.unit.provider_adapters_support import KEY, stripe_intent

    metadata = {metadata_key(KEY): "10050"} if ours_in_metadata else {}
    intent = stripe_intent(metadata=metadata, status="succeeded")
    body = stripe_error(
        "invalid_request_error", "payment_intent_unexpected_state", payment_intent=intent
    )
    raised = stripes_error_class(400, body)
    assert raised is stripe.InvalidRequestError
    provider = stripe_adapter(Recorder().answer(400, body))
    if ours_in_metadata:
        capture = provider.capture(capture_request("pi_1", final_capture=True))
        assert capture.status == "succeeded"
    else:
        with pytest.raises(ProviderDeclinedError):
            provider.capture(capture_request("pi_1", final_capture=True))
