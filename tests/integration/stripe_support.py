"""Stripe as the webhook and refund tests play it: a fake over httpx.MockTransport that answers
by Stripe's spec3, events signed with Stripe's own library, and the ledger states they start
from."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import stripe
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from order_capture.adapters.api_keys import DynamoDBApiKeyStore
from order_capture.adapters.credentials import ProviderCredentials
from order_capture.adapters.stripe import StripeProvider
from order_capture.api import app
from order_capture.api.context import ApiDependencies
from order_capture.config import settings
from order_capture.domain import refunds, service
from order_capture.errors import ProviderNotConfiguredError
from order_capture.models import (
    Capture,
    Refund,
)
from order_capture.ports import PaymentProvider
from tests.fake_providers import RecordingProvider
from tests.integration.capture_support import capture_of_5000
from tests.support import FakeLambdaContext, FixedClock
from tests.unit.provider_specs import validate_stripe_response

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


SECRET = "whsec_" + uuid.uuid4().hex


class FakeStripe:
    """Stripe's refunds: ``POST /v1/refunds`` answers ``status`` (pending by default),
    ``GET /v1/refunds?payment_intent=`` lists them, ``GET /v1/refunds/{id}`` shows one."""

    def __init__(self) -> None:
        self.refunds: dict[str, dict[str, Any]] = {}
        self.status = "pending"
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """The answer, checked against what Stripe's spec3 documents for the operation."""
        answer = self.answer(request)
        validate_stripe_response(request, answer.status_code, answer.json())
        return answer

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "POST" and path == "/v1/refunds":
            form = dict(httpx.QueryParams(request.content.decode()))
            refund = self.refund_object(form)
            self.refunds[refund["id"]] = refund
            return httpx.Response(200, json=refund)
        if path == "/v1/refunds":
            listed = [r for r in self.refunds.values()
                      if r["payment_intent"] == request.url.params["payment_intent"]]  # fmt: skip
            return httpx.Response(200, json={"object": "list", "data": listed, "has_more": False})
        refund_id = path.removeprefix("/v1/refunds/")
        if refund_id in self.refunds:
            return httpx.Response(200, json=self.refunds[refund_id])
        error = {"type": "invalid_request_error", "code": "resource_missing"}
        return httpx.Response(404, json={"error": error})

    def refund_object(self, form: dict[str, str]) -> dict[str, Any]:
        return {
            "id": f"re_{uuid.uuid4().hex[:24]}",
            "object": "refund",
            "amount": int(form["amount"]),
            "currency": "eur",
            "charge": "ch_3QFjXb2eZvKYlo2C1",
            "created": int(NOW.timestamp()),
            "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
            "payment_intent": form["payment_intent"],
            "status": self.status,
            "balance_transaction": None,
            "reason": None,
            "receipt_number": None,
        }

    def decide(self, refund_id: str, status: str, failure_reason: str | None = None) -> None:
        self.refunds[refund_id] |= {"status": status}
        if failure_reason is not None:
            self.refunds[refund_id]["failure_reason"] = failure_reason

    def event(self, refund_id: str, kind: str = "refund.updated") -> bytes:
        return json.dumps(
            {
                "id": f"evt_{uuid.uuid4().hex[:24]}",
                "object": "event",
                "api_version": "2024-06-20",
                "created": int(NOW.timestamp()),
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": kind,
                "data": {"object": self.refunds[refund_id]},
            }
        ).encode()


class StripeProviders:
    def __init__(self, fake: FakeStripe) -> None:
        self.adapter = StripeProvider(
            ProviderCredentials(api_key="sk_test_x"), 5, httpx.MockTransport(fake)
        )

    def provider(self, name: str, merchant_id: str) -> PaymentProvider:
        assert name == "stripe"
        return self.adapter


class WebhookSecrets:
    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets

    def webhook_hmac_key(self, merchant_id: str, provider: str) -> str | None:
        return None

    def webhook_secret(self, merchant_id: str, provider: str) -> str | None:
        if merchant_id not in self.secrets:
            raise ProviderNotConfiguredError(f"no {provider} credentials for {merchant_id}")
        return self.secrets[merchant_id]


class Nobody:
    """Waiters, publisher and workflow: a refund needs none of them."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a Stripe refund event called {name}")


@pytest.fixture(autouse=True)
def _api_settings(ledger_table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The API function's settings, read once per container: this test's table."""
    monkeypatch.setenv("TABLE_NAME", ledger_table)
    settings.cache_clear()
    yield
    settings.cache_clear()


@pytest.fixture
def fake() -> FakeStripe:
    return FakeStripe()


@pytest.fixture
def capture(repository: Any) -> Capture:
    """A captured 5000 of an order paid with Stripe."""
    pending = capture_of_5000(repository, RecordingProvider(), NOW, paid_with="stripe")
    return service.record_capture(repository, pending, NOW)


def refund(repository: Any, fake: FakeStripe, capture: Capture, amount: int = 1500) -> Refund:
    _, _, made = refunds.refund_capture(
        repository,
        StripeProviders(fake),
        merchant_id=capture.merchant_id,
        order_id=capture.order_id,
        capture_id=capture.capture_id,
        amount=amount,
        idempotency_key=uuid.uuid4().hex,
        clock=FixedClock(NOW),
    )
    return made


def post_event(
    repository: Any,
    ledger_table: str,
    merchant_id: str,
    payload: bytes,
    signature: str | None,
    secrets: dict[str, str] | None = None,
    providers: Any = None,
    provider: str = "stripe",
) -> dict[str, Any]:
    """The event as API Gateway hands it to the API function (``providers``: for the
    lookups of refunds made elsewhere, test_stripe_external_refunds.py; ``provider``: the
    route's, ``/webhooks/{provider}``)."""
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    dependencies = ApiDependencies(
        repository=repository,
        api_keys=DynamoDBApiKeyStore(ledger_table),
        workflow=Nobody(),
        clock=FixedClock(NOW),
        idempotency_store=DynamoDBPersistenceLayer(ledger_table, key_attr="PK", sort_key_attr="SK"),
        confirmation_waiters=Nobody(),
        publisher=Nobody(),
        webhook_keys=WebhookSecrets({merchant_id: SECRET} if secrets is None else secrets),
        providers=providers,
    )
    event = {
        "resource": "/webhooks/{provider}",
        "path": f"/webhooks/{provider}",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {"merchant_id": merchant_id},
        "multiValueQueryStringParameters": {"merchant_id": [merchant_id]},
        "pathParameters": {"provider": provider},
        "requestContext": {"stage": "v1", "path": f"/v1/webhooks/{provider}", "requestId": "r-1"},
        "body": payload.decode(),
        "isBase64Encoded": False,
    }
    return app.handle(event, FakeLambdaContext(), dependencies)


def signed(payload: bytes, at: datetime = NOW) -> str:
    header: str = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), SECRET, int(at.timestamp())
    )
    return header


def totals(repository: Any, capture: Capture) -> tuple[int, int, int, int]:
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    order = repository.get_order(capture.merchant_id, capture.order_id)
    return (
        stored.refunded_amount,
        stored.refund_pending_amount,
        stored.refundable_amount,
        order.refunded_amount,
    )
