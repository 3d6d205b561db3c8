"""DynamoDB item sizes and on-demand request units, by DynamoDB's documented rules."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from order_capture_local.runtime import (
    LocalRuntime,
)
from order_capture_local.template import LOCAL_ACCOUNT, LOCAL_REGION

# --- DynamoDB item size -------------------------------------------------------------------------


def dynamodb_value_size(value: Any) -> int:
    """Bytes of one attribute value, by DynamoDB's documented item-size rules."""
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, int):
        digits = str(abs(value)).strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, dict):
        # Maps: 3 bytes, plus per element its name, its value and 1 byte.
        return 3 + sum(len(k.encode()) + dynamodb_value_size(v) + 1 for k, v in value.items())
    if isinstance(value, list):
        return 3 + sum(dynamodb_value_size(v) + 1 for v in value)
    raise TypeError(f"no DynamoDB size rule for {type(value).__name__}")


def dynamodb_item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + dynamodb_value_size(value) for name, value in item.items())


@dataclass(frozen=True)
class LedgerSnapshot:
    """Every ledger item's size, and the items in a sparse global secondary index."""

    sizes: dict[tuple[str, str], int]
    indexed: set[tuple[str, str]]


def ledger_snapshot(
    runtime: LocalRuntime, keys: Iterable[tuple[str, str]] | None = None
) -> LedgerSnapshot:
    """The ledger's items as they stand (``keys``: only those; all by default), read from the
    embedded AWS's own tables: a ``Scan`` through the SDK serializes every item (1,000-line
    catalogs among them) and was most of the bench's time; the items and their values are
    the same."""
    from boto3.dynamodb.types import TypeDeserializer  # noqa: PLC0415
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

    (table,) = runtime.template.tables.values()
    index_attributes = [
        index["KeySchema"][0]["AttributeName"]
        for index in table.properties.get("GlobalSecondaryIndexes", [])
    ]
    stored_table = dynamodb_backends[LOCAL_ACCOUNT][LOCAL_REGION].get_table(table.name)
    if keys is None:
        stored_items = list(stored_table.all_items())
    else:
        found = (
            stored_table.get_item(DynamoType({"S": pk}), DynamoType({"S": sk})) for pk, sk in keys
        )
        stored_items = [stored for stored in found if stored is not None]
    deserializer = TypeDeserializer()
    sizes: dict[tuple[str, str], int] = {}
    indexed: set[tuple[str, str]] = set()
    for stored in stored_items:
        attributes = stored.to_json()["Attributes"]
        item = {k: deserializer.deserialize(v) for k, v in attributes.items()}
        key = (item["PK"], item["SK"])
        sizes[key] = dynamodb_item_size(item)
        if any(attribute in item for attribute in index_attributes):
            indexed.add(key)
    return LedgerSnapshot(sizes, indexed)


@dataclass
class DynamoDBCall:
    operation: str
    table: str
    #: (kind, PK, SK) for every item the request reads or writes.
    items: list[tuple[str, str, str]]


@dataclass(frozen=True)
class Capacity:
    rru: float = 0
    wru: float = 0


def capacity_of(
    calls: Iterable[DynamoDBCall],
    before: dict[tuple[str, str], int],
    after: dict[tuple[str, str], int],
    indexed: Collection[tuple[str, str]] = (),
) -> Capacity:
    """On-demand request units: strongly consistent reads 1 RRU per 4 KB (1 for a missing
    item), writes 1 WRU per KB of the larger of the old and new item, transactional writes
    twice that, plus 1 WRU for the (keys-only) index entry of an item in a sparse GSI."""
    rru = wru = 0.0
    for call in calls:
        for kind, pk, sk in call.items:
            old, new = before.get((pk, sk), 0), after.get((pk, sk), 0)
            if kind == "read":
                rru += max(1, math.ceil((old or new) / 4096))
            else:
                units = max(1, math.ceil(max(old, new) / 1024))
                wru += 2 * units if kind == "txwrite" else units
                wru += 1 if (pk, sk) in indexed else 0
    return Capacity(rru, wru)
