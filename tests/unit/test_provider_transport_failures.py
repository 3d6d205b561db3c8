"""What every provider adapter shares: connections that never opened, requests sent without an
answer, timeouts, and 5xx answers (retried only when the provider says so), through
``httpx.MockTransport`` (no network)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from order_capture.errors import (
    CaptureOutcomeUnknownError,
    OutcomeUnknownNotRetryableError,
    ProviderError,
    ProviderUnavailableError,
    proves_nothing_was_captured,
)
from tests.unit.provider_adapters_support import (
    KEY,
    adyen,
    aplazame,
    capture_request,
    lookup,
    partial_stripe,
    stripe,
)
from tests.unit.provider_recorder import Recorder

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
