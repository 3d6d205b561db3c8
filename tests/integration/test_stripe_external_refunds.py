"""Refunds made in Stripe's Dashboard (or by another system's API call) are recorded in the
ledger (moto) from Stripe's signed events, once, so that our refund API never refunds money
that is gone and the order shows what Stripe did (``domain.external_refunds``).

Stripe is played by ``FakeStripe`` of test_stripe_pending_refunds (its refunds, events and
now PaymentIntents checked against Stripe's spec3), the events signed with Stripe's library.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from order_capture.domain import refunds
from order_capture.domain.external_refunds import allocation
from order_capture.errors import OverRefundError
from order_capture.models import Capture, CaptureStatus, Refund, RefundStatus
from tests.integration.stripe_support import (
    NOW,
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
from tests.support import FixedClock
from tests.unit.provider_specs import validate_stripe_object

__all__ = ["_api_settings", "capture", "fake"]  # fixtures (the first autouse)


class StripeAccount(FakeStripe):
    """FakeStripe with the PaymentIntent of the order (our capture keys in its metadata, as
    ``StripeProvider.capture`` writes them) and refunds made in the Dashboard."""

    def __init__(self) -> None:
        super().__init__()
        self.intents: dict[str, dict[str, Any]] = {}
        self.failing = 0

    def answer(self, request: httpx.Request) -> httpx.Response:
        if self.failing:
            self.failing -= 1
            return httpx.Response(500, json={"error": {"type": "api_error", "message": "boom"}})
        intent_id = request.url.path.removeprefix("/v1/payment_intents/")
        if request.method == "GET" and intent_id in self.intents:
            self.requests.append(request)
            return httpx.Response(200, json=self.intents[intent_id])
        answer = super().answer(request)
        if request.url.path == "/v1/refunds" and "data.payment_intent" in (
            request.url.params.get_list("expand[]")
        ):
            # Stripe expands each listed refund's payment_intent into the intent object.
            listed = answer.json()
            for listed_refund in listed["data"]:
                listed_refund["payment_intent"] = self.intents.get(
                    listed_refund["payment_intent"], listed_refund["payment_intent"]
                )
            return httpx.Response(200, json=listed)
        return answer

    def intent_of(self, captured: Capture) -> str:
        assert captured.provider_reference is not None
        intent_id = captured.provider_reference
        intent = self.intents.setdefault(
            intent_id,
            {
                "id": intent_id,
                "object": "payment_intent",
                "amount": 10171,
                "amount_capturable": 0,
                "amount_received": 0,
                "currency": "eur",
                "status": "requires_capture",
                "metadata": {},
                "livemode": False,
            },
        )
        intent["metadata"][f"capture_{captured.capture_id}"] = str(captured.amount)
        intent["amount_received"] += captured.amount
        return intent_id

    def dashboard_refund(self, intent_id: str, amount: int, status: str = "succeeded") -> str:
        """A refund the merchant made in Stripe's Dashboard: no metadata of ours."""
        made = self.refund_object({"amount": str(amount), "payment_intent": intent_id})
        made["status"] = status
        self.refunds[made["id"]] = made
        return str(made["id"])

    def charge_refunded(self, intent_id: str) -> bytes:
        """``charge.refunded``: the charge, which names its intent, not which refund."""
        refunded = sum(r["amount"] for r in self.refunds.values() if r["status"] != "failed")
        charge = {
            "id": "ch_3QFjXb2eZvKYlo2C1",
            "object": "charge",
            "amount": 10171,
            "amount_captured": self.intents[intent_id]["amount_received"],
            "amount_refunded": refunded,
            "currency": "eur",
            "captured": True,
            "refunded": False,
            "payment_intent": intent_id,
            "metadata": {},
            "livemode": False,
            "paid": True,
            "status": "succeeded",
        }
        event = json.loads(self.event(next(iter(self.refunds)), "charge.refunded"))
        event["data"] = {"object": charge}
        return json.dumps(event).encode()


@pytest.fixture
def account() -> StripeAccount:
    return StripeAccount()


def deliver(
    repository: Any, table: str, account: StripeAccount, merchant: str, payload: bytes
) -> int:
    answer = post_event(
        repository, table, merchant, payload, signed(payload), providers=StripeProviders(account)
    )
    status: int = answer["statusCode"]
    return status


def ledger_refunds(repository: Any, captured: Capture) -> list[Refund]:
    found: list[Refund] = repository.list_refunds(captured.merchant_id, captured.order_id)
    return found


def test_defect_11_a_dashboard_refund_is_recorded_and_our_api_refunds_only_the_rest(
    repository: Any, ledger_table: str, account: StripeAccount, capture: Capture
) -> None:
    intent = account.intent_of(capture)
    made = account.dashboard_refund(intent, 2000)
    for kind in ("refund.created", "charge.refund.updated"):
        payload = account.event(made, kind)
        for _ in range(2):  # Stripe delivers at least once, and several events name it
            assert deliver(repository, ledger_table, account, capture.merchant_id, payload) == 200
    assert (
        deliver(
            repository, ledger_table, account, capture.merchant_id, account.charge_refunded(intent)
        )
        == 200
    )
    (recorded,) = ledger_refunds(repository, capture)
    assert (recorded.status, recorded.amount, recorded.provider_reference) == (
        RefundStatus.REFUNDED,
        2000,
        made,
    )
    assert totals(repository, capture) == (2000, 0, 3000, 2000)
    history = repository.capture_history(capture.merchant_id, capture.order_id, capture.capture_id)
    changes = [
        (e.change, e.by.kind, e.by.name) for e in history if e.refund_id == recorded.refund_id
    ]
    assert changes == [("refund_reserved", "webhook", "stripe"), ("refunded", "webhook", "stripe")]
    reasons = {e.by.reason for e in history if e.refund_id == recorded.refund_id}
    assert len(reasons) == 1 and str(reasons.pop()).startswith("refund.created evt_")
    # Our API now refunds at most what Stripe has left: the 3000, not the 5000.
    with pytest.raises(OverRefundError):
        refund(repository, account, capture, 3001)
    account.status = "succeeded"
    ours = refund(repository, account, capture, 3000)
    assert ours.status is RefundStatus.REFUNDED
    assert totals(repository, capture) == (5000, 0, 0, 5000)
    # Our refund's own events record nothing more.
    payload = account.event(str(ours.provider_reference), "refund.created")
    assert deliver(repository, ledger_table, account, capture.merchant_id, payload) == 200
    assert len(ledger_refunds(repository, capture)) == 2


def test_defect_11_charge_refunded_alone_records_the_dashboard_refund(
    repository: Any, ledger_table: str, account: StripeAccount, capture: Capture
) -> None:
    intent = account.intent_of(capture)
    account.dashboard_refund(intent, 1234)
    payload = account.charge_refunded(intent)
    validate_stripe_object(json.loads(payload)["data"]["object"], "charge")
    assert deliver(repository, ledger_table, account, capture.merchant_id, payload) == 200
    assert totals(repository, capture) == (1234, 0, 5000 - 1234, 1234)


def test_defect_11_a_charge_refunded_costs_one_get_of_stripe(
    repository: Any, ledger_table: str, account: StripeAccount, capture: Capture
) -> None:
    # Given a Dashboard refund, and our own, on the intent
    intent = account.intent_of(capture)
    account.dashboard_refund(intent, 1234)
    account.status = "succeeded"
    refund(repository, account, capture, 1000)
    account.requests.clear()

    # When Stripe sends charge.refunded (the charge names its intent, not which refund)
    payload = account.charge_refunded(intent)
    assert deliver(repository, ledger_table, account, capture.merchant_id, payload) == 200

    # Then one GET reads the intent's refunds with the intent itself expanded in them (its
    # metadata: our capture keys), and the Dashboard refund is recorded
    assert [(r.method, r.url.path) for r in account.requests] == [("GET", "/v1/refunds")]
    assert account.requests[0].url.params.get_list("expand[]") == ["data.payment_intent"]
    assert totals(repository, capture) == (2234, 0, 5000 - 2234, 2234)


@pytest.mark.parametrize(("decided", "expected"), [("succeeded", (700, 0, 4300, 700)),
                                                   ("failed", (0, 0, 5000, 0))])  # fmt: skip
def test_a_pending_dashboard_refund_is_reserved_until_stripe_decides(
    repository: Any,
    ledger_table: str,
    account: StripeAccount,
    capture: Capture,
    decided: str,
    expected: tuple[int, int, int, int],
) -> None:
    intent = account.intent_of(capture)
    made = account.dashboard_refund(intent, 700, status="pending")
    payload = account.event(made, "refund.created")
    assert deliver(repository, ledger_table, account, capture.merchant_id, payload) == 200
    assert totals(repository, capture) == (0, 700, 4300, 0)
    account.decide(made, decided, "lost_or_stolen_card" if decided == "failed" else None)
    payload = account.event(made, "refund.updated")
    for _ in range(2):
        assert deliver(repository, ledger_table, account, capture.merchant_id, payload) == 200
    assert totals(repository, capture) == expected
    (recorded,) = ledger_refunds(repository, capture)
    assert recorded.status is (
        RefundStatus.REFUNDED if decided == "succeeded" else RefundStatus.FAILED
    )


def test_a_failed_lookup_is_a_502_and_stripes_retry_records_it(
    repository: Any, ledger_table: str, account: StripeAccount, capture: Capture
) -> None:
    intent = account.intent_of(capture)
    made = account.dashboard_refund(intent, 500)
    payload = account.event(made, "refund.created")
    account.failing = 3  # Stripe-Should-Retry is not sent: the adapter tries, then gives up
    status = deliver(repository, ledger_table, account, capture.merchant_id, payload)
    assert status >= 500 and totals(repository, capture) == (0, 0, 5000, 0)
    account.failing = 0
    assert deliver(repository, ledger_table, account, capture.merchant_id, payload) == 200
    assert totals(repository, capture) == (500, 0, 4500, 500)


def test_a_refund_of_an_intent_with_none_of_our_captures_records_nothing(
    repository: Any, ledger_table: str, account: StripeAccount, capture: Capture
) -> None:
    other = capture.model_copy(update={"provider_reference": "pi_someone_else", "capture_id": "x"})
    intent = account.intent_of(other)
    made = account.dashboard_refund(intent, 500)
    payload = account.event(made, "refund.created")
    assert deliver(repository, ledger_table, account, capture.merchant_id, payload) == 200
    assert ledger_refunds(repository, capture) == []


def test_a_dashboard_refund_over_ours_in_flight_is_recorded_whole_and_stops_our_refunds(
    repository: Any, ledger_table: str, account: StripeAccount, capture: Capture
) -> None:
    """Ours reserved 4000 (pending at Stripe, so Stripe would refuse more... but this one was
    reserved, not sent: the provider took no part of it). The merchant refunds 3000 in the
    Dashboard: recorded whole; nothing more is refundable through us until ours settles."""
    intent = account.intent_of(capture)
    ours = refund(repository, account, capture, 4000)  # pending at Stripe
    assert ours.status is RefundStatus.PENDING
    del account.refunds[str(ours.provider_reference)]  # as if Stripe never got it
    made = account.dashboard_refund(intent, 3000)
    payload = account.event(made, "refund.created")
    assert deliver(repository, ledger_table, account, capture.merchant_id, payload) == 200
    refunded, pending, refundable, order_refunded = totals(repository, capture)
    assert (refunded, pending, order_refunded) == (3000, 4000, 3000)
    assert refundable == 0  # never shown below zero (test_refundable_never_negative.py)
    with pytest.raises(OverRefundError):
        refunds.refund_capture(
            repository,
            StripeProviders(account),
            merchant_id=capture.merchant_id,
            order_id=capture.order_id,
            capture_id=capture.capture_id,
            amount=1,
            idempotency_key=uuid.uuid4().hex,
            clock=FixedClock(NOW),
        )


def test_the_intents_the_fake_answers_are_stripes(account: StripeAccount, capture: Capture) -> None:
    validate_stripe_object(account.intents[account.intent_of(capture)], "payment_intent")
    made = account.dashboard_refund(account.intent_of(capture), 1)
    validate_stripe_object(account.refunds[made], "refund")
    validate_stripe_object(json.loads(account.event(made, "refund.created")), "event")


@given(
    st.lists(
        st.tuples(st.integers(1, 10**6), st.integers(0, 100), st.integers(0, 100)),
        min_size=1,
        max_size=6,
    ),
    st.data(),
)
def test_property_an_allocation_sums_to_the_refund_and_no_capture_refunds_over(
    shapes: list[tuple[int, int, int]], data: st.DataObject
) -> None:
    """For any captures (amount, % refunded, % of the rest pending) and any refund Stripe
    could have made (at most what is not refunded yet), the parts add up to it and no
    capture's refunds pass what it captured."""
    captures = []
    for index, (amount, refunded_pct, pending_pct) in enumerate(shapes):
        refunded = amount * refunded_pct // 100
        pending = (amount - refunded) * pending_pct // 100
        captures.append(
            Capture(
                capture_id=f"c{index}",
                merchant_id="m-1",
                order_id="o-1",
                shipment_id=f"s-{index}",
                amount=amount,
                currency="EUR",
                status=CaptureStatus.CAPTURED,
                provider="stripe",
                trigger="event",
                refunded_amount=refunded,
                refund_pending_amount=pending,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    not_refunded = sum(c.amount - c.refunded_amount for c in captures)
    if not_refunded == 0:
        return
    amount = data.draw(st.integers(1, not_refunded))
    parts = allocation(captures, amount)
    assert sum(taken for _, taken in parts) == amount
    for capture_, taken in parts:
        assert 0 < taken <= capture_.amount - capture_.refunded_amount
    assert len({c.capture_id for c, _ in parts}) == len(parts)
