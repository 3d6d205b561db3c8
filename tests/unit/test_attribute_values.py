"""The ledger's attribute-value conversions agree with boto3's for every value the ledger
stores (it has its own only to keep ``import boto3`` out of cold starts)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from order_capture.adapters.dynamodb import attribute_values

#: What the ledger stores: JSON-like values, integers within DynamoDB's 38 digits.
plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(min_size=1), children, max_size=5)
    ),
    max_leaves=20,
)


def _as_ledger_reads(value: Any) -> Any:
    """boto3's reading, with its Decimals as the ledger's integers."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {name: _as_ledger_reads(member) for name, member in value.items()}
    if isinstance(value, list):
        return [_as_ledger_reads(member) for member in value]
    return value


@given(plain_values)
def test_a_stored_value_is_written_as_boto3_writes_it(value: Any) -> None:
    assert attribute_values.serialize(value) == TypeSerializer().serialize(value)


@given(plain_values)
def test_a_stored_value_is_read_back_as_boto3_reads_it(value: Any) -> None:
    written = TypeSerializer().serialize(value)

    read = attribute_values.deserialize(written)

    assert read == _as_ledger_reads(TypeDeserializer().deserialize(written))
    assert read == value


@given(st.integers(min_value=-(10**20), max_value=10**20))
def test_a_number_written_by_another_writer_in_exponent_form_is_read(number: int) -> None:
    assert attribute_values.deserialize({"N": f"{Decimal(number):E}"}) == number


@pytest.mark.parametrize("value", [1.5, {1, 2}, b"bytes", Decimal("NaN"), object()])
def test_a_value_the_ledger_never_stores_is_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        attribute_values.serialize(value)


@pytest.mark.parametrize("attribute", [{"SS": ["a"]}, {"B": b"x"}, {"S": "a", "N": "1"}])
def test_an_attribute_value_the_ledger_never_writes_is_refused(attribute: Any) -> None:
    with pytest.raises(TypeError):
        attribute_values.deserialize(attribute)
