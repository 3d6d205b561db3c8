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
from datetime import timedelta
from typing import Any

import pytest
import stripe

from order_capture.domain import refund_reconciliation
from order_capture.domain.refund_states import settle_refund_state
from order_capture.models import (
    Capture,
    Refund,
    RefundStatus,
)
from order_capture.ports import ProviderRefundState
from tests.integration.stripe_support import (
    NOW,
    SECRET,
    FakeStripe,
    StripeProviders,
    _api_settings,
    capture,
    fake,
    post_event,
    refund,
    signed,
    totals,
)
from tests.unit.provider_specs import validate_stripe_object

__all__ = ["_api_settings", "capture", "fake"]  # fixtures (the first autouse)


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
    assert json.loads(answer["body"])["error"]["field"] == "Stripe-Signature"
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


def test_review_a_webhooks_refund_state_settles_only_its_own_providers_refund(
    repository: Any, fake: FakeStripe, capture: Capture
) -> None:
    """The Stripe route's word about a refund of a capture made at another provider (a leaked
    Stripe endpoint secret, a reused metadata key) settles nothing: it settled any refund the
    merchant's ledger had under that key."""
    made = refund(repository, fake, capture)
    assert made.provider_reference is not None
    state = ProviderRefundState(
        provider_reference=made.provider_reference,
        reference=made.refund_id,
        status="succeeded",
        amount=made.amount,
        currency=made.currency,
    )
    for elsewhere in ("adyen", "sandbox"):
        assert (
            settle_refund_state(repository, capture.merchant_id, state, NOW, provider=elsewhere)
            is None
        )
    assert stored_refund(repository, made).status is RefundStatus.PENDING
    settled = settle_refund_state(repository, capture.merchant_id, state, NOW, provider="stripe")
    assert settled is not None and settled.status is RefundStatus.REFUNDED
