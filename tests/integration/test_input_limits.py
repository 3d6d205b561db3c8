"""Inputs at and past every limit: each is refused with a 4xx / InvalidEventError that names the
field, on the event path (Order Placed) and the API (PUT /orders/{id},
``test_api_native.py``) alike, and nothing is written; what is just inside a limit is accepted."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from order_capture.errors import InvalidEventError
from order_capture.handlers import order_events
from order_capture.models import MAX_EXACT_MINOR_UNITS
from order_capture.money import to_decimal
from tests.factories import order_placed

JS_MAX_SAFE_INTEGER = 2**53 - 1


def with_payment(**payment: Any) -> dict[str, Any]:
    event = order_placed()
    event["detail"]["payment"] |= payment
    return event


def with_items(items: list[dict[str, Any]], shipping_amount: int = 0) -> dict[str, Any]:
    event = order_placed()
    event["detail"]["items"] = items
    event["detail"]["shipping_amount"] = shipping_amount
    event["detail"]["payment"]["authorized_amount"] = 1
    return event


def line(n: int, quantity: int, unit_amount: int) -> dict[str, Any]:
    return {"item_id": f"i{n}", "sku": f"sku{n}", "quantity": quantity, "unit_amount": unit_amount}


#: (event, the field the refusal must name). Each is past a limit.
REFUSED = {
    "expires_at past year 9999 in UTC": (
        with_payment(expires_at="9999-12-31T23:59:59-23:59"),
        "payment.expires_at",
    ),
    "expires_at before year 1 in UTC": (
        with_payment(expires_at="0001-01-01T00:00:00+23:59"),
        "payment.expires_at",
    ),
    "expires_at as a Unix number": (with_payment(expires_at=4102444800), "payment.expires_at"),
    "expires_at as a Unix number in a string": (
        with_payment(expires_at="4102444800"),
        "payment.expires_at",
    ),
    "authorized_amount 0": (with_payment(authorized_amount=0), "payment.authorized_amount"),
    "a line total past 10^15": (with_items([line(0, 2, 10**15)]), "items[0]"),
    "an order total past 10^15": (
        with_items([line(0, 1, 10**15 - 1), line(1, 1, 2)]),
        "items",
    ),
    "shipping bringing the total past 10^15": (
        with_items([line(0, 1, 10**15)], shipping_amount=1),
        "shipping_amount",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_defect_8_order_placed_past_a_limit_is_an_invalid_event_naming_the_field(
    case: str, repository: Any, lambda_context: Any
) -> None:
    event, field = REFUSED[case]
    with pytest.raises(InvalidEventError) as refused:
        order_events.handle(copy.deepcopy(event), lambda_context, repository=repository)
    assert refused.value.field == f"detail.{field}", refused.value.message
    assert repository.get_order("merchant-1", "order-1001") is None


def test_defect_8_what_is_just_inside_the_limits_is_registered(
    repository: Any, lambda_context: Any
) -> None:
    """The largest total, the latest and earliest instants allowed."""
    for number, expires_at in enumerate(("9999-12-31T23:59:59+00:00", "1970-01-01T00:00:00Z")):
        event = with_items([line(0, 1, 10**15 - 10**6)], shipping_amount=10**6)
        event["detail"]["order_id"] = f"order-{number}"
        event["detail"]["payment"] |= {"authorized_amount": 10**15, "expires_at": expires_at}
        order_events.handle(event, lambda_context, repository=repository)
        order = repository.get_order("merchant-1", f"order-{number}")
        assert order.total == MAX_EXACT_MINOR_UNITS


@given(total=st.integers(min_value=0, max_value=MAX_EXACT_MINOR_UNITS))
def test_defect_8_every_amount_within_the_limit_is_exact_for_a_javascript_client(
    total: int,
) -> None:
    """JSON numbers are doubles in JavaScript: every amount up to the limit survives the trip,
    as an integer (native, Medusa) and as a decimal in every currency's exponent (Omnitron)."""
    assert total <= JS_MAX_SAFE_INTEGER and int(float(total)) == total
    for currency in ("JPY", "EUR", "KWD"):
        text = str(to_decimal(total, currency))
        assert Decimal(repr(float(text))) == Decimal(text)
