"""Where moto 5.2 is slow enough to change what the local runtime can run, made faster with the
same answers.

Unlike :mod:`order_capture_local.moto_corrections` these change no behaviour: each one produces
byte for byte what moto would, and a test compares the two on generated input. They are
written against moto 5.2's internals and applied after the corrections' version check.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

#: ``patch(owner, attribute name, replacement)``: sets the attribute while the runtime runs.
Patch = Callable[[object, str, object], None]


def apply(patch: Patch) -> None:
    """Every speed-up (call :func:`moto_corrections.apply` first: it checks moto's version)."""
    serialize_attribute_values_directly(patch)


def fast_dynamodb_serializer() -> type[Any]:
    """moto's JSON response serializer, with DynamoDB's ``AttributeValue`` trees written
    directly by their shapes.

    moto 5.2 serializes every response by walking the output shape and looking each member up
    through six alias providers (and their snake_case forms). For an item that is a tree of
    ``AttributeValue`` structures (ten members each) that walk costs about 60 lookups per value:
    reading one 1,000-line order took tens of seconds on a loaded machine. The values moto hands
    the serializer are already dicts keyed by the members' own names (``{"S": ...}``,
    ``{"M": {...}}``), so each member is read by its name and converted as moto's serializer
    converts its shape type (strings by ``str``, blobs by base64, booleans as they are). Anything
    else (an object, an unknown key) goes through moto's own walk.
    """
    from moto.core.serialize import JSONSerializer  # noqa: PLC0415

    class DirectAttributeValueSerializer(JSONSerializer):
        def _serialize_type_structure(
            self, serialized: MutableMapping[str, Any], value: Any, shape: Any, key: str
        ) -> None:
            if shape.name == "AttributeValue" and _plain_attribute_value(value, shape):
                written = _attribute_value(self, value, shape)
                if key:
                    serialized[shape.serialization.get("name", key)] = written
                else:
                    serialized.update(written)
                return
            super()._serialize_type_structure(serialized, value, shape, key)

    return DirectAttributeValueSerializer


def _attribute_value(serializer: Any, value: dict[str, Any], shape: Any) -> dict[str, Any]:
    written: dict[str, Any] = {}
    for name, member in shape.members.items():
        member_value = value.get(name)
        if member_value is not None:
            written[member.serialization.get("name", name)] = _member(
                serializer, member_value, member
            )
    return written


def _member(serializer: Any, value: Any, shape: Any) -> Any:
    """``value`` as moto's JSON serializer writes a member of ``shape``'s type."""
    kind = shape.type_name
    if kind == "string":
        return str(value) if value not in [None, {}, []] else value
    if kind == "blob":
        return serializer._base64(value)
    if kind == "boolean":
        return value
    if kind == "list":
        return [None if item is None else _member(serializer, item, shape.member) for item in value]
    if kind == "map":  # moto leaves out a None structure, keeps any other None
        return {
            name: _member(serializer, item, shape.value)
            for name, item in value.items()
            if item is not None or shape.value.type_name != "structure"
        }
    if shape.name == "AttributeValue" and _plain_attribute_value(value, shape):
        return _attribute_value(serializer, value, shape)
    wrapper: dict[str, Any] = {}  # anything else: moto's own walk
    serializer._serialize(wrapper, value, shape, "member")
    return wrapper.get(shape.serialization.get("name", "member"))


def _plain_attribute_value(value: Any, shape: Any) -> bool:
    return isinstance(value, dict) and all(name in shape.members for name in value)


def serialize_attribute_values_directly(patch: Patch) -> None:
    """DynamoDB's responses through :func:`fast_dynamodb_serializer`."""
    from moto.core import serialize  # noqa: PLC0415

    specific = dict(serialize.SERVICE_SPECIFIC_SERIALIZERS)
    specific["dynamodb"] = {**specific.get("dynamodb", {}), "json": fast_dynamodb_serializer()}
    patch(serialize, "SERVICE_SPECIFIC_SERIALIZERS", specific)
