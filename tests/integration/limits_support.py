"""Inputs past every limit, each with the field its refusal must name: the event path
(test_input_limits) and the API (test_api_native) refuse the same ones."""

from __future__ import annotations

from typing import Any

from tests.factories import order_placed


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
