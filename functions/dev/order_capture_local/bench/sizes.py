"""DynamoDB item sizes and on-demand request units, by DynamoDB's documented rules."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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


#: One item's entry in each global secondary index (its index key values), ``None`` where it
#: is not in that index (sparse: an item is in it only while it has the index's key attributes).
IndexEntries = tuple[tuple[Any, ...] | None, ...]


@dataclass(frozen=True)
class LedgerSnapshot:
    """Some ledger items as they stand: each one's size, and its entry in each global
    secondary index. An item not in ``sizes`` does not exist."""

    sizes: dict[tuple[str, str], int]
    index_entries: dict[tuple[str, str], IndexEntries]

    def size_of(self, key: tuple[str, str]) -> int:
        return self.sizes.get(key, 0)

    def entries_of(self, key: tuple[str, str]) -> IndexEntries:
        return self.index_entries.get(key, ())


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
    index_keys = [
        [element["AttributeName"] for element in index["KeySchema"]]
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
    entries: dict[tuple[str, str], IndexEntries] = {}
    for stored in stored_items:
        attributes = stored.to_json()["Attributes"]
        item = {k: deserializer.deserialize(v) for k, v in attributes.items()}
        key = (item["PK"], item["SK"])
        sizes[key] = dynamodb_item_size(item)
        entries[key] = tuple(
            tuple(item[name] for name in names) if all(name in item for name in names) else None
            for names in index_keys
        )
    return LedgerSnapshot(sizes, entries)


def index_writes(old: IndexEntries, new: IndexEntries) -> int:
    """Write units one table write costs its (keys-only) global secondary indexes, by
    DynamoDB's rules (developer guide, "Global secondary indexes", writes): none for an index
    whose entry the write leaves as it was, one to put an entry or to delete one, two to move
    one (a changed index key value: delete the old entry, put the new)."""
    units = 0
    for before, after in zip(old or (None,) * len(new), new or (None,) * len(old), strict=True):
        if before == after:
            continue
        units += 1 if before is None or after is None else 2
    return units


@dataclass
class DynamoDBCall:
    operation: str
    table: str
    #: (kind, PK, SK) for every item the request reads or writes.
    items: list[tuple[str, str, str]]
    #: Those items as they stood just before the request (filled by the recorder).
    before: LedgerSnapshot = field(default_factory=lambda: LedgerSnapshot({}, {}))


@dataclass(frozen=True)
class Capacity:
    rru: float = 0
    wru: float = 0


def capacity_of(calls: Sequence[DynamoDBCall], after: LedgerSnapshot) -> Capacity:
    """On-demand request units, each request priced on its items as they stood around it
    (``call.before``; after it: as the next request naming the item found it, or ``after``):
    strongly consistent reads 1 RRU per 4 KB (1 for a missing item), writes 1 WRU per KB of
    the larger of the item before and after, transactional writes twice that, plus what the
    write costs the keys-only indexes (``index_writes``)."""
    rru = wru = 0.0
    for position, call in enumerate(calls):
        for kind, pk, sk in call.items:
            key = (pk, sk)
            if kind == "read":
                rru += max(1, math.ceil(call.before.size_of(key) / 4096))
                continue
            following = _state_after(calls, position, key, after)
            old_size, new_size = call.before.size_of(key), following.size_of(key)
            units = max(1, math.ceil(max(old_size, new_size) / 1024))
            wru += 2 * units if kind == "txwrite" else units
            wru += index_writes(call.before.entries_of(key), following.entries_of(key))
    return Capacity(rru, wru)


def _state_after(
    calls: Sequence[DynamoDBCall], position: int, key: tuple[str, str], after: LedgerSnapshot
) -> LedgerSnapshot:
    """What the item was once ``calls[position]`` had run: as the next request that names it
    found it, else as it stands at the end."""
    for later in calls[position + 1 :]:
        if any((pk, sk) == key for _, pk, sk in later.items):
            return later.before
    return after
