"""For every currency Stripe takes (``provider_units.STRIPE``), a whole order lifecycle goes
through the Stripe adapter (httpx.MockTransport): partial captures planned by the capture rules,
each sent as Stripe's ``amount_to_capture`` (multicapture, ``final_capture`` on the last), then a
refund. What Stripe received adds up to the order's total in Stripe's units, what the ledger
holds to the total in ours, and the refund likewise, for every currency, not a sample of them.

test_provider_units.py's lifecycle property covers every provider's currencies with shipments,
cancellations and failures, in the rules alone; this one is Stripe's wire, with refunds.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from order_capture.adapters.credentials import ProviderCredentials
from order_capture.adapters.stripe import StripeProvider
from order_capture.domain import capture_rules
from order_capture.domain.refunds import check_refundable
from order_capture.models import (
    Capture,
    CaptureRequest,
    CaptureStatus,
    ItemQuantity,
    Order,
    OrderPlacedDetail,
)
from order_capture.ports import ProviderCaptureRequest, ProviderRefundRequest
from order_capture.provider_units import STRIPE
from tests.unit.stripe_intent_fake import (
    FakeIntent,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def register(currency: str, units: list[int], shipping: int) -> Order:
    """An order of one item per entry of ``units`` (quantity 2 each) whose total Stripe can
    take: prices in Stripe's steps, shipping made up to a step."""
    step = STRIPE.granularity(currency)
    items = [{"item_id": f"i{n}", "sku": f"S{n}", "quantity": 2, "unit_amount": amount * step}
             for n, amount in enumerate(units)]  # fmt: skip
    shipping += -shipping % step
    total = sum(2 * amount * step for amount in units) + shipping
    detail = OrderPlacedDetail.model_validate(
        {
            "merchant_id": "m", "order_id": "o", "currency": currency, "items": items,
            "shipping_amount": shipping,
            "payment": {"provider": "stripe", "reference": "pi_1", "authorized_amount": total,
                        "expires_at": "2099-01-01T00:00:00Z"},
        }
    )  # fmt: skip
    return capture_rules.register_order(detail, NOW)


def ship(
    order: Order, stripe: StripeProvider, shipment: str, items: list[str] | None
) -> tuple[Order, Capture]:
    """Plan, reserve, send to Stripe and confirm one shipment."""
    request = CaptureRequest(
        merchant_id="m", order_id="o", shipment_id=shipment,
        items=None if items is None else [ItemQuantity(item_id=i, quantity=1) for i in items],
    )  # fmt: skip
    plan = capture_rules.plan_capture(order, request, NOW)
    order = capture_rules.reserve(order, plan, NOW)
    capture = Capture(
        capture_id=plan.capture_id, merchant_id="m", order_id="o", shipment_id=shipment,
        amount=plan.amount, currency=plan.currency, status=CaptureStatus.PENDING,
        lines=plan.lines, shipping_amount=plan.shipping_amount, provider="stripe",
        trigger="event", created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    answer = stripe.capture(
        ProviderCaptureRequest(
            authorization_reference="pi_1", amount=capture.amount, currency=capture.currency,
            idempotency_key=capture.capture_id, lines=capture.lines, merchant_id="m",
            order_id="o", final_capture=not any(line.open_quantity for line in order.lines),
        )
    )  # fmt: skip
    assert (answer.status, answer.amount) == ("succeeded", capture.amount)
    captured = capture.model_copy(
        update={"status": CaptureStatus.CAPTURED, "provider_reference": answer.provider_reference}
    )
    return capture_rules.confirm(order, captured, NOW), captured


@pytest.mark.parametrize("currency", sorted(STRIPE.currencies))
@settings(max_examples=3, deadline=None, derandomize=True, database=None)
@given(
    units=st.lists(st.integers(min_value=1, max_value=40_000), min_size=2, max_size=3),
    shipping=st.integers(min_value=0, max_value=2_000),
    refund_share=st.integers(min_value=1, max_value=100),
)
def test_every_stripe_currency_lifecycle_adds_up_in_stripes_units_and_ours(
    currency: str, units: list[int], shipping: int, refund_share: int
) -> None:
    order = register(currency, units, shipping)
    fake = FakeIntent(currency, STRIPE.to_provider(order.total, currency))
    stripe = StripeProvider(ProviderCredentials(api_key="sk_test_x"), 5, httpx.MockTransport(fake))
    captures = []
    for number, line in enumerate(order.lines):  # one unit of each line, a shipment each
        order, capture = ship(order, stripe, f"s{number}", [line.item_id])
        captures.append(capture)
    order, last = ship(order, stripe, "last", None)  # the rest, the final capture
    captures.append(last)

    assert order.capturable_amount == 0
    assert sum(c.amount for c in captures) == order.captured_amount == order.total
    assert sum(fake.captured) == STRIPE.to_provider(order.total, currency)
    assert fake.finals == [False] * (len(captures) - 1) + [True]
    assert fake.capturable == 0

    # A refund of part of the largest capture, in Stripe's steps
    step = STRIPE.granularity(currency)
    largest = max(captures, key=lambda c: c.amount)
    amount = max(step, largest.amount * refund_share // 100 // step * step)
    check_refundable(largest, amount)
    refund = stripe.refund(
        ProviderRefundRequest(
            authorization_reference="pi_1", capture_reference="pi_1", amount=amount,
            currency=currency, idempotency_key="r-1", merchant_id="m", order_id="o",
        )
    )  # fmt: skip
    assert (refund.amount, refund.status) == (amount, "succeeded")
    assert fake.refunded == [STRIPE.to_provider(amount, currency)]
    assert STRIPE.to_provider(order.total - amount, currency) == sum(fake.captured) - sum(
        fake.refunded
    )
