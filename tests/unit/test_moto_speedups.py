"""The local runtime's speed-ups of moto answer exactly what moto answers."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from moto.core.serialize import JSONSerializer, XFormedAttributePicker
from moto.core.utils import get_service_model

from order_capture_local.moto_speedups import apply, fast_dynamodb_serializer

DYNAMODB = get_service_model("dynamodb")  # moto's own model classes, as its responses use

names = st.text(min_size=1, max_size=8)
scalars = st.one_of(
    st.builds(lambda text: {"S": text}, st.text(max_size=20)),
    st.builds(lambda number: {"N": str(number)}, st.integers()),
    st.builds(lambda data: {"B": data}, st.binary(max_size=20)),
    st.builds(lambda texts: {"SS": texts}, st.lists(st.text(max_size=5), min_size=1, max_size=3)),
    st.builds(lambda ints: {"NS": [str(n) for n in ints]}, st.lists(st.integers(), max_size=3)),
    st.builds(lambda blobs: {"BS": blobs}, st.lists(st.binary(max_size=5), min_size=1, max_size=3)),
    st.just({"NULL": True}),
    st.builds(lambda flag: {"BOOL": flag}, st.booleans()),
)
#: AttributeValue trees as moto hands them to its serializer (dynamo_to_dict: blobs as bytes).
attribute_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.builds(lambda values: {"M": values}, st.dictionaries(names, children, max_size=4)),
        st.builds(lambda values: {"L": values}, st.lists(children, max_size=4)),
    ),
    max_leaves=12,
)
items = st.dictionaries(names, attribute_values, min_size=1, max_size=4)


def serialized(serializer_class: type[Any], operation: str, result: Any) -> dict[str, Any]:
    serializer = serializer_class(
        operation_model=DYNAMODB.operation_model(operation),
        pretty_print=False,
        value_picker=XFormedAttributePicker(response_transformers=None),
    )
    return dict(serializer.serialize(result))


@settings(max_examples=60, deadline=None)
@given(item=items, more=st.lists(items, max_size=3))
def test_dynamodb_answers_are_written_byte_for_byte_as_moto_writes_them(
    item: dict[str, Any], more: list[dict[str, Any]]
) -> None:
    fast = fast_dynamodb_serializer()
    for operation, result in [
        ("GetItem", {"Item": item}),
        ("Query", {"Items": [item, *more], "Count": 1 + len(more), "LastEvaluatedKey": item}),
        ("BatchGetItem", {"Responses": {"table": [item, *more]}, "UnprocessedKeys": {}}),
        ("UpdateItem", {"Attributes": item}),
    ]:
        assert serialized(fast, operation, result) == serialized(JSONSerializer, operation, result)


def test_an_attribute_value_moto_does_not_hand_over_as_a_dict_takes_motos_own_walk() -> None:
    fast = fast_dynamodb_serializer()
    odd = {"Item": {"a": {"S": "x", "unknown": 1}, "b": {"M": {"c": None, "d": {"N": "1"}}}}}
    assert serialized(fast, "GetItem", odd) == serialized(JSONSerializer, "GetItem", odd)
    assert json.loads(serialized(fast, "GetItem", odd)["body"])["Item"]["b"] == {
        "M": {"d": {"N": "1"}}
    }


def test_the_speedup_serves_dynamodb_only_and_comes_off_with_the_runtime() -> None:
    from moto.core import serialize

    patched: dict[str, Any] = {}
    apply(lambda owner, name, value: patched.update({name: (owner, value)}))
    owner, specific = patched["SERVICE_SPECIFIC_SERIALIZERS"]
    assert owner is serialize
    assert set(specific) == {*serialize.SERVICE_SPECIFIC_SERIALIZERS, "dynamodb"}
    assert issubclass(specific["dynamodb"]["json"], JSONSerializer)
    assert "dynamodb" not in serialize.SERVICE_SPECIFIC_SERIALIZERS  # nothing set by itself
