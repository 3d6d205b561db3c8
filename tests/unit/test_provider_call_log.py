"""Every provider call is logged once at INFO (provider, operation, our key, HTTP status,
outcome class, latency), and never with the credentials."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import httpx
import pytest

from order_capture.adapters.provider_http import ProviderHttp
from order_capture.errors import CaptureOutcomeUnknownError, ProviderDeclinedError
from order_capture.observability import logger

SECRET = "sk_test_51SECRETvalueNeverLogged"


@pytest.fixture
def info_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    level = logger.log_level
    logger.setLevel("INFO")
    try:
        with caplog.at_level(logging.INFO):
            yield caplog
    finally:
        logger.setLevel(level)


def provider(answer: Callable[[httpx.Request], httpx.Response]) -> ProviderHttp:
    return ProviderHttp(
        "stripe",
        "https://api.stripe.test/v1",
        headers={"Authorization": f"Bearer {SECRET}"},
        timeout_seconds=2,
        transport=httpx.MockTransport(answer),
    )


def calls(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    fields = ("provider", "operation", "idempotency_key", "http_status", "outcome")
    return [
        {name: getattr(record, name) for name in fields}
        for record in caplog.records
        if record.getMessage() == "provider call"
    ]


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    return json.dumps([record.__dict__ for record in caplog.records], default=str)


def test_a_call_is_logged_once_with_its_key_status_outcome_and_latency(
    info_logs: pytest.LogCaptureFixture,
) -> None:
    http = provider(lambda request: httpx.Response(200, json={"id": "pi_1"}))
    http.request(
        "POST",
        "/payment_intents/pi_1/capture",
        idempotent=True,
        headers={"Idempotency-Key": "capture-c1"},
    )
    assert calls(info_logs) == [
        {
            "provider": "stripe",
            "operation": "POST /payment_intents/pi_1/capture",
            "idempotency_key": "capture-c1",
            "http_status": 200,
            "outcome": "succeeded",
        }
    ]
    (record,) = [r for r in info_logs.records if r.getMessage() == "provider call"]
    assert record.levelno == logging.INFO
    latency = getattr(record, "latency_ms")  # noqa: B009 - a LogRecord extra
    assert isinstance(latency, float) and latency >= 0
    # httpx's own request line is not a second log of the call.
    assert not [r for r in info_logs.records if r.name == "httpx"]


def test_a_refusal_is_logged_with_the_error_it_is_read_as(
    info_logs: pytest.LogCaptureFixture,
) -> None:
    http = provider(lambda request: httpx.Response(402, json={"error": {"code": "card_declined"}}))
    with pytest.raises(ProviderDeclinedError):
        http.request("POST", "/payment_intents/pi_1/capture", idempotent=True)
    ((logged),) = calls(info_logs)
    assert (logged["http_status"], logged["outcome"]) == (402, "ProviderDeclinedError")


def test_a_write_without_an_answer_is_logged_as_an_unknown_outcome(
    info_logs: pytest.LogCaptureFixture,
) -> None:
    def times_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    with pytest.raises(CaptureOutcomeUnknownError):
        provider(times_out).request("POST", "/refunds", idempotent=True)
    ((logged),) = calls(info_logs)
    assert (logged["http_status"], logged["outcome"]) == (None, "CaptureOutcomeUnknownError")


def test_the_credentials_never_reach_the_logs(info_logs: pytest.LogCaptureFixture) -> None:
    # Given a provider that echoes what it was sent, declining or not
    def echo(request: httpx.Request) -> httpx.Response:
        status = 200 if request.url.path.endswith("ok") else 500
        return httpx.Response(status, json={"seen": dict(request.headers)})

    http = provider(echo)
    http.request("GET", "/ok", idempotent=True)
    with pytest.raises(Exception, match="answered 500"):
        http.request("POST", "/fails", idempotent=False)
    # Then two calls are logged, and the secret is in none of the log records
    assert len(calls(info_logs)) == 2
    assert SECRET not in everything_logged(info_logs)
