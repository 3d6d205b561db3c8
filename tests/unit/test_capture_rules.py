"""The capture rules, exercised as whole order lifecycles (hypothesis) and by example."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from order_capture.domain import capture_rules
from order_capture.errors import (
    AuthorizationExpiredError,
    InvalidEventError,
    InvalidStateError,
    OrderConflictError,
    OverCaptureError,
)
from order_capture.models import (
    Capture,
    CaptureRequest,
    CaptureStatus,
    ItemQuantity,
    Order,
    OrderPlacedDetail,
)
from tests.factories import EXAMPLE_ORDER_TOTAL, load_event

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def example_order(**payment: object) -> Order:
    detail = load_event("order-placed")["detail"]
    detail["payment"] |= payment
    return capture_rules.register_order(OrderPlacedDetail.model_validate(detail), NOW)


def ship(
    order: Order, shipment_id: str, items: list[tuple[str, int]] | None = None, confirm: bool = True
) -> tuple[Order, int]:
    """Plan, reserve and confirm (or release) one shipment; the new order and its amount."""
    request = CaptureRequest(
        merchant_id=order.merchant_id,
        order_id=order.order_id,
        shipment_id=shipment_id,
        items=None if items is None else [ItemQuantity(item_id=i, quantity=q) for i, q in items],
    )
    plan = capture_rules.plan_capture(order, request, NOW)
    reserved = capture_rules.reserve(order, plan, NOW)
    capture = Capture(
        capture_id=plan.capture_id,
        merchant_id=order.merchant_id,
        order_id=order.order_id,
        shipment_id=shipment_id,
        amount=plan.amount,
        currency=plan.currency,
        status=CaptureStatus.PENDING,
        lines=plan.lines,
        shipping_amount=plan.shipping_amount,
        provider="sandbox",
        trigger="event",
        created_at=NOW,
        updated_at=NOW,
    )
    if confirm:
        return capture_rules.confirm(reserved, capture, NOW), plan.amount
    return capture_rules.release(reserved, capture, NOW), 0


def test_example_order_total_and_two_shipments() -> None:
    order = example_order()
    assert order.total == EXAMPLE_ORDER_TOTAL
    order, first = ship(order, "s1", [("line-1", 2), ("line-2", 1)])
    # line-1: 2 of 3 units: 2x1999 - (167+167 of the 500 discount) + (385+385 of the 1154 tax)
    # line-2: 1 of 2 units: 1250 + 263 of the 525 tax; plus shipping 495 on the first capture.
    assert first == (3998 - 334 + 770) + (1250 + 263) + 495
    order, second = ship(order, "s2")
    assert first + second == EXAMPLE_ORDER_TOTAL
    assert order.captured_amount == EXAMPLE_ORDER_TOTAL
    assert order.reserved_amount == 0


def test_last_shipment_captures_exactly_what_remains_after_cancellation() -> None:
    order = example_order()
    order = capture_rules.cancel_items(order, [ItemQuantity(item_id="line-2", quantity=1)], NOW)
    order, first = ship(order, "s1", [("line-1", 1)])
    order, last = ship(order, "s2")
    assert first + last == EXAMPLE_ORDER_TOTAL - order.canceled_amount
    # Units close in the order events arrive: the canceled unit is line-2's first, which
    # carries the leftover tax cent (525 over 2 units: 263 + 262).
    assert order.canceled_amount == 1250 + 263


def test_nothing_left_to_ship_is_nothing_to_capture() -> None:
    order, _ = ship(example_order(), "s1")
    request = CaptureRequest(merchant_id="merchant-1", order_id="order-1001", shipment_id="s2")
    plan = capture_rules.plan_capture(order, request, NOW)
    assert plan.nothing_to_capture
    assert plan.amount == 0
    assert plan.lines == []


def test_expired_authorization_is_refused() -> None:
    order = example_order(expires_at=(NOW - timedelta(seconds=1)).isoformat())
    request = CaptureRequest(merchant_id="merchant-1", order_id="order-1001", shipment_id="s1")
    with pytest.raises(AuthorizationExpiredError, match="expired"):
        capture_rules.plan_capture(order, request, NOW)


def test_units_worth_nothing_still_ship_once_the_authorization_expired() -> None:
    # Their money was taken while the authorization lived: the shipment asks the provider
    # nothing, so its expiry must not keep the units from shipping (Omnitron's order would
    # stay unshipped forever).
    expires = NOW + timedelta(hours=1)
    order = capture_amount(example_order(expires_at=expires.isoformat()), "s0", EXAMPLE_ORDER_TOTAL)
    request = CaptureRequest(merchant_id="merchant-1", order_id="order-1001", shipment_id="s1")
    plan = capture_rules.plan_capture(order, request, expires + timedelta(seconds=1))
    assert (plan.amount, plan.nothing_to_capture) == (0, False)
    assert {line.item_id for line in plan.lines} == {"line-1", "line-2"}


def test_never_more_than_authorized() -> None:
    order = example_order(authorized_amount=5000)
    with pytest.raises(OverCaptureError, match="over the authorized 5000"):
        ship(order, "s1")


def test_unknown_item_and_too_many_units_name_the_field() -> None:
    order = example_order()
    with pytest.raises(InvalidEventError) as unknown:
        ship(order, "s1", [("line-9", 1)])
    assert unknown.value.field == "items[0].item_id"
    with pytest.raises(InvalidStateError) as too_many:
        ship(order, "s1", [("line-1", 1), ("line-2", 3)])
    assert too_many.value.field == "items[1].quantity"
    assert "only 2" in str(too_many.value)


def test_amount_captures_never_exceed_capturable() -> None:
    order = example_order()
    request = CaptureRequest(
        merchant_id="merchant-1",
        order_id="order-1001",
        shipment_id="a1",
        amount=EXAMPLE_ORDER_TOTAL + 1,
    )
    with pytest.raises(OverCaptureError, match="still capturable"):
        capture_rules.plan_capture(order, request, NOW)


def test_registration_conflict_is_detected() -> None:
    order = example_order()
    detail = load_event("order-placed")["detail"]
    capture_rules.ensure_same_registration(order, OrderPlacedDetail.model_validate(detail))
    detail["shipping_amount"] = 0
    with pytest.raises(OrderConflictError):
        capture_rules.ensure_same_registration(order, OrderPlacedDetail.model_validate(detail))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"shipping_amount": 0}, "shipping_amount"),
        ({"currency": "USD"}, "currency"),
        ({"payment": {"authorized_amount": 10170}}, "payment.authorized_amount"),
        ({"payment": {"reference": "auth_other"}}, "payment.reference"),
        ({"items": [{"quantity": 2}]}, "items"),
        ({"email": "someone@example.com"}, "email"),
    ],
)
def test_a_registration_conflict_names_the_field_that_differs(
    change: dict[str, Any], field: str
) -> None:
    order = example_order()
    detail = load_event("order-placed")["detail"]
    for name, value in change.items():
        if name == "payment":
            detail["payment"].update(value)
        elif name == "items":
            detail["items"][0].update(value[0])
        else:
            detail[name] = value
    with pytest.raises(OrderConflictError) as refused:
        capture_rules.ensure_same_registration(order, OrderPlacedDetail.model_validate(detail))
    assert refused.value.field == field
    assert refused.value.message.startswith(f"{field}: ")


def test_everything_canceled_cancels_shipping_too() -> None:
    order = example_order()
    order = capture_rules.cancel_items(
        order,
        [ItemQuantity(item_id="line-1", quantity=3), ItemQuantity(item_id="line-2", quantity=2)],
        NOW,
    )
    assert order.canceled_amount == EXAMPLE_ORDER_TOTAL
    assert order.capturable_amount == 0


# --- Properties over whole lifecycles -------------------------------------------------------

line_strategy = st.builds(
    lambda quantity, unit, discount_share, tax: {
        "quantity": quantity,
        "unit_amount": unit,
        "discount_amount": min(discount_share, quantity * unit),
        "tax_amount": tax,
    },
    quantity=st.integers(min_value=1, max_value=7),
    unit=st.integers(min_value=0, max_value=100_000),
    discount_share=st.integers(min_value=0, max_value=200_000),
    tax=st.integers(min_value=0, max_value=50_000),
)

operation = st.tuples(
    st.sampled_from(["ship", "cancel", "ship_all", "fail"]),
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=4), st.integers(min_value=1, max_value=7)),
        min_size=1,
        max_size=4,
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(line_strategy, min_size=1, max_size=5),
    shipping=st.integers(min_value=0, max_value=10_000),
    currency=st.sampled_from(["JPY", "EUR", "KWD", "BHD", "OMR", "JOD"]),
    operations=st.lists(operation, max_size=8),
)
def test_lifecycle_captures_exactly_total_less_canceled(
    lines: list[dict[str, int]],
    shipping: int,
    currency: str,
    operations: list[tuple[str, list[tuple[int, int]]]],
) -> None:
    detail = OrderPlacedDetail.model_validate(
        {
            "merchant_id": "m",
            "order_id": "o",
            "currency": currency,
            "shipping_amount": shipping,
            "items": [
                {"item_id": f"i{n}", "sku": f"sku{n}", **line} for n, line in enumerate(lines)
            ],
            "payment": {
                "provider": "sandbox",
                "reference": "r",
                "authorized_amount": 10**12,
                "expires_at": "2099-01-01T00:00:00Z",
            },
        }
    )
    order = capture_rules.register_order(detail, NOW)
    total = order.total
    captured = []
    for number, (kind, picks) in enumerate(operations):
        wanted: dict[str, int] = {}
        for index, quantity in picks:
            line = order.lines[index % len(order.lines)]
            wanted[line.item_id] = min(line.open_quantity, wanted.get(line.item_id, 0) + quantity)
        items = [(item_id, q) for item_id, q in wanted.items() if q > 0]
        if kind == "cancel":
            if items:
                order = capture_rules.cancel_items(
                    order, [ItemQuantity(item_id=i, quantity=q) for i, q in items], NOW
                )
            continue
        if kind != "ship_all" and not items:
            continue
        order, amount = ship(
            order, f"s{number}", None if kind == "ship_all" else items, confirm=kind != "fail"
        )
        assert amount >= 0
        captured.append(amount)
        assert order.captured_amount + order.reserved_amount <= order.payment.authorized_amount
        assert order.captured_amount <= total - order.canceled_amount
    order, last = ship(order, "final")
    captured.append(last)
    if order.captured_amount or order.canceled_amount < total:
        # Every unit is now shipped or canceled: captures add up to the cent.
        assert sum(captured) == total - order.canceled_amount
    assert order.capturable_amount == 0
    assert all(line.open_quantity == 0 for line in order.lines)


def capture_amount(order: Order, shipment_id: str, amount: int) -> Order:
    """An API capture of ``amount`` (not tied to lines), planned, reserved and confirmed."""
    request = CaptureRequest(
        merchant_id=order.merchant_id,
        order_id=order.order_id,
        shipment_id=shipment_id,
        amount=amount,
        trigger="api",
    )
    plan = capture_rules.plan_capture(order, request, NOW)
    capture = Capture(
        capture_id=plan.capture_id,
        merchant_id=order.merchant_id,
        order_id=order.order_id,
        shipment_id=shipment_id,
        amount=plan.amount,
        currency=plan.currency,
        status=CaptureStatus.PENDING,
        provider="sandbox",
        trigger="api",
        created_at=NOW,
        updated_at=NOW,
    )
    return capture_rules.confirm(capture_rules.reserve(order, plan, NOW), capture, NOW)


@pytest.mark.parametrize(
    ("captured", "items"),
    [
        (EXAMPLE_ORDER_TOTAL, [("line-1", 3), ("line-2", 2)]),  # the whole order, every unit
        (9000, [("line-1", 3)]),  # line-1 is worth 6651; only 1171 is uncaptured
    ],
)
def test_defect_3_canceling_units_already_paid_by_an_amount_capture_is_refused(
    captured: int, items: list[tuple[str, int]]
) -> None:
    order = capture_amount(example_order(), "api-1", captured)
    with pytest.raises(InvalidStateError) as refused:
        capture_rules.cancel_items(
            order, [ItemQuantity(item_id=i, quantity=q) for i, q in items], NOW
        )
    assert refused.value.field == "items"
    assert all(repr(item_id) in refused.value.message for item_id, _ in items)
    assert f"only {EXAMPLE_ORDER_TOTAL - captured} of order" in refused.value.message


def test_defect_3_canceling_what_is_still_uncaptured_is_allowed() -> None:
    # line-2's first unit is worth 1250 + 263 of its tax: more than the 1171 left uncaptured
    order = capture_amount(example_order(), "api-1", 9000)
    with pytest.raises(InvalidStateError):
        capture_rules.cancel_items(order, [ItemQuantity(item_id="line-2", quantity=1)], NOW)
    # After a capture of 5000, all of line-2 (3025) is still uncaptured
    order = capture_amount(example_order(), "api-1", 5000)
    order = capture_rules.cancel_items(order, [ItemQuantity(item_id="line-2", quantity=2)], NOW)
    assert order.canceled_amount == 3025
    assert order.captured_amount <= order.total - order.canceled_amount
    assert order.capturable_amount == EXAMPLE_ORDER_TOTAL - 3025 - 5000


@settings(max_examples=300, deadline=None)
@given(
    operations=st.lists(
        st.one_of(
            st.tuples(st.just("amount"), st.integers(min_value=1, max_value=EXAMPLE_ORDER_TOTAL)),
            st.tuples(
                st.just("cancel"),
                st.tuples(st.sampled_from(["line-1", "line-2"]), st.integers(1, 3)),
            ),
            st.tuples(
                st.just("ship"), st.tuples(st.sampled_from(["line-1", "line-2"]), st.integers(1, 3))
            ),
        ),
        max_size=10,
    )
)
def test_defect_3_cancellations_never_take_captured_money(
    operations: list[tuple[str, object]],
) -> None:
    """Amount captures, item captures and cancellations in any order: a cancellation goes
    through exactly when what it takes is uncaptured, and captures never exceed what the
    order is worth (total - canceled), so nothing captured is left unaccounted for."""
    order = example_order()
    for number, (kind, argument) in enumerate(operations):
        if kind == "amount":
            assert isinstance(argument, int)
            amount = min(argument, order.capturable_amount)
            if amount > 0:
                order = capture_amount(order, f"a{number}", amount)
        else:
            assert isinstance(argument, tuple)
            item_id, quantity = argument
            line = order.line(item_id)
            assert line is not None
            quantity = min(quantity, line.open_quantity)
            if quantity == 0:
                continue
            if kind == "ship":
                order, _ = ship(order, f"s{number}", [(item_id, quantity)])
                continue
            before = order
            uncaptured = order.capturable_amount
            try:
                order = capture_rules.cancel_items(
                    order, [ItemQuantity(item_id=item_id, quantity=quantity)], NOW
                )
            except InvalidStateError:
                taken = (
                    capture_rules.cancel_items(
                        before.model_copy(update={"captured_amount": 0}),
                        [ItemQuantity(item_id=item_id, quantity=quantity)],
                        NOW,
                    ).canceled_amount
                    - before.canceled_amount
                )
                assert taken > uncaptured
                continue
            assert order.canceled_amount - before.canceled_amount <= uncaptured
        assert order.captured_amount + order.reserved_amount <= order.total - order.canceled_amount
        assert order.capturable_amount >= 0
    order, _ = ship(order, "final")
    assert order.captured_amount == order.total - order.canceled_amount
