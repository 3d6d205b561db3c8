"""The capture rules: pure functions from ledger state to ledger state. No I/O here.

How a line's value is spread over its units
    A line of ``n`` units is worth ``n x unit_amount - discount + tax``. Its discount and its tax
    are each spread over the units with the largest-remainder method, so the first ``k`` units
    are worth ``V(k) = k x unit_amount - share(discount, k) + share(tax, k)`` (see
    :func:`money.cumulative_unit_share`) and ``V(n)`` is the line total to the cent.

How a shipment is valued
    Each line remembers how many units are closed (shipped or canceled) and the value those
    units claimed (``closed_value``). Shipping (or canceling) ``q`` more units claims
    ``V(closed + q) - closed_value``. The claims telescope, so whatever order shipments,
    cancellations and released (failed) captures come in, the claims of a line add up to its
    total exactly, and the shipment that closes the last unit claims exactly what remains.
    ``shipping_amount`` is claimed by the order's first capture of items.

How a claim becomes money at a provider with a granularity
    Some providers take a currency only in steps coarser than its minor unit (Stripe: KWD in
    multiples of 10 fils; Adyen: IDR in whole rupiah; see :mod:`provider_units`). The order
    keeps ``step_rounding``: what its item claims moved beyond (or short of) their value, so
    the money they hold is ``C + step_rounding``, ``C`` being the value claimed so far. A claim
    then moves ``R(C + claim) - (C + step_rounding)``, ``R`` rounding to the nearest step: a
    whole number of steps that brings the money held to the rounded value claimed. A released
    capture gives back its money and its value, so the next claim corrects for it, and since an
    order is registered only when its total is a whole number of steps, the last claim ends
    exactly on the total. With a step of 1 the amount is the claim.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from order_capture.errors import (
    AuthorizationExpiredError,
    InvalidEventError,
    InvalidStateError,
    OrderConflictError,
    OverCaptureError,
    SingleCaptureOrderError,
)
from order_capture.models import (
    Authorization,
    Capture,
    CaptureLine,
    CapturePlan,
    CaptureRequest,
    ItemQuantity,
    Order,
    OrderLine,
    OrderPlacedDetail,
    ShopReferences,
)
from order_capture.money import cumulative_unit_share
from order_capture.provider_units import check_order_amounts, units_for


def value_of_first_units(line: OrderLine, units: int) -> int:
    """``V(units)``: what the first ``units`` units of ``line`` are worth."""
    return (
        units * line.unit_amount
        - cumulative_unit_share(line.discount_amount, line.quantity, units)
        + cumulative_unit_share(line.tax_amount, line.quantity, units)
    )


def claim_value(line: OrderLine, quantity: int) -> int:
    """The value that closing ``quantity`` more units of ``line`` claims."""
    closed_units = line.shipped_quantity + line.canceled_quantity
    # Never negative: V is non-decreasing and closed_value never exceeds V(closed_units) by
    # more than released claims left behind; a zero claim leaves the difference to later units.
    return max(0, value_of_first_units(line, closed_units + quantity) - line.closed_value)


# --- Registering and canceling ------------------------------------------------------------------


def register_order(detail: OrderPlacedDetail, now: datetime) -> Order:
    """A new order from an `Order Placed` event; refused (naming the field) when its provider
    cannot take its currency, total or authorization."""
    order = Order(
        **detail.model_dump(include=set(ShopReferences.model_fields)),
        metadata_json=None if detail.metadata is None else json.dumps(detail.metadata),
        merchant_id=detail.merchant_id,
        order_id=detail.order_id,
        currency=detail.currency,
        lines=[OrderLine(**item.model_dump()) for item in detail.items],
        shipping_amount=detail.shipping_amount,
        payment=Authorization(**detail.payment.model_dump()),
        created_at=now,
        updated_at=now,
    )
    check_order_amounts(
        order.payment.provider, order.currency, order.total, order.payment.authorized_amount
    )
    return order


def registration_difference(existing: Order, detail: OrderPlacedDetail) -> str | None:
    """The first field in which ``detail`` registers something other than ``existing``
    (``items``, ``payment.authorized_amount``...), or None for the same order (a redelivered
    `Order Placed`)."""
    fresh = register_order(detail, existing.created_at)
    fresh_payment, existing_payment = fresh.payment.model_dump(), existing.payment.model_dump()
    fields: list[tuple[str, object, object]] = [
        ("items", fresh.lines, [_definition(line) for line in existing.lines]),
        ("shipping_amount", fresh.shipping_amount, existing.shipping_amount),
        ("currency", fresh.currency, existing.currency),
        *(
            (f"payment.{name}", fresh_payment[name], existing_payment[name])
            for name in Authorization.model_fields
        ),
        *(
            (name, getattr(fresh, name), getattr(existing, name))
            for name in ShopReferences.model_fields
        ),
        ("metadata", fresh.metadata, existing.metadata),
    ]
    return next((name for name, new, old in fields if new != old), None)


def ensure_same_registration(existing: Order, detail: OrderPlacedDetail) -> None:
    field = registration_difference(existing, detail)
    if field is not None:
        raise OrderConflictError(
            f"{field}: order {detail.order_id} is already registered with another {field}; "
            "an order's registration cannot be changed",
            field=field,
        )


def _definition(line: OrderLine) -> OrderLine:
    return line.model_copy(
        update={"shipped_quantity": 0, "canceled_quantity": 0, "closed_value": 0}
    )


def resolve_lines(order: Order, items: Iterable[ItemQuantity]) -> list[tuple[int, int]]:
    """(line index, quantity) for ``items``; errors name the item and say why."""
    index_of = {line.item_id: index for index, line in enumerate(order.lines)}
    resolved = []
    for position, item in enumerate(items):
        index = index_of.get(item.item_id)
        if index is None:
            raise InvalidEventError(
                f"items[{position}].item_id: {item.item_id!r} is not a line of order "
                f"{order.order_id}",
                field=f"items[{position}].item_id",
            )
        open_quantity = order.lines[index].open_quantity
        if item.quantity > open_quantity:
            raise InvalidStateError(
                f"items[{position}].quantity: {item.quantity} units of {item.item_id!r} "
                f"requested but only {open_quantity} are neither shipped nor canceled",
                field=f"items[{position}].quantity",
            )
        resolved.append((index, item.quantity))
    return resolved


def cancel_items(order: Order, items: list[ItemQuantity], now: datetime) -> Order:
    """Cancel units that are neither shipped nor canceled; their value leaves the order.

    A cancellation never takes money already captured (or being captured): captures by
    amount are not tied to lines, so units still open may already be paid for. If what the
    units are worth is more than the order has uncaptured, the cancellation is refused
    (InvalidStateError naming the units) and nothing changes; money captured is given back by
    a refund of a capture, not by a cancellation. So captures never exceed the order's total
    less canceled, and the last shipment captures exactly what remains.
    """
    resolved = resolve_lines(order, items)
    lines = list(order.lines)
    canceled_value = 0
    for index, quantity in resolved:
        line = lines[index]
        value = claim_value(line, quantity)
        canceled_value += value
        lines[index] = line.model_copy(
            update={
                "canceled_quantity": line.canceled_quantity + quantity,
                "closed_value": line.closed_value + value,
            }
        )
    nothing_left_to_ship = all(
        line.shipped_quantity + line.canceled_quantity == line.quantity for line in lines
    )
    # Once no unit is left to ship, no shipment can claim the shipping any more: unless a
    # capture holds it, it is canceled too (an order whose every unit is canceled, or one whose
    # capture of the shipping failed while a later shipment took the other units).
    shipping_canceled = nothing_left_to_ship and not order.shipping_claimed
    if shipping_canceled and not order.shipping_canceled:
        canceled_value += order.shipping_amount
    claimed = canceled_value
    canceled_value = max(0, in_provider_steps(order, claimed))
    _check_cancellation_leaves_captures_covered(order, resolved, canceled_value)
    return order.model_copy(
        update={
            "lines": lines,
            "canceled_amount": order.canceled_amount + canceled_value,
            "shipping_canceled": order.shipping_canceled or shipping_canceled,
            "step_rounding": order.step_rounding + canceled_value - claimed,
            "version": order.version + 1,
            "updated_at": now,
        }
    )


def _check_cancellation_leaves_captures_covered(
    order: Order, resolved: list[tuple[int, int]], canceled_value: int
) -> None:
    uncaptured = order.capturable_amount
    if canceled_value <= uncaptured:
        return
    units = ", ".join(
        f"{quantity} x {order.lines[index].item_id!r}" for index, quantity in resolved
    )
    taken = order.captured_amount + order.reserved_amount
    raise InvalidStateError(
        f"items: canceling {units} takes {canceled_value}, but only {uncaptured} of order "
        f"{order.order_id} is uncaptured ({taken} is captured or being captured): "
        "nothing was canceled; give captured money back with a refund of the capture",
        field="items",
    )


# --- Planning a capture -----------------------------------------------------------------------


def claimed_value(order: Order) -> int:
    """``C``: the value the order's closed units and its claimed or canceled shipping hold."""
    shipping = order.shipping_amount if order.shipping_claimed or order.shipping_canceled else 0
    return sum(line.closed_value for line in order.lines) + shipping


def in_provider_steps(order: Order, claim: int) -> int:
    """The money that claiming ``claim`` more of ``order``'s value moves at its provider:
    ``R(C + claim) - (C + step_rounding)`` (see the module docstring); ``claim`` itself for
    a step of 1."""
    step = units_for(order.payment.provider).granularity(order.currency)
    before = claimed_value(order)
    return _nearest_step(before + claim, step) - before - order.step_rounding


def _value_of(lines: list[CaptureLine], shipping_amount: int) -> int:
    return sum(line.amount for line in lines) + shipping_amount


def _nearest_step(value: int, step: int) -> int:
    """``value`` rounded to the nearest multiple of ``step``, halves up."""
    return (value + step // 2) // step * step


def plan_capture(order: Order, request: CaptureRequest, now: datetime) -> CapturePlan:
    """What ``request`` captures from ``order`` as it is now, or why it cannot."""
    capturable = order.capturable_amount
    if request.amount is not None:
        units_for(order.payment.provider).check(request.amount, order.currency)
        lines: list[CaptureLine] = []
        shipping_amount = 0
        amount = request.amount
        is_final = False
    else:
        lines, shipping_amount = _claims_for_items(order, request.items)
        is_final = bool(lines) and _closes_every_unit(order, lines)
        value = in_provider_steps(order, _value_of(lines, shipping_amount))
        # The shipment closing the last unit captures exactly what remains; earlier ones never
        # more than remains (amount captures through the API may have taken some already).
        amount = max(0, capturable if is_final else min(value, capturable))
    # Units worth nothing left to capture still ship once the authorization expired: their
    # capture of 0 asks the provider nothing (below). Money needs a living authorization.
    if now >= order.payment.expires_at and (amount > 0 or request.amount is not None):
        raise AuthorizationExpiredError(
            f"the authorization of order {order.order_id} expired at "
            f"{order.payment.expires_at.isoformat()}"
        )
    _check_limits(order, amount, capturable)
    _check_single_capture(order, amount, capturable)
    closes = _leaves_nothing(order, amount)
    return CapturePlan(
        capture_id=request.capture_id,
        amount=amount,
        currency=order.currency,
        provider=order.payment.provider,
        lines=lines,
        shipping_amount=shipping_amount,
        expected_version=order.version,
        is_final=is_final,
        # Letting the provider release the rest of the authorization is only safe when no
        # other capture of the order is still in flight (it would then be refused).
        releases_authorization=closes and order.reserved_amount == 0,
        # With another capture in flight, whichever of them is confirmed last may finish the
        # order: neither knows which now, so both read the order once confirmed.
        may_finish_order=order.reserved_amount > 0 and amount > 0,
        # Units worth nothing left to capture (a free gift, a line below the provider's step,
        # units whose money amount captures already took) still ship: a capture of 0 records
        # them, asking the provider nothing (service.captures_nothing). Only a shipment with
        # no unit left to ship has nothing to capture.
        nothing_to_capture=amount == 0 and not lines,
    )


def _leaves_nothing(order: Order, amount: int) -> bool:
    """Whether capturing ``amount`` leaves the order nothing more to capture: it takes all that
    is capturable (the last unit shipped, or the rest captured by amount through the API), or
    all the authorization has left."""
    authorized_left = order.payment.authorized_amount - order.captured_amount
    authorized_left -= order.reserved_amount
    return amount > 0 and (amount >= order.capturable_amount or amount >= authorized_left)


def _claims_for_items(
    order: Order, items: list[ItemQuantity] | None
) -> tuple[list[CaptureLine], int]:
    if items is None:
        items = [
            ItemQuantity(item_id=line.item_id, quantity=line.open_quantity)
            for line in order.lines
            if line.open_quantity > 0
        ]
    claims = [
        CaptureLine(
            item_id=order.lines[index].item_id,
            quantity=quantity,
            amount=claim_value(order.lines[index], quantity),
        )
        for index, quantity in resolve_lines(order, items)
    ]
    # Canceled shipping stays canceled: units given back by a failed capture after it was
    # canceled ship without it.
    claimable = not order.shipping_claimed and not order.shipping_canceled
    shipping = order.shipping_amount if claims and claimable else 0
    return claims, shipping


def _closes_every_unit(order: Order, claims: list[CaptureLine]) -> bool:
    shipped_now = {claim.item_id: claim.quantity for claim in claims}
    return all(line.open_quantity == shipped_now.get(line.item_id, 0) for line in order.lines)


def _check_single_capture(order: Order, amount: int, capturable: int) -> None:
    """An authorization that takes one capture (``payment.single_capture``) is captured once,
    for everything that remains; any other capture is refused before anything is sent."""
    # After that one capture nothing remains: a second is an over-capture (_check_limits).
    if order.payment.single_capture and 0 < amount != capturable:
        raise SingleCaptureOrderError(
            f"payment.single_capture: order {order.order_id}'s authorization takes a single "
            f"capture, of everything that remains ({capturable}); this one would capture "
            f"{amount}: ship (or cancel) the rest of the order together",
            field="payment.single_capture",
        )


def _check_limits(order: Order, amount: int, capturable: int) -> None:
    if amount > capturable:
        raise OverCaptureError(
            f"amount: {amount} exceeds the {capturable} still capturable on order {order.order_id}",
            field="amount",
        )
    already = order.captured_amount + order.reserved_amount
    if already + amount > order.payment.authorized_amount:
        raise OverCaptureError(
            f"amount: capturing {amount} would bring captures to {already + amount}, over the "
            f"authorized {order.payment.authorized_amount}",
            field="amount",
        )


# --- Reserving, confirming, releasing -------------------------------------------------------


def reserve(order: Order, plan: CapturePlan, now: datetime) -> Order:
    """``order`` with ``plan``'s units and amount reserved (before the provider is called)."""
    lines = list(order.lines)
    index_of = {line.item_id: index for index, line in enumerate(lines)}
    for claim in plan.lines:
        line = lines[index_of[claim.item_id]]
        lines[index_of[claim.item_id]] = line.model_copy(
            update={
                "shipped_quantity": line.shipped_quantity + claim.quantity,
                "closed_value": line.closed_value + claim.amount,
            }
        )
    return order.model_copy(
        update={
            "lines": lines,
            "reserved_amount": order.reserved_amount + plan.amount,
            "step_rounding": order.step_rounding + _rounding_of(plan.amount, plan),
            "shipping_claimed": order.shipping_claimed or plan.shipping_amount > 0,
            "version": order.version + 1,
            "updated_at": now,
        }
    )


def _rounding_of(amount: int, claim: CapturePlan | Capture) -> int:
    """What a capture of items moved beyond their value (captures by amount claim no value)."""
    if not claim.lines and not claim.shipping_amount:
        return 0
    return amount - _value_of(claim.lines, claim.shipping_amount)


def release(order: Order, capture: Capture, now: datetime) -> Order:
    """``order`` with a failed capture's reservation given back: its units ship again later."""
    lines = list(order.lines)
    index_of = {line.item_id: index for index, line in enumerate(lines)}
    for claim in capture.lines:
        line = lines[index_of[claim.item_id]]
        lines[index_of[claim.item_id]] = line.model_copy(
            update={
                "shipped_quantity": line.shipped_quantity - claim.quantity,
                "closed_value": line.closed_value - claim.amount,
            }
        )
    return order.model_copy(
        update={
            "lines": lines,
            "reserved_amount": order.reserved_amount - capture.amount,
            "step_rounding": order.step_rounding - _rounding_of(capture.amount, capture),
            "shipping_claimed": order.shipping_claimed and capture.shipping_amount == 0,
            "version": order.version + 1,
            "updated_at": now,
        }
    )


def reverse(order: Order, capture: Capture, now: datetime) -> Order:
    """``order`` once the provider reports that a capture it had confirmed failed after all
    (Adyen's ``CAPTURE_FAILED`` after ``CAPTURE``): the money was not captured, and its units
    are capturable again, like a released reservation."""
    released = release(order, capture, now)
    return released.model_copy(
        update={
            "reserved_amount": order.reserved_amount,
            "captured_amount": order.captured_amount - capture.amount,
            "capture_count": order.capture_count - 1,
        }
    )


def confirm(order: Order, capture: Capture, now: datetime) -> Order:
    """``order`` once the provider captured ``capture``: reserved money becomes captured."""
    return order.model_copy(
        update={
            "reserved_amount": order.reserved_amount - capture.amount,
            "captured_amount": order.captured_amount + capture.amount,
            "capture_count": order.capture_count + 1,
            "version": order.version + 1,
            "updated_at": now,
        }
    )
