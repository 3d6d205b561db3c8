"""Money: exact conversion at the edges and allocation that never loses a cent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from order_capture.errors import InvalidAmountError, UnsupportedCurrencyError
from order_capture.money import (
    CURRENCY_EXPONENTS,
    allocate_largest_remainder,
    cumulative_unit_share,
    currency_exponent,
    to_decimal,
    to_minor_units,
)

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [
        ("JPY", 0),
        ("USD", 2),
        ("EUR", 2),
        ("KWD", 3),
        ("BHD", 3),
        ("OMR", 3),
        ("JOD", 3),
        ("CLF", 4),
        ("kwd", 3),
    ],
)
def test_exponents_follow_iso_4217(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


def test_unknown_currency_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedCurrencyError, match="XYZ"):
        currency_exponent("XYZ")


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("100.50", "EUR", 10050),
        ("1000", "JPY", 1000),
        ("1.234", "KWD", 1234),
        ("0.001", "BHD", 1),
        (Decimal("700.70"), "EUR", 70070),
        (12, "USD", 1200),
    ],
)
def test_to_minor_units_is_exact(amount: str | Decimal | int, currency: str, minor: int) -> None:
    assert to_minor_units(amount, currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("1.005", "EUR", "more than 2 decimals"),
        ("1.5", "JPY", "more than 0 decimals"),
        ("abc", "EUR", "not a decimal"),
        ("NaN", "EUR", "not a finite"),
        ("Infinity", "EUR", "finite"),
    ],
)
def test_to_minor_units_refuses_lossy_amounts(amount: str, currency: str, message: str) -> None:
    with pytest.raises(InvalidAmountError, match=message):
        to_minor_units(amount, currency)


def test_floats_are_refused() -> None:
    with pytest.raises(InvalidAmountError, match="never floats"):
        to_minor_units(0.1, "EUR")  # type: ignore[arg-type]


@given(minor=st.integers(min_value=-(10**15), max_value=10**15), currency=currencies)
def test_decimal_round_trip_is_exact(minor: int, currency: str) -> None:
    as_decimal = to_decimal(minor, currency)
    assert as_decimal.as_tuple().exponent == -currency_exponent(currency)
    assert to_minor_units(as_decimal, currency) == minor
    assert to_minor_units(str(as_decimal), currency) == minor


@given(
    total=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30).filter(
        lambda weights: sum(weights) > 0
    ),
)
def test_largest_remainder_sums_exactly_and_stays_within_a_unit(
    total: int, weights: list[int]
) -> None:
    parts = allocate_largest_remainder(total, weights)
    assert sum(parts) == total
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        # |part - total*weight/weight_sum| < 1, in integers
        assert abs(part * weight_sum - total * weight) < weight_sum
        assert part >= 0


def test_largest_remainder_gives_leftover_to_largest_remainders() -> None:
    # 100 over 3 equal parts: 33.33 each, one leftover cent to the first (ties -> earliest).
    assert allocate_largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    # 10 over weights 1,2,3,4: exact 1,2,3,4.
    assert allocate_largest_remainder(10, [1, 2, 3, 4]) == [1, 2, 3, 4]
    # 7 over 2,3: exact 2.8 and 4.2 -> the .8 remainder wins the leftover.
    assert allocate_largest_remainder(7, [2, 3]) == [3, 4]


@given(
    total=st.integers(min_value=0, max_value=10**9),
    unit_count=st.integers(min_value=1, max_value=60),
    data=st.data(),
)
def test_cumulative_share_is_the_prefix_sum_of_equal_allocation(
    total: int, unit_count: int, data: st.DataObject
) -> None:
    units = data.draw(st.integers(min_value=0, max_value=unit_count))
    parts = allocate_largest_remainder(total, [1] * unit_count)
    assert cumulative_unit_share(total, unit_count, units) == sum(parts[:units])


def test_allocation_refuses_impossible_input() -> None:
    with pytest.raises(ValueError, match="negative"):
        allocate_largest_remainder(-1, [1])
    with pytest.raises(ValueError, match="zero weights"):
        allocate_largest_remainder(5, [0, 0])
    with pytest.raises(ValueError, match="between"):
        cumulative_unit_share(10, 3, 4)
