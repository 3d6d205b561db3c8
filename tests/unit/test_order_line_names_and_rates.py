"""An order line's product name and tax rate (issue 11): optional at registration, refused
with the field named when past their limits, kept in the ledger, and sent to Adyen as the
line's ``description`` (the sku where no name was given) and its exact ``taxPercentage``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from order_capture.adapters.adyen_lines import line_items
from order_capture.adapters.dynamodb import layout
from order_capture.api.medusa_order import medusa_order
from order_capture.api.native import order_out
from order_capture.domain.capture_rules import register_order
from order_capture.domain.service import provider_items
from order_capture.models import (
    MAX_ID_LENGTH,
    MAX_ORDER_LINES,
    Capture,
    CaptureLine,
    OrderLineIn,
    OrderPlacedDetail,
)
from order_capture.models.events import NAME_OVERHEAD_BYTES, TAX_RATE_BYTES
from order_capture.ports import ProviderItem
from order_capture_local.bench.sizes import dynamodb_item_size
from tests.factories import order_placed
from tests.support import FixedClock
from tests.unit.provider_adapters_support import capture_request


def line(**fields: Any) -> dict[str, Any]:
    return {"item_id": "line-1", "sku": "TSHIRT-BLUE-M", "quantity": 3, "unit_amount": 1999,
            "discount_amount": 500, "tax_amount": 1154} | fields  # fmt: skip


def refusal(**fields: Any) -> tuple[tuple[Any, ...], str]:
    """Where and why ``OrderPlacedDetail`` refuses the example order with its first line
    changed by ``fields``."""
    detail = order_placed()["detail"]
    detail["items"][0] = line(**fields)
    with pytest.raises(ValidationError) as refused:
        OrderPlacedDetail.model_validate(detail)
    (error,) = refused.value.errors()
    return error["loc"], error["msg"]


# --- Names ----------------------------------------------------------------------------------


def test_defect_11_adyen_line_description_is_the_product_name_else_the_sku() -> None:
    request = capture_request("psp-1").model_copy(
        update={
            "items": {
                "sku-1": ProviderItem(sku="TSHIRT-BLUE-M", name="Camiseta azul, talla M"),
                "sku-2": ProviderItem(sku="MUG-LOGO"),
            }
        }
    )
    described = {item["id"]: item["description"] for item in line_items(request)}
    assert described == {"sku-1": "Camiseta azul, talla M", "sku-2": "MUG-LOGO"}


def test_defect_11_a_registered_name_and_rate_reach_the_providers_items() -> None:
    detail = order_placed()["detail"]
    detail["items"][0] |= {"name": "Camiseta azul", "tax_rate": 2100}
    registered = register_order(OrderPlacedDetail.model_validate(detail), FixedClock().now())
    # provider_items reads only the capture's lines
    shipped: dict[str, Any] = {"lines": [CaptureLine(item_id="line-1", quantity=1, amount=1)]}
    capture = Capture.model_construct(**shipped)
    (item,) = provider_items(registered, capture).values()
    assert (item.name, item.tax_rate, item.description) == ("Camiseta azul", 2100, "Camiseta azul")


def test_defect_11_a_name_past_its_limit_is_refused_naming_the_field() -> None:
    euro_signs = "€" * (MAX_ID_LENGTH // 3 + 1)  # 3 bytes each in UTF-8: one past the limit
    loc, message = refusal(name=euro_signs)
    assert loc == ("items", 0, "name")
    assert f"at most {MAX_ID_LENGTH} bytes" in message
    assert refusal(name="")[0] == ("items", 0, "name")
    assert OrderLineIn.model_validate(line(name="€" * (MAX_ID_LENGTH // 3))).name is not None


# --- Tax rates ------------------------------------------------------------------------------


def test_defect_11_a_recorded_5_5_percent_rate_is_sent_exactly_where_amounts_say_6() -> None:
    """1.80 before tax at 5.5% is 0.10 of tax: the amounts alone read 6% (10 of 180 is 5.6%),
    the recorded rate is sent as it is."""
    derived = ProviderItem(sku="S", tax_amount=10, amount_including_tax=190)
    recorded = derived.model_copy(update={"tax_rate": 550})
    assert derived.tax_basis_points != 550
    request = capture_request("psp-1", amount=190).model_copy(
        update={
            "lines": [CaptureLine(item_id="s", quantity=1, amount=190)],
            "items": {"s": recorded},
        }
    )
    (sent,) = line_items(request)
    assert (sent["taxPercentage"], sent["taxAmount"], sent["amountIncludingTax"]) == (550, 10, 190)


@given(
    rate=st.integers(min_value=0, max_value=10_000),
    quantity=st.integers(min_value=1, max_value=50),
    unit=st.integers(min_value=1, max_value=10**7),
    per_unit=st.booleans(),
)
def test_defect_11_a_rate_consistent_with_the_tax_is_registered_and_sent_exactly(
    rate: int, quantity: int, unit: int, per_unit: bool
) -> None:
    """Whether the shop rounds the line's tax once or each unit's, the rate is accepted and
    Adyen is sent exactly that rate on every line of the item."""
    if per_unit:
        tax = quantity * ((unit * rate + 5_000) // 10_000)
    else:
        tax = (quantity * unit * rate + 5_000) // 10_000
    registered = OrderLineIn.model_validate(
        line(quantity=quantity, unit_amount=unit, discount_amount=0, tax_amount=tax, tax_rate=rate)
    )
    total = quantity * unit + tax
    item = ProviderItem(sku="S", tax_amount=tax, amount_including_tax=total, tax_rate=rate)
    request = capture_request("psp-1", amount=total).model_copy(
        update={
            "lines": [CaptureLine(item_id="s", quantity=quantity, amount=total)],
            "items": {"s": item},
        }
    )
    sent = line_items(request)
    assert registered.tax_rate == rate
    assert {entry["taxPercentage"] for entry in sent} == {rate}
    assert sum(entry["quantity"] * entry["amountIncludingTax"] for entry in sent) == total


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"tax_rate": 10_001}, "less than or equal to 10000"),
        ({"tax_rate": -1}, "greater than or equal to 0"),
        ({"tax_rate": "2100"}, "valid integer"),
        ({"tax_rate": 1000}, "not its tax_amount 1154"),  # 10% of 5497 is 550
    ],
)
def test_defect_11_a_tax_rate_past_its_limits_or_not_the_taxs_is_refused_naming_it(
    fields: dict[str, Any], why: str
) -> None:
    loc, message = refusal(**fields)
    assert loc == ("items", 0, "tax_rate")
    assert why in message


# --- What names may take of the ledger -------------------------------------------------------


def large_order(id_length: int, name_length: int = 0, rate: bool = False) -> dict[str, Any]:
    """1,000 lines of ``id_length``-byte item ids and skus, named and taxed if asked."""
    detail = order_placed()["detail"]
    detail["items"] = [
        {"item_id": f"{n:04d}".ljust(id_length, "i"), "sku": f"{n:04d}".ljust(id_length, "s"),
         "quantity": 999_999, "unit_amount": 99_999, "discount_amount": 99_999,
         "tax_amount": 9_999_880_000}
        | ({"name": "n" * name_length} if name_length else {})
        | ({"tax_rate": 1000} if rate else {})
        for n in range(MAX_ORDER_LINES)
    ]  # fmt: skip
    detail["shipping_amount"] = 0
    detail["payment"]["authorized_amount"] = 10**15
    return dict(detail)


def catalog_bytes(detail: dict[str, Any]) -> int:
    order = register_order(OrderPlacedDetail.model_validate(detail), FixedClock().now())
    return dynamodb_item_size(layout.order_catalog(order))


def test_defect_11_names_never_make_a_line_catalog_larger_than_before_they_existed() -> None:
    """The largest catalog accepted before (1,000 lines of the longest ids and skus) stays the
    largest: a name or a rate on top of it is refused naming ``items``; shorter ids leave
    room for names, within the same bytes."""
    largest_before = catalog_bytes(large_order(MAX_ID_LENGTH))
    with pytest.raises(ValidationError) as refused:
        OrderPlacedDetail.model_validate(large_order(MAX_ID_LENGTH, name_length=1))
    (error,) = refused.value.errors()
    assert error["loc"] == ("items",) and "shorten the names" in error["msg"]
    with pytest.raises(ValidationError):
        OrderPlacedDetail.model_validate(large_order(MAX_ID_LENGTH, rate=True))
    half = MAX_ID_LENGTH // 2
    room = 2 * (MAX_ID_LENGTH - half) - NAME_OVERHEAD_BYTES - TAX_RATE_BYTES
    assert catalog_bytes(large_order(half, name_length=room, rate=True)) <= largest_before
    with pytest.raises(ValidationError):
        OrderPlacedDetail.model_validate(large_order(half, name_length=room + 1, rate=True))


def test_defect_11_medusa_and_native_show_the_name_where_the_shop_gave_one() -> None:
    detail = order_placed()["detail"]
    detail["items"][0] |= {"name": "Camiseta azul", "tax_rate": 2100}
    order = register_order(OrderPlacedDetail.model_validate(detail), FixedClock().now())
    titles = [item.title for item in medusa_order(order, []).items or []]
    assert titles == ["Camiseta azul", "MUG-LOGO"]
    shown = [(line.name, line.tax_rate) for line in order_out(order).items]
    assert shown == [("Camiseta azul", 2100), (None, None)]
