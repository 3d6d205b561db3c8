"""Whole order lifecycles planned in each provider's granularity, every currency of every
provider: they add up to the order's total in the provider's units and in ours."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from order_capture.adapters.adyen_lines import line_items
from order_capture.domain import capture_rules
from order_capture.models import (
    Capture,
    CaptureRequest,
    CaptureStatus,
    ItemQuantity,
    Order,
    OrderPlacedDetail,
)
from order_capture.provider_units import ADYEN, STRIPE, ProviderUnits
from tests.unit.provider_units_support import NOW, PROVIDERS, capture_request


def _provider_and_currency() -> st.SearchStrategy[tuple[ProviderUnits, str]]:
    return st.sampled_from(list(PROVIDERS.values())).flatmap(
        lambda units: st.tuples(st.just(units), st.sampled_from(sorted(units.currencies)))
    )


line_strategy = st.fixed_dictionaries(
    {
        "quantity": st.integers(min_value=1, max_value=6),
        "unit_amount": st.integers(min_value=0, max_value=50_000),
        "tax_amount": st.integers(min_value=0, max_value=9_999),
    }
)


operation = st.tuples(
    st.sampled_from(["ship", "cancel", "settle", "fail", "ship_all"]),
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=3), st.integers(min_value=1, max_value=6)),
        min_size=1,
        max_size=3,
    ),
)


def _reserve(
    order: Order, shipment: str, items: list[tuple[str, int]] | None
) -> tuple[Order, Capture]:
    """Plan and reserve one shipment: the capture is pending until confirmed or released."""
    request = CaptureRequest(
        merchant_id=order.merchant_id,
        order_id=order.order_id,
        shipment_id=shipment,
        items=None if items is None else [ItemQuantity(item_id=i, quantity=q) for i, q in items],
    )
    plan = capture_rules.plan_capture(order, request, NOW)
    capture = Capture(
        capture_id=plan.capture_id, merchant_id=order.merchant_id, order_id=order.order_id,
        shipment_id=shipment, amount=plan.amount, currency=plan.currency,
        status=CaptureStatus.PENDING, lines=plan.lines, shipping_amount=plan.shipping_amount,
        provider=order.payment.provider, trigger="event", created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    return capture_rules.reserve(order, plan, NOW), capture


def _check_sent(units: ProviderUnits, currency: str, capture: Capture) -> None:
    """A capture as sent: a whole number of the provider's steps; at Adyen, lineItems that add
    up to its amount."""
    assert capture.amount % units.granularity(currency) == 0
    if units is ADYEN and capture.amount:
        request = capture_request(
            currency, capture.amount, lines=capture.lines, shipping_amount=capture.shipping_amount
        )
        listed = line_items(request)
        assert sum(i["quantity"] * i["amountIncludingTax"] for i in listed) == (
            units.to_provider(capture.amount, currency)
        )


class Lifecycle:
    """One order through shipments that overlap (reserved, then confirmed or failed in any
    order) and cancellations."""

    def __init__(self, units: ProviderUnits, currency: str, order: Order) -> None:
        self.units, self.currency, self.order = units, currency, order
        self.captured: list[Capture] = []
        self.pending: list[Capture] = []

    def apply(self, number: int, kind: str, picks: list[tuple[int, int]]) -> None:
        wanted: dict[str, int] = {}
        for index, quantity in picks:
            line = self.order.lines[index % len(self.order.lines)]
            wanted[line.item_id] = min(line.open_quantity, wanted.get(line.item_id, 0) + quantity)
        items = [(i, q) for i, q in wanted.items() if q > 0]
        if kind == "cancel" and items:
            self.order = capture_rules.cancel_items(
                self.order, [ItemQuantity(item_id=i, quantity=q) for i, q in items], NOW
            )
            assert self.order.canceled_amount % self.units.granularity(self.currency) == 0
        elif kind in {"settle", "fail"} and self.pending:
            capture = self.pending.pop(picks[0][0] % len(self.pending))
            if kind == "fail":
                self.order = capture_rules.release(self.order, capture, NOW)
            else:
                self.confirm(capture)
        elif kind == "ship_all" or (kind == "ship" and items):
            self.ship(f"s{number}", None if kind == "ship_all" else items)

    def ship(self, shipment: str, items: list[tuple[str, int]] | None) -> None:
        self.order, capture = _reserve(self.order, shipment, items)
        _check_sent(self.units, self.currency, capture)
        self.pending.append(capture)

    def confirm(self, capture: Capture) -> None:
        self.order = capture_rules.confirm(self.order, capture, NOW)
        self.captured.append(capture)

    def finish(self) -> None:
        """Every pending capture confirmed, then whatever is still open shipped."""
        for capture in self.pending:
            self.confirm(capture)
        self.pending = []
        if any(line.open_quantity for line in self.order.lines):
            self.ship("last", None)
            self.confirm(self.pending.pop())


def _register(
    units: ProviderUnits, currency: str, lines: list[dict[str, int]], shipping: int
) -> Order:
    """An order of ``lines`` whose total the provider can take (shipping made up to a step)."""
    step = units.granularity(currency)
    subtotal = sum(line["quantity"] * line["unit_amount"] + line["tax_amount"] for line in lines)
    items = [{"item_id": f"i{n}", "sku": f"S{n}", **line} for n, line in enumerate(lines)]
    shipping += -(subtotal + shipping) % step
    return capture_rules.register_order(
        OrderPlacedDetail.model_validate(
            {
                "merchant_id": "m", "order_id": "o", "currency": currency, "items": items,
                "shipping_amount": shipping,
                "payment": {"provider": units.provider, "reference": "r",
                            "authorized_amount": 10**12, "expires_at": "2099-01-01T00:00:00Z"},
            }
        ),
        NOW,
    )  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    chosen=_provider_and_currency(),
    lines=st.lists(line_strategy, min_size=1, max_size=4),
    shipping=st.integers(min_value=0, max_value=5_000),
    operations=st.lists(operation, max_size=8),
)
def test_defect_11_every_lifecycle_adds_up_in_the_providers_units_and_ours(
    chosen: tuple[ProviderUnits, str],
    lines: list[dict[str, int]],
    shipping: int,
    operations: list[tuple[str, list[tuple[int, int]]]],
) -> None:
    units, currency = chosen
    lifecycle = Lifecycle(units, currency, _register(units, currency, lines, shipping))
    total = lifecycle.order.total
    for number, (kind, picks) in enumerate(operations):
        lifecycle.apply(number, kind, picks)
    lifecycle.finish()
    order = lifecycle.order
    assert order.capturable_amount == 0
    captured = sum(c.amount for c in lifecycle.captured)
    assert captured + order.canceled_amount == total
    in_provider = sum(units.to_provider(c.amount, currency) for c in lifecycle.captured)
    assert in_provider == units.to_provider(captured, currency)
    assert in_provider + units.to_provider(order.canceled_amount, currency) == (
        units.to_provider(total, currency)
    )


def test_shipping_of_a_failed_capture_whose_units_are_canceled_is_not_stranded() -> None:
    """The first shipment claims the shipping and fails after a second took the other unit;
    canceling the first's unit then leaves nothing to ship: the shipping is canceled with it,
    not left capturable for ever."""
    lifecycle = Lifecycle(
        ADYEN,
        "EUR",
        _register(ADYEN, "EUR", [{"quantity": 2, "unit_amount": 100, "tax_amount": 0}], 50),
    )
    lifecycle.ship("a", [("i0", 1)])  # claims the shipping
    lifecycle.ship("b", [("i0", 1)])
    first = lifecycle.pending.pop(0)
    lifecycle.order = capture_rules.release(lifecycle.order, first, NOW)
    lifecycle.confirm(lifecycle.pending.pop())
    lifecycle.order = capture_rules.cancel_items(
        lifecycle.order, [ItemQuantity(item_id="i0", quantity=1)], NOW
    )
    assert lifecycle.order.capturable_amount == 0
    assert lifecycle.order.shipping_canceled
    assert lifecycle.order.captured_amount + lifecycle.order.canceled_amount == 250


def test_canceled_shipping_is_not_claimed_by_units_a_failed_capture_gives_back() -> None:
    """Shipping canceled while a capture still held units: when that capture fails, its units
    ship again without the shipping, and the order still adds up to its total."""
    lifecycle = Lifecycle(
        ADYEN,
        "EUR",
        _register(ADYEN, "EUR", [{"quantity": 2, "unit_amount": 100, "tax_amount": 0}], 50),
    )
    lifecycle.ship("a", [("i0", 1)])  # claims the shipping
    lifecycle.ship("b", [("i0", 1)])
    first, second = lifecycle.pending
    lifecycle.pending = []
    lifecycle.order = capture_rules.release(lifecycle.order, first, NOW)
    lifecycle.order = capture_rules.cancel_items(
        lifecycle.order, [ItemQuantity(item_id="i0", quantity=1)], NOW
    )
    assert lifecycle.order.shipping_canceled
    lifecycle.order = capture_rules.release(lifecycle.order, second, NOW)
    lifecycle.ship("c", [("i0", 1)])
    third = lifecycle.pending.pop()
    assert third.shipping_amount == 0
    lifecycle.confirm(third)
    assert lifecycle.order.capturable_amount == 0
    assert lifecycle.order.captured_amount + lifecycle.order.canceled_amount == 250


def test_defect_11_a_capture_released_out_of_order_leaves_no_rounding_behind() -> None:
    """KWD at Stripe (steps of 10 fils): a shipment that fails after a later one was planned
    gives back exactly what it moved, so canceling the rest is not refused for money the
    rounding moved."""
    lines = [{"quantity": 1, "unit_amount": amount, "tax_amount": 0} for amount in (1, 1, 5)]
    lifecycle = Lifecycle(STRIPE, "KWD", _register(STRIPE, "KWD", lines, 0))
    lifecycle.ship("a", [("i0", 1)])
    lifecycle.ship("b", [("i1", 1)])
    first, second = lifecycle.pending
    lifecycle.order = capture_rules.release(lifecycle.order, first, NOW)
    lifecycle.pending = []
    lifecycle.confirm(second)
    order = capture_rules.cancel_items(
        lifecycle.order,
        [ItemQuantity(item_id="i0", quantity=1), ItemQuantity(item_id="i2", quantity=1)],
        NOW,
    )
    assert order.captured_amount + order.canceled_amount == order.total
    assert order.canceled_amount % 10 == 0
