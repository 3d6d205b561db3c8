"""DynamoDB's attribute values (``{"S": ...}``, ``{"N": ...}``, ``{"M": ...}``...) to and
from the plain values the ledger stores: strings, integers, booleans, None, lists and maps.

The same conversions as boto3's ``TypeSerializer``/``TypeDeserializer`` for those values
(tests/unit/test_attribute_values.py checks them against boto3's), written here because
``boto3.dynamodb.types`` imports the whole ``boto3`` package (sessions, resources,
s3transfer): about 0.1x of the cold-start baseline that no step handler otherwise needs, since
the clients come from botocore (``adapters.aws_clients``). Numbers come back as ``int``: the
ledger stores integers only (amounts in minor units, counters, versions); it stores no sets,
binaries or floats, and both directions refuse them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef


def serialize(plain: Any) -> AttributeValueTypeDef:
    """``plain`` as an attribute value; TypeError for what the ledger never stores (floats, as
    boto3 refuses them: amounts are integers; sets, bytes and anything not JSON-like)."""
    return cast("AttributeValueTypeDef", _serialize(plain))


def _serialize(plain: Any) -> dict[str, Any]:
    if plain is None:
        return {"NULL": True}
    if isinstance(plain, bool):
        return {"BOOL": plain}
    if isinstance(plain, int | Decimal):
        if isinstance(plain, Decimal) and not plain.is_finite():
            raise TypeError("Infinity and NaN are not DynamoDB numbers")
        return {"N": str(plain)}
    if isinstance(plain, str):
        return {"S": plain}
    if isinstance(plain, Mapping):
        return {"M": {str(name): _serialize(member) for name, member in plain.items()}}
    if isinstance(plain, list | tuple):
        return {"L": [_serialize(member) for member in plain]}
    raise TypeError(f"the ledger does not store {type(plain).__name__} values")


def deserialize(attribute: Mapping[str, Any]) -> Any:
    """The plain value of one attribute value (numbers as ``int``)."""
    if len(attribute) != 1:
        raise TypeError(f"an attribute value has one type, not {sorted(attribute)}")
    ((kind, held),) = attribute.items()
    reader = _READERS.get(kind)
    if reader is None:
        raise TypeError(f"the ledger does not store DynamoDB type {kind}")
    return reader(held)


def _integer(text: str) -> int:
    # int() reads what the ledger writes; Decimal what another writer may have (1E+3, 1.0).
    try:
        return int(text)
    except ValueError:
        return int(Decimal(text))


_READERS: dict[str, Callable[[Any], Any]] = {
    "S": str,
    "N": _integer,
    "M": lambda held: {name: deserialize(member) for name, member in held.items()},
    "L": lambda held: [deserialize(member) for member in held],
    "BOOL": bool,
    "NULL": lambda _: None,
}
