"""Adyen refund ``lineItems`` over a capture's whole lifecycle (issue 11): each refund names the
lines (and shipping) no earlier refund of the capture took, so however a capture is refunded,
piece by piece, no line is ever shown refunded twice or for more than was captured."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from order_capture.adapters.adyen_lines import SHIPPING_LINE_ID, refund_line_items
from order_capture.models import CaptureLine
from order_capture.ports import ProviderRefundRequest

REFUND_LINE_ID = "refund"


def refund(
    lines: list[CaptureLine], shipping: int, amount: int, earlier: list[int]
) -> ProviderRefundRequest:
    capture_amount = sum(line.amount for line in lines) + shipping
    return ProviderRefundRequest(
        authorization_reference="psp-1", capture_reference="cap-1", amount=amount,
        currency="EUR", idempotency_key=f"r-{len(earlier)}", merchant_id="m", order_id="o",
        capture_amount=capture_amount, lines=lines, shipping_amount=shipping,
        earlier_refund_amounts=earlier,
    )  # fmt: skip


def worth(sent: list[dict[str, Any]]) -> Counter[str]:
    """What the lines sent refund of each line id."""
    total: Counter[str] = Counter()
    for line in sent:
        total[line["id"]] += line["quantity"] * line["amountIncludingTax"]
    return total


def test_defect_11_a_second_refund_of_one_lines_amount_does_not_refund_that_line_again() -> None:
    lines = [CaptureLine(item_id="a", quantity=1, amount=1000),
             CaptureLine(item_id="b", quantity=2, amount=4000)]  # fmt: skip
    first = refund_line_items(refund(lines, 0, 1000, []))
    second = refund_line_items(refund(lines, 0, 1000, [1000]))
    assert set(worth(first)) == {"a"}
    assert set(worth(second)) == {REFUND_LINE_ID}  # "a" is refunded already


def test_defect_11_the_rest_of_a_capture_refunded_after_one_line_sends_the_other_lines() -> None:
    lines = [CaptureLine(item_id="a", quantity=1, amount=1000),
             CaptureLine(item_id="b", quantity=2, amount=4000),
             CaptureLine(item_id="c", quantity=1, amount=4000)]  # fmt: skip
    rest = refund_line_items(refund(lines, 495, 8495, [1000]))
    assert worth(rest) == {"b": 4000, "c": 4000, SHIPPING_LINE_ID: 495}


@st.composite
def lifecycles(draw: st.DrawFn) -> tuple[list[CaptureLine], int, list[int]]:
    """A capture's lines and shipping, and refunds of it until nothing (or something) is left:
    each the amount of a line, the shipping's, all that is left, or any amount that fits."""
    amounts = draw(st.lists(st.integers(1, 5000), min_size=1, max_size=6))
    lines = [CaptureLine(item_id=f"i{n}", quantity=draw(st.integers(1, 3)), amount=amount)
             for n, amount in enumerate(amounts)]  # fmt: skip
    shipping = draw(st.sampled_from([0, 495, amounts[0]]))
    left = sum(amounts) + shipping
    refunds: list[int] = []
    for _ in range(draw(st.integers(1, 8))):
        if left <= 0:
            break
        named = [a for a in [*amounts, shipping] if 0 < a <= left]
        amount = draw(st.sampled_from([*named, left]) | st.integers(1, left))
        refunds.append(amount)
        left -= amount
    return lines, shipping, refunds


@given(lifecycle=lifecycles())
def test_defect_11_a_lifecycles_refunds_never_exceed_what_was_captured_per_line(
    lifecycle: tuple[list[CaptureLine], int, list[int]],
) -> None:
    lines, shipping, amounts = lifecycle
    captured = Counter({line.item_id: line.amount for line in lines})
    captured[SHIPPING_LINE_ID] = shipping
    refunded: Counter[str] = Counter()
    for position, amount in enumerate(amounts):
        sent = worth(refund_line_items(refund(lines, shipping, amount, amounts[:position])))
        assert sum(sent.values()) == amount  # each refund's lines add up to it
        refunded.update({name: value for name, value in sent.items() if name != REFUND_LINE_ID})
    for name, value in refunded.items():
        assert value <= captured[name], (name, value, captured[name])
