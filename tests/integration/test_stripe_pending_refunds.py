"""Stripe refunds answered ``pending`` are settled in the ledger (moto) by Stripe's word: its
webhook (``POST /webhooks/stripe``, ``Stripe-Signature`` verified) or, when no event comes,
reconciliation's lookup (``GET /v1/refunds/{id}``). Succeeded: refunded once; failed or
canceled: failed, the amount refundable again; never lost, never counted twice.

Stripe is played by ``FakeStripe`` over httpx.MockTransport; the objects it answers are
refunds by Stripe's spec3 (checked below), and the events are signed with Stripe's own library.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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
from order_capture.domain import capture_rules, refund_reconciliation, refunds, service
from order_capture.errors import ProviderNotConfiguredError
from order_capture.models import (
    Capture,
    CaptureRequest,
    OrderPlacedDetail,
    PlannedCapture,
    Refund,
    RefundStatus,
)
from order_capture.ports import PaymentProvider
from tests.factories import order_placed
from tests.fake_providers import RecordingProvider
from tests.support import FakeLambdaContext, FixedClock
from tests.unit.provider_specs import validate_stripe_object, validate_stripe_response

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
    detail = OrderPlacedDetail.model_validate(order_placed(provider="stripe")["detail"])
    service.register_order(repository, detail, FixedClock(NOW))
    request = CaptureRequest(
        merchant_id=detail.merchant_id, order_id=detail.order_id, shipment_id="s-1", amount=5000
    )
    plan = capture_rules.plan_capture(
        service.load_for_capture(repository, request).order, request, NOW
    )
    pending = service.execute_capture(
        repository,
        RecordingProvider(),
        planned=PlannedCapture(request=request, plan=plan),
        execution_id=None,
        now=NOW,
    )
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
) -> dict[str, Any]:
    """The event as API Gateway hands it to the API function (``providers``: for the
    lookups of refunds made elsewhere, test_stripe_external_refunds.py)."""
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
        "path": "/webhooks/stripe",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {"merchant_id": merchant_id},
        "multiValueQueryStringParameters": {"merchant_id": [merchant_id]},
        "pathParameters": {"provider": "stripe"},
        "requestContext": {"stage": "v1", "path": "/v1/webhooks/stripe", "requestId": "r-1"},
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


def stored_refund(repository: Any, made: Refund) -> Refund:
    found: Refund = repository.find_refund(made.merchant_id, made.refund_id)
    return found


def test_the_fake_answers_refunds_by_stripes_spec(
    repository: Any, fake: FakeStripe, capture: Capture
) -> None:
    made = refund(repository, fake, capture)
    assert made.provider_reference is not None
    fake.decide(made.provider_reference, "failed", "expired_or_canceled_card")
    validate_stripe_object(fake.refunds[made.provider_reference], "refund")
    validate_stripe_object(json.loads(fake.event(made.provider_reference)), "event")


def test_a_pending_stripe_refund_stays_reserved(
    repository: Any, fake: FakeStripe, capture: Capture
) -> None:
    made = refund(repository, fake, capture)
    assert made.status is RefundStatus.PENDING
    assert made.provider_reference in fake.refunds
    assert totals(repository, capture) == (0, 1500, 3500, 0)


@pytest.mark.parametrize("kind", ["refund.updated", "charge.refund.updated", "refund.created"])
def test_a_signed_succeeded_event_refunds_once(
    repository: Any, ledger_table: str, fake: FakeStripe, capture: Capture, kind: str
) -> None:
    made = refund(repository, fake, capture)
    assert made.provider_reference is not None
    fake.decide(made.provider_reference, "succeeded")
    payload = fake.event(made.provider_reference, kind)
    for _ in range(2):  # Stripe delivers at least once
        answer = post_event(repository, ledger_table, capture.merchant_id, payload, signed(payload))
        assert (answer["statusCode"], json.loads(answer["body"])) == (200, {"received": True})
    assert stored_refund(repository, made).status is RefundStatus.REFUNDED
    assert totals(repository, capture) == (1500, 0, 3500, 1500)


@pytest.mark.parametrize(
    ("kind", "status"),
    [("refund.failed", "failed"), ("refund.updated", "failed"), ("refund.updated", "canceled")],
)
def test_a_failed_or_canceled_refund_is_failed_and_refundable_again(
    repository: Any, ledger_table: str, fake: FakeStripe, capture: Capture, kind: str, status: str
) -> None:
    made = refund(repository, fake, capture)
    assert made.provider_reference is not None
    fake.decide(made.provider_reference, status, "insufficient_funds")
    payload = fake.event(made.provider_reference, kind)
    answer = post_event(repository, ledger_table, capture.merchant_id, payload, signed(payload))
    assert answer["statusCode"] == 200
    failed = stored_refund(repository, made)
    assert failed.status is RefundStatus.FAILED
    assert failed.failure is not None and "insufficient_funds" in failed.failure.message
    assert totals(repository, capture) == (0, 0, 5000, 0)


def test_a_refund_stripe_fails_after_it_succeeded_is_reversed(
    repository: Any, ledger_table: str, fake: FakeStripe, capture: Capture
) -> None:
    made = refund(repository, fake, capture)
    assert made.provider_reference is not None
    for status, kind in (("succeeded", "refund.updated"), ("failed", "refund.failed")):
        fake.decide(made.provider_reference, status)
        payload = fake.event(made.provider_reference, kind)
        post_event(repository, ledger_table, capture.merchant_id, payload, signed(payload))
    assert stored_refund(repository, made).status is RefundStatus.FAILED
    assert totals(repository, capture) == (0, 0, 5000, 0)


def test_a_late_pending_event_changes_nothing(
    repository: Any, ledger_table: str, fake: FakeStripe, capture: Capture
) -> None:
    made = refund(repository, fake, capture)
    assert made.provider_reference is not None
    stale = fake.event(made.provider_reference)  # still pending when it was sent
    fake.decide(made.provider_reference, "succeeded")
    for payload in (fake.event(made.provider_reference), stale):
        post_event(repository, ledger_table, capture.merchant_id, payload, signed(payload))
    assert totals(repository, capture) == (1500, 0, 3500, 1500)


@pytest.mark.parametrize(
    "forgery",
    ["unsigned", "other secret", "stale", "other merchant's secret", "no secret configured"],
)
def test_a_forged_or_stale_event_is_401_and_changes_nothing(
    repository: Any, ledger_table: str, fake: FakeStripe, capture: Capture, forgery: str
) -> None:
    made = refund(repository, fake, capture)
    assert made.provider_reference is not None
    fake.decide(made.provider_reference, "succeeded")
    payload = fake.event(made.provider_reference)
    other = "whsec_" + uuid.uuid4().hex
    signature, secrets = {
        "unsigned": (None, None),
        "other secret": (
            stripe.WebhookSignature.generate_signature_header(payload.decode(), other),
            None,
        ),
        "stale": (signed(payload, NOW - timedelta(seconds=301)), None),
        "other merchant's secret": (signed(payload), {capture.merchant_id: other}),
        "no secret configured": (signed(payload), {}),
    }[forgery]
    answer = post_event(repository, ledger_table, capture.merchant_id, payload, signature, secrets)
    assert answer["statusCode"] == 401
    assert SECRET not in answer["body"] and other not in answer["body"]
    assert "Stripe-Signature" in answer["body"]
    assert totals(repository, capture) == (0, 1500, 3500, 0)


@pytest.mark.parametrize("case", ["not ours", "other event", "not a refund", "other amount"])
def test_signed_events_that_are_not_about_our_refunds_are_200_and_ignored(
    repository: Any, ledger_table: str, fake: FakeStripe, capture: Capture, case: str
) -> None:
    made = refund(repository, fake, capture)
    assert made.provider_reference is not None
    fake.decide(made.provider_reference, "succeeded")
    document = json.loads(fake.event(made.provider_reference))
    refund_object = document["data"]["object"]
    if case == "not ours":  # a refund made in Stripe's dashboard, with a key-like metadata
        refund_object |= {"id": "re_other", "metadata": {"refund_key": uuid.uuid4().hex}}
    elif case == "other event":
        document["type"] = "payment_intent.succeeded"
    elif case == "not a refund":
        document["data"]["object"] = {"id": "ch_1", "object": "charge", "amount": 1500}
    else:  # our key in a refund of another amount is not our refund
        refund_object["amount"] = 1400
    payload = json.dumps(document).encode()
    answer = post_event(repository, ledger_table, capture.merchant_id, payload, signed(payload))
    assert (answer["statusCode"], json.loads(answer["body"])) == (200, {"received": True})
    assert stored_refund(repository, made).status is RefundStatus.PENDING
    assert totals(repository, capture) == (0, 1500, 3500, 0)


# --- Reconciliation: the webhook never came ----------------------------------------------------


def reconcile(
    repository: Any, fake: FakeStripe
) -> refund_reconciliation.RefundReconciliationReport:
    return refund_reconciliation.reconcile_open_refunds(
        repository, StripeProviders(fake), NOW + timedelta(hours=1), timedelta(minutes=15)
    )


@pytest.mark.parametrize(
    ("status", "outcome", "expected"),
    [
        ("succeeded", "refunded", (1500, 0, 3500, 1500)),
        ("failed", "failed", (0, 0, 5000, 0)),
        ("canceled", "failed", (0, 0, 5000, 0)),
        ("pending", "still_open", (0, 1500, 3500, 0)),
        ("requires_action", "still_open", (0, 1500, 3500, 0)),
    ],
)
def test_reconciliation_settles_a_pending_refund_by_looking_it_up(
    repository: Any,
    fake: FakeStripe,
    capture: Capture,
    status: str,
    outcome: str,
    expected: tuple[int, int, int, int],
) -> None:
    made = refund(repository, fake, capture)
    assert made.provider_reference is not None
    fake.decide(made.provider_reference, status)
    fake.requests.clear()
    report = reconcile(repository, fake)
    assert report.examined == 1 and report.model_dump()[outcome] == 1
    # Looked up by its id, never sent again
    assert [(r.method, r.url.path) for r in fake.requests] == [
        ("GET", f"/v1/refunds/{made.provider_reference}")
    ]
    assert totals(repository, capture) == expected
    assert len(fake.refunds) == 1


def test_reconciliation_leaves_a_refund_stripe_cannot_show_for_the_next_run(
    repository: Any, fake: FakeStripe, capture: Capture
) -> None:
    made = refund(repository, fake, capture)
    assert made.provider_reference is not None
    del fake.refunds[made.provider_reference]  # Stripe answers 404 resource_missing
    report = reconcile(repository, fake)
    assert report.examined == 1 and report.refunded == report.failed == 0
    assert stored_refund(repository, made).status is RefundStatus.PENDING
    assert totals(repository, capture) == (0, 1500, 3500, 0)
