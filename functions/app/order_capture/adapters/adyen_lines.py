"""Adyen's ``lineItems`` of a capture or a refund, adding up to its amount exactly (Klarna and
the other open-invoice methods refuse lines that do not), in Adyen's units of the currency."""

from __future__ import annotations

from typing import Any

from order_capture.models import CaptureLine
from order_capture.ports import ProviderCaptureRequest, ProviderItem, ProviderRefundRequest
from order_capture.provider_units import ADYEN

#: Ids of the lines that make the items add up to the amount (Adyen requires the sum).
SHIPPING_LINE_ID = "shipping"
ROUNDING_LINE_ID = "rounding"


def line_items(request: ProviderCaptureRequest) -> list[dict[str, Any]]:
    """The capture's ``lineItems``, adding up to its amount exactly, as open-invoice methods
    (Klarna and others) require: each item line with its true quantity (a total that does not
    split evenly over its units becomes two lines, of the lower and of the higher unit amount),
    its product's name (else its sku) as description and its tax (``taxAmount``,
    ``amountExcludingTax``, ``taxPercentage``, per unit); the order's shipping when this
    capture claims it; and a rounding line for what the provider's granularity moved (see
    ``capture_rules.in_provider_steps``)."""
    if not request.lines and not request.shipping_amount:
        return []  # a capture by amount (the API's): nothing to itemize
    return _itemized(
        request.amount, request.currency, request.lines, request.shipping_amount, request.items
    )


def _itemized(
    amount: int,
    currency: str,
    lines: list[CaptureLine],
    shipping_amount: int,
    known_items: dict[str, ProviderItem],
) -> list[dict[str, Any]]:
    step = ADYEN.granularity(currency)
    items: list[dict[str, Any]] = []
    for line in lines:
        known = known_items.get(line.item_id) or ProviderItem(sku=line.item_id)
        total = _floor_value(line.amount, step, currency)
        items.extend(_unit_lines(line.item_id, known.description, line.quantity, total, known))
    if shipping_amount:
        shipping = _floor_value(shipping_amount, step, currency)
        items.extend(_unit_lines(SHIPPING_LINE_ID, "Shipping", 1, shipping))
    listed = sum(item["quantity"] * item["amountIncludingTax"] for item in items)
    rounding = ADYEN.to_provider(amount, currency) - listed
    if rounding:
        items.extend(_unit_lines(ROUNDING_LINE_ID, "Rounding", 1, rounding))
    return items


def refund_line_items(request: ProviderRefundRequest) -> list[dict[str, Any]]:
    """A refund's ``lineItems``, adding up to its amount exactly (open-invoice methods refuse a
    partial refund without lines, or whose lines do not add up). Refunds here are by amount, so
    the refunded items are those the amount names without doubt, among the capture's lines
    (and shipping) no earlier refund took (``RefundedLines``): everything still left, for a
    refund of all the capture has left while every earlier refund took whole lines; else the
    one line left (or the shipping) of exactly that amount. Any other amount cannot be told
    apart from a partial refund of several items: one ``Refund`` line of that amount. So no
    line is ever shown refunded twice, nor more of it than was captured."""
    currency = request.currency
    if request.lines or request.shipping_amount:
        left = RefundedLines.after(request)
        lines, shipping = left.named_by(request.amount)
        if lines or shipping:
            return _itemized(request.amount, currency, lines, shipping, request.items)
    return _unit_lines("refund", "Refund", 1, ADYEN.to_provider(request.amount, currency))


class RefundedLines:
    """Which of a capture's lines (by position) and whether its shipping earlier refunds took,
    replayed from their amounts oldest first with the rule each was sent with."""

    def __init__(self, request: ProviderRefundRequest) -> None:
        self.lines = request.lines
        self.shipping_amount = request.shipping_amount
        self.money_left = request.capture_amount
        self.lines_left = set(range(len(request.lines)))
        self.shipping_left = request.shipping_amount > 0
        #: An earlier refund took no line: the lines left are no longer all the money left.
        self.unnamed = False

    @classmethod
    def after(cls, request: ProviderRefundRequest) -> RefundedLines:
        replay = cls(request)
        for amount in request.earlier_refund_amounts:
            replay.take(amount)
        return replay

    def named_by(self, amount: int) -> tuple[list[CaptureLine], int]:
        """The lines and shipping a refund of ``amount`` names now (none: it names no line)."""
        positions, shipping = self._named(amount)
        return [self.lines[i] for i in positions], self.shipping_amount if shipping else 0

    def _named(self, amount: int) -> tuple[list[int], bool]:
        if amount == self.money_left and not self.unnamed:
            return sorted(self.lines_left), self.shipping_left
        same = [i for i in sorted(self.lines_left) if self.lines[i].amount == amount]
        shipping = self.shipping_left and self.shipping_amount == amount
        if len(same) + shipping == 1:
            return same, shipping
        return [], False

    def take(self, amount: int) -> None:
        positions, shipping = self._named(amount)
        self.unnamed = self.unnamed or not (positions or shipping)
        self.lines_left -= set(positions)
        self.shipping_left = self.shipping_left and not shipping
        self.money_left -= amount


def _floor_value(amount: int, step: int, currency: str) -> int:
    """``amount`` in Adyen's units, down to a whole step (the rest goes to the rounding line)."""
    return ADYEN.to_provider(amount - amount % step, currency)


def _unit_lines(
    item_id: str, description: str, quantity: int, total: int, item: ProviderItem | None = None
) -> list[dict[str, Any]]:
    """Lines of ``quantity`` units worth ``total`` (Adyen's amounts are per unit), each unit's
    tax its share at the item's rate."""
    if quantity <= 0:
        return []
    unit, extra = divmod(total, quantity)
    lines = []
    for units, including in ((quantity - extra, unit), (extra, unit + 1)):
        if not units:
            continue
        tax = 0
        if item is not None and item.amount_including_tax > 0:
            share = including * item.tax_amount
            tax = (2 * share + item.amount_including_tax) // (2 * item.amount_including_tax)
        lines.append(
            {
                "id": item_id,
                "description": description,
                "quantity": units,
                "amountIncludingTax": including,
                "amountExcludingTax": including - tax,
                "taxAmount": tax,
                "taxPercentage": item.tax_basis_points if item is not None else 0,
            }
        )
    return lines
