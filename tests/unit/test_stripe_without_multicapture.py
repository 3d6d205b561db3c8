"""Stripe without multicapture (issue 11, "Stripe multicapture"): what the service does, on the
in-memory ledger with the real Stripe adapter over httpx.MockTransport.

Stripe's capture endpoint: ``final_capture`` "defaults to true"; false "notifies Stripe to not
release the remaining uncaptured funds" and "you can only use this setting when multicapture
is available" (docs.stripe.com/api/payment_intents/capture). So without multicapture the first
partial capture would release the rest and every later shipment would be refused, after the
goods shipped. The policy (docs/providers.md): a capture that is not all the intent has left
is refused before anything is sent (``multicapture_unavailable``, its units capturable again,
nothing released); a capture of everything the order has left (the shipment of every open
unit, Medusa's capture, the native dialect's capture of the rest) is sent final and takes it in
one go. Capturing the whole at the first shipment and refunding the difference was not chosen:
it takes the shopper's money for goods not shipped, and a refund may fail or take days.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from order_capture.adapters.credentials import ProviderCredentials
from order_capture.adapters.stripe import StripeProvider
from order_capture.domain import capture_rules, failures, releases, service
from order_capture.errors import ProviderMulticaptureUnavailableError
from order_capture.models import (
    CaptureRequest,
    CaptureStatus,
    ItemQuantity,
    OrderPlacedDetail,
    PlannedCapture,
)
from order_capture.ports import PaymentProvider
from order_capture_local.memory_ledger import MemoryLedger
from tests.factories import EXAMPLE_ORDER_TOTAL, order_placed
from tests.support import FixedClock
from tests.unit.stripe_intent_fake import FakeIntent

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MERCHANT, ORDER = "merchant-1", "order-1001"


class IntentWithoutMulticapture(FakeIntent):
    """A manual-capture intent whose card has no multicapture: a capture not sent final
    would still release the rest (``final_capture=false`` is not taken)."""

    def intent(self) -> dict[str, Any]:
        intent = super().intent()
        intent["latest_charge"]["payment_method_details"]["card"]["multicapture"] = {
            "status": "unavailable"
        }
        return intent

    def answer(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/capture"):
            assert b"final_capture=true" in request.content, "Stripe takes false only with it"
        return super().answer(request)


class OneStripe:
    def __init__(self, stripe: StripeProvider) -> None:
        self.stripe = stripe

    def provider(self, name: str, merchant_id: str) -> PaymentProvider:
        return self.stripe


def shipment(
    ledger: MemoryLedger, stripe: StripeProvider, name: str, items: list[tuple[str, int]] | None
) -> Any:
    request = CaptureRequest(
        merchant_id=MERCHANT,
        order_id=ORDER,
        shipment_id=name,
        items=None if items is None else [ItemQuantity(item_id=i, quantity=q) for i, q in items],
    )
    plan = capture_rules.plan_capture(service.load_for_capture(ledger, request).order, request, NOW)
    try:
        sent = service.execute_capture(
            ledger,
            stripe,
            planned=PlannedCapture(request=request, plan=plan),
            execution_id=f"exec-{name}",
            now=NOW,
        )
    except ProviderMulticaptureUnavailableError as refused:
        failed, _ = failures.record_failure(
            ledger,
            request=request,
            error_type=type(refused).__name__,
            error_reason=refused.reason,
            message=refused.message,
            execution_id=f"exec-{name}",
            now=NOW,
        )
        return failed
    return service.record_capture(ledger, sent, NOW)


@pytest.fixture
def world() -> tuple[MemoryLedger, StripeProvider, IntentWithoutMulticapture]:
    ledger = MemoryLedger()
    detail = order_placed(provider="stripe", authorized_amount=EXAMPLE_ORDER_TOTAL)["detail"]
    service.register_order(ledger, OrderPlacedDetail.model_validate(detail), FixedClock(NOW))
    intent = IntentWithoutMulticapture("EUR", EXAMPLE_ORDER_TOTAL)
    credentials = ProviderCredentials(api_key="sk_test_x")
    return ledger, StripeProvider(credentials, 5, httpx.MockTransport(intent)), intent


def test_stripe_without_multicapture_a_partial_shipment_is_refused_before_sending(
    world: tuple[MemoryLedger, StripeProvider, IntentWithoutMulticapture],
) -> None:
    ledger, stripe, intent = world

    first = shipment(ledger, stripe, "s-1", [("line-1", 3)])
    second = shipment(ledger, stripe, "s-2", [("line-2", 2)])  # its own units: not all left

    assert intent.captured == []  # nothing sent, nothing released
    assert intent.capturable == EXAMPLE_ORDER_TOTAL
    assert [first.reason, second.reason] == ["multicapture_unavailable"] * 2
    order = ledger.get_order(MERCHANT, ORDER)
    assert order is not None and order.capturable_amount == EXAMPLE_ORDER_TOTAL


def test_stripe_without_multicapture_everything_left_is_captured_in_one_go(
    world: tuple[MemoryLedger, StripeProvider, IntentWithoutMulticapture],
) -> None:
    ledger, stripe, intent = world
    shipment(ledger, stripe, "s-1", [("line-1", 3)])  # refused: its units stay capturable

    last = shipment(ledger, stripe, "s-all", None)  # every open unit (Medusa's capture)

    assert last.status is CaptureStatus.CAPTURED and last.releases_authorization
    assert (intent.captured, intent.finals) == ([EXAMPLE_ORDER_TOTAL], [True])
    # Sent final: Stripe released the rest itself, so nothing more is asked for
    assert releases.release_after_capture(ledger, OneStripe(stripe), last, NOW) is None
    assert ledger.get_release(MERCHANT, ORDER) is None


class IntentWithMulticapture(FakeIntent):
    """A multicapture intent that Stripe cancels as its API reference says: a
    ``requires_capture`` intent's remaining ``amount_capturable`` is released."""

    canceled = False

    def intent(self) -> dict[str, Any]:
        intent = super().intent()
        if self.canceled:
            intent["status"] = "canceled"
        return intent

    def answer(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/cancel"):
            assert self.intent()["status"] == "requires_capture", "Stripe cancels only these"
            self.canceled, self.capturable = True, 0
        return super().answer(request)


def test_stripe_captures_in_flight_together_leave_the_rest_to_a_cancel_of_the_intent() -> None:
    # Given a multicapture intent authorized beyond the order's total, and the order's two
    # shipments captured together (neither sent final: the other was in flight)
    ledger = MemoryLedger()
    authorized = EXAMPLE_ORDER_TOTAL + 1000
    detail = order_placed(provider="stripe", authorized_amount=authorized)["detail"]
    service.register_order(ledger, OrderPlacedDetail.model_validate(detail), FixedClock(NOW))
    intent = IntentWithMulticapture("EUR", authorized)
    stripe = StripeProvider(
        ProviderCredentials(api_key="sk_test_x"), 5, httpx.MockTransport(intent)
    )
    sent = []
    for name, items in (("s-1", [ItemQuantity(item_id="line-1", quantity=3)]), ("s-2", None)):
        request = CaptureRequest(
            merchant_id=MERCHANT, order_id=ORDER, shipment_id=name, items=items
        )
        plan = capture_rules.plan_capture(
            service.load_for_capture(ledger, request).order, request, NOW
        )
        sent.append(
            service.execute_capture(
                ledger,
                stripe,
                planned=PlannedCapture(request=request, plan=plan),
                execution_id=f"exec-{name}",
                now=NOW,
            )
        )
    assert intent.finals == [False, False] and intent.capturable == 1000

    # When both are recorded, the one reserved with the other in flight last
    service.record_capture(ledger, sent[0], NOW)
    last = service.record_capture(ledger, sent[1], NOW)
    released = releases.release_after_capture(ledger, OneStripe(stripe), last, NOW)

    # Then the rest goes by POST /v1/payment_intents/{id}/cancel, once
    assert released is not None and released.amount == 1000
    assert intent.canceled and intent.capturable == 0
    assert sum(intent.captured) == EXAMPLE_ORDER_TOTAL
