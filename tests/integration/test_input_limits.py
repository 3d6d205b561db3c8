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
from tests.integration.limits_support import REFUSED, line, with_items

JS_MAX_SAFE_INTEGER = 2**53 - 1


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
