"""Adyen's ``lineItems`` (issue 11): tax rates as Adyen reads them (``taxPercentage`` in
basis points), the items' own lines on refunds, and the items' names as descriptions."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from order_capture.adapters.adyen_lines import line_items
from order_capture.models import CaptureLine
from order_capture.ports import ProviderItem
from tests.unit.provider_adapters_support import (
    ADYEN_RECEIVED,
    adyen,
    capture_request,
    refund_of,
)
from tests.unit.provider_recorder import Recorder, json_body

#: Rates a merchant records: whole percents (21%), half percents (5.5%), quarter percents.
STEPS = (100, 50, 25)


def _taxed(net: int, rate: int, inclusive: bool) -> ProviderItem:
    """A line of ``net`` before tax at ``rate`` basis points, its tax rounded half up: on the
    net price (tax-exclusive prices) or out of the gross one (tax-inclusive prices)."""
    if inclusive:
        gross = net + (net * rate + 5_000) // 10_000
        tax = (gross * rate * 2 + (10_000 + rate)) // (2 * (10_000 + rate))
        return ProviderItem(sku="S", tax_amount=tax, amount_including_tax=gross)
    tax = (net * rate + 5_000) // 10_000
    return ProviderItem(sku="S", tax_amount=tax, amount_including_tax=net + tax)


def test_defect_11_adyen_tax_percentage_of_a_21_percent_line_is_2100() -> None:
    """8000 with tax, 1388 of it VAT: 21% of a gross price (8000 / 1.21 = 6611.57), not the
    2099 the rounded amounts give."""
    item = ProviderItem(sku="TSHIRT-M", tax_amount=1388, amount_including_tax=8000)

    assert item.tax_basis_points == 2100


@given(
    step=st.sampled_from(STEPS),
    multiple=st.integers(min_value=0, max_value=10_000 // 25),
    net=st.integers(min_value=1, max_value=10**12),
    inclusive=st.booleans(),
)
def test_defect_11_adyen_tax_percentage_recovers_exact_rates_from_rounded_amounts(
    step: int, multiple: int, net: int, inclusive: bool
) -> None:
    """A rate in whole ``step`` basis points comes back exactly from the rounded amounts when
    the line is worth at least 20000 / ``step`` minor units before tax (one rounding of up to
    one minor unit then cannot reach the next such rate)."""
    rate = min(step * multiple, 10_000)
    rate -= rate % step
    item = _taxed(max(net, 20_000 // step + 2), rate, inclusive)
    assert (item.amount_including_tax - item.tax_amount) * step >= 20_000

    assert item.tax_basis_points == rate


@given(
    tax=st.integers(min_value=0, max_value=10**9),
    net=st.integers(min_value=1, max_value=10**12),
)
def test_adyen_tax_percentage_is_within_one_minor_unit_of_the_tax(tax: int, net: int) -> None:
    """Whatever the amounts, the rate sent is one the tax could have been rounded from: zero
    only for no tax, and within one minor unit of the tax on the net price (or, for a line too
    large for any whole basis point to be that close, the nearest one, at least 1)."""
    item = ProviderItem(sku="S", tax_amount=tax, amount_including_tax=net + tax)

    rate = item.tax_basis_points
    assert (rate == 0) == (tax == 0)
    off = abs(net * rate - tax * 10_000)
    assert off < 10_000 or 2 * off <= net or rate == 1


# --- Refunds: the refunded items' own lines --------------------------------------------------

ITEMS = {  # 21% VAT on sku-1, none on sku-2 (the lines of capture_request)
    "sku-1": ProviderItem(sku="TSHIRT-M", tax_amount=1388, amount_including_tax=8000),
    "sku-2": ProviderItem(sku="MUG", amount_including_tax=2050),
}
CAPTURE = capture_request("993617894903480A", amount=10545, shipping_amount=495, items=ITEMS)


def _refund_lines(amount: int) -> list[dict[str, Any]]:
    recorder = Recorder().answer(201, ADYEN_RECEIVED)
    adyen(recorder).refund(refund_of(CAPTURE, amount))
    lines: list[dict[str, Any]] = json_body(recorder.last)["lineItems"]
    return lines


def _sum(lines: list[dict[str, Any]]) -> int:
    return sum(line["quantity"] * line["amountIncludingTax"] for line in lines)


def test_defect_11_adyen_refund_of_a_whole_capture_sends_its_items_lines() -> None:
    lines = _refund_lines(10545)

    assert lines == line_items(CAPTURE)
    assert {line["id"] for line in lines} == {"sku-1", "sku-2", "shipping"}


def test_defect_11_adyen_refund_of_one_captured_item_sends_that_items_lines() -> None:
    lines = _refund_lines(8000)

    assert {line["id"] for line in lines} == {"sku-1"}
    assert _sum(lines) == 8000
    assert all(line["taxPercentage"] == 2100 for line in lines)


@given(amount=st.integers(min_value=1, max_value=10545))
def test_adyen_refund_lines_add_up_to_the_refund_whatever_its_amount(amount: int) -> None:
    lines = _refund_lines(amount)

    assert _sum(lines) == amount
    assert all(line["amountExcludingTax"] + line["taxAmount"] == line["amountIncludingTax"]
               for line in lines)  # fmt: skip


def test_review_a_rounding_line_carries_what_adyens_steps_moved() -> None:
    # IDR has no decimals at Adyen (ISO: two), so every amount sent is in whole rupiahs: the
    # lines' values floor to a whole rupiah, and the capture, planned in Adyen's steps, took
    # the rest of the order's money. The difference is a line of its own, so the lines still
    # add up to the amount, as open-invoice methods require.
    request = capture_request("993617894903480A", amount=10400).model_copy(
        update={
            "currency": "IDR",
            "lines": [
                CaptureLine(item_id="sku-1", quantity=1, amount=6150),
                CaptureLine(item_id="sku-2", quantity=1, amount=4250),
            ],
        }
    )
    lines = line_items(request)
    assert [(line["id"], line["amountIncludingTax"]) for line in lines] == [
        ("sku-1", 61),
        ("sku-2", 42),
        ("rounding", 1),
    ]
    assert _sum(lines) == 104  # the amount, in Adyen's whole rupiahs
