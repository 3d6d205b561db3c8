"""Authorizations that take one capture only (``payment.single_capture``: Aplazame's "pay in 15
days"): the order is captured once, for everything that remains; a partial capture is refused
before anything is reserved or sent, naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from order_capture.domain import capture_rules
from order_capture.errors import OverCaptureError, SingleCaptureOrderError
from order_capture.models import CaptureRequest, ItemQuantity, Order, OrderPlacedDetail

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def pay_in_15_days(single_capture: Any = True) -> Order:
    return capture_rules.register_order(
        OrderPlacedDetail.model_validate(
            {
                "merchant_id": "m", "order_id": "o", "currency": "EUR", "shipping_amount": 500,
                "items": [{"item_id": "a", "sku": "A", "quantity": 2, "unit_amount": 1000},
                          {"item_id": "b", "sku": "B", "quantity": 1, "unit_amount": 3000}],
                "payment": {"provider": "aplazame", "reference": "r", "authorized_amount": 5500,
                            "expires_at": "2099-01-01T00:00:00Z", "single_capture": single_capture},
            }
        ),
        NOW,
    )  # fmt: skip


def shipment(
    items: list[tuple[str, int]] | None = None, amount: int | None = None
) -> CaptureRequest:
    return CaptureRequest(
        merchant_id="m",
        order_id="o",
        shipment_id="s-1",
        items=None if items is None else [ItemQuantity(item_id=i, quantity=q) for i, q in items],
        amount=amount,
    )


@pytest.mark.parametrize(
    "request_",
    [shipment([("a", 1)]), shipment([("a", 2)]), shipment(amount=2000)],
    ids=["some units", "one line", "by amount"],
)
def test_a_partial_capture_of_a_single_capture_order_is_refused_naming_the_field(
    request_: CaptureRequest,
) -> None:
    with pytest.raises(SingleCaptureOrderError) as refused:
        capture_rules.plan_capture(pay_in_15_days(), request_, NOW)
    assert refused.value.field == "payment.single_capture"
    assert "single capture" in refused.value.message and "5500" in refused.value.message


def test_the_whole_order_is_captured_at_once() -> None:
    plan = capture_rules.plan_capture(pay_in_15_days(), shipment(), NOW)
    assert (plan.amount, plan.is_final) == (5500, True)
    by_amount = capture_rules.plan_capture(pay_in_15_days(), shipment(amount=5500), NOW)
    assert by_amount.amount == 5500


def test_what_remains_after_cancellations_is_captured_at_once() -> None:
    order = capture_rules.cancel_items(
        pay_in_15_days(), [ItemQuantity(item_id="b", quantity=1)], NOW
    )
    plan = capture_rules.plan_capture(order, shipment([("a", 2)]), NOW)
    assert plan.amount == 2500


def test_a_second_capture_is_refused() -> None:
    order = pay_in_15_days()
    plan = capture_rules.plan_capture(order, shipment(), NOW)
    reserved = capture_rules.reserve(order, plan, NOW)
    with pytest.raises(OverCaptureError):
        capture_rules.plan_capture(reserved, shipment(amount=100), NOW)


def test_an_order_without_the_flag_captures_in_parts() -> None:
    plan = capture_rules.plan_capture(pay_in_15_days(False), shipment([("a", 1)]), NOW)
    assert plan.amount == 1500  # one unit and the shipping


def test_the_flag_is_a_boolean() -> None:
    with pytest.raises(ValueError, match="single_capture"):
        pay_in_15_days("yes")
