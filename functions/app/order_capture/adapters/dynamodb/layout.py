"""How an order and a capture's lines are laid out over ledger items (plain values; the
codec serializes them). Pure: no boto3 here. The key table: docs/ledger.md.

An order is up to three items, so that what every capture rewrites stays small whatever the
order's size (DynamoDB bills a write by the whole item, twice in a transaction):

- ``ORDER``: the header: payment, totals, ``version`` (every conditional write's guard) and the
  expiry index's keys. A few hundred bytes; reserve, confirm, refunds and cancellations
  write it.
- ``LINES``: the catalog: each line's item id, sku, quantity and amounts, as registered.
  Written once, by registration; read, never rewritten.
- ``LINE_COUNTERS``: per line, by its position in the catalog, the shipped and canceled units
  and the value they claimed (three lists of numbers: about 10 bytes a line). Written with the
  header, in the same transaction, by the writes that ship, release or cancel units.
  An order of at most ``FOLDED_LINES`` lines keeps these lists on its header instead (no
  item of their own: one write fewer per reservation, and the header stays within 1 KB).

A capture's lines, by catalog position (``positions``, ``quantities``, ``amounts``), are
written once, when the capture is reserved: on its ``CAPTURE#`` item for at most
``FOLDED_LINES`` lines, else as an item of their own, ``CAPTURE_LINES#<capture id>``, so that
confirming or failing a large capture rewrites only its small ``CAPTURE#`` item.

Why ``FOLDED_LINES = 16``: DynamoDB bills a write by each started KB of the item (twice in a
transaction). A header or capture item is about 0.6 KB; 16 lines' counters or capture lines
(three numbers a line, at most about 13 bytes a line with the largest amounts) add at most
about 0.2 KB, so the folded item still writes as one KB, and saves the 2 WRU of the item it
replaces. Past that, the lists would make every later write of the header (each confirm,
refund and cancellation) or of the capture cost more than the separate item saves once. The
rule depends only on the number of lines, which never changes: an order's or a capture's
layout is the same in every write. Items of the former layout (counters and lines always
apart) still read: a header holding the lists is newer than any ``LINE_COUNTERS`` item.
"""

from __future__ import annotations

import hashlib
from typing import Any

from order_capture.adapters.dynamodb.codec import (
    COUNTERS_SK,
    LINE_COUNT,
    LINES_SK,
    ORDER_SK,
    storable,
)
from order_capture.models import Capture, CaptureLine, Order

CATALOG_FIELDS = (
    "item_id", "sku", "name", "quantity", "unit_amount", "discount_amount", "tax_amount",
    "tax_rate",
)  # fmt: skip
#: Line field -> list attribute of ``LINE_COUNTERS``.
COUNTER_LISTS = {
    "shipped_quantity": "shipped",
    "canceled_quantity": "canceled",
    "closed_value": "closed",
}

#: Partitions of each sparse index key every capture (or order) writes: one index key value
#: takes about 1,000 writes a second, so one value for every open capture would cap the
#: whole service near 500 captures a second (each capture adds and removes its entry). Spread
#: over 16, the ceiling is DynamoDB's table quota instead (docs/performance.md "Scale").
INDEX_SHARDS = 16

#: Orders and captures of at most this many lines keep their counters or lines folded into
#: their header or ``CAPTURE#`` item (see above).
FOLDED_LINES = 16
#: The ``CAPTURE#`` attributes of a capture's lines: folded, or the count of those apart.
CAPTURE_LINE_ATTRIBUTES = (LINE_COUNT, "positions", "quantities", "amounts")


def shard_of(key: str) -> int:
    """The index shard of ``key`` (a capture, refund or order key): stable and even."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % INDEX_SHARDS


def sharded(value: str, key: str) -> str:
    """The index key value for ``key``: ``value#<shard>``."""
    return f"{value}#{shard_of(key)}"


def every_shard(value: str) -> list[str]:
    """Every index key value readers of ``value`` query."""
    return [f"{value}#{shard}" for shard in range(INDEX_SHARDS)]


def order_header(order: Order) -> dict[str, Any]:
    return storable(order, exclude={"lines"})


def order_catalog(order: Order) -> dict[str, Any]:
    return {
        "lines": [
            # A name or rate left out is left out of the item too (not stored as null).
            line.model_dump(mode="json", include=set(CATALOG_FIELDS), exclude_none=True)
            for line in order.lines
        ]
    }


def counters_folded(order: Order) -> bool:
    """Whether ``order``'s line counters are on its header (not a ``LINE_COUNTERS`` item)."""
    return len(order.lines) <= FOLDED_LINES


def holds_counters(header: dict[str, Any]) -> bool:
    """Whether a header item (plain values) holds its order's line counters."""
    return all(attribute in header for attribute in COUNTER_LISTS.values())


def order_counters(order: Order) -> dict[str, Any]:
    return {
        attribute: [getattr(line, field) for line in order.lines]
        for field, attribute in COUNTER_LISTS.items()
    }


def order_from(header: dict[str, Any], catalog: dict[str, Any], counters: dict[str, Any]) -> Order:
    """The order its three items describe."""
    lines = [
        {
            **line,
            **{field: counters[attribute][position] for field, attribute in COUNTER_LISTS.items()},
        }
        for position, line in enumerate(catalog["lines"])
    ]
    return Order.model_validate({**header, "lines": lines})


def capture_lines(capture: Capture, order: Order) -> dict[str, Any]:
    """The ``CAPTURE_LINES#`` attributes of ``capture``, by position in ``order``'s catalog."""
    position_of = {line.item_id: position for position, line in enumerate(order.lines)}
    return {
        "positions": [position_of[line.item_id] for line in capture.lines],
        "quantities": [line.quantity for line in capture.lines],
        "amounts": [line.amount for line in capture.lines],
    }


def capture_line_attributes(capture: Capture, order: Order) -> dict[str, Any]:
    """What a reservation writes of ``capture``'s lines on its ``CAPTURE#`` item: the lines
    themselves when folded, else their count (the lines then are ``CAPTURE_LINES#``)."""
    if len(capture.lines) <= FOLDED_LINES:
        return capture_lines(capture, order) if capture.lines else {}
    return {LINE_COUNT: len(capture.lines)}


def holds_lines(capture_item: dict[str, Any]) -> bool:
    """Whether a ``CAPTURE#`` item (plain values) holds its capture's lines."""
    return "positions" in capture_item


def lines_of(stored: dict[str, Any], catalog: dict[str, Any]) -> list[CaptureLine]:
    """A capture's lines from its ``CAPTURE_LINES#`` item or its ``CAPTURE#`` item (folded),
    named by the order's catalog."""
    return [
        CaptureLine(item_id=catalog["lines"][position]["item_id"], quantity=qty, amount=amount)
        for position, qty, amount in zip(
            stored["positions"], stored["quantities"], stored["amounts"], strict=True
        )
    ]


def orders_in(items: list[dict[str, Any]]) -> list[Order]:
    """The orders among plain ledger items (a scan: tools and tests that read the table)."""
    by_key = {(item["PK"], item["SK"]): item for item in items}
    return [
        order_from(
            {key: value for key, value in item.items() if key in Order.model_fields},
            by_key[(item["PK"], LINES_SK)],
            item if holds_counters(item) else by_key[(item["PK"], COUNTERS_SK)],
        )
        for (pk, sk), item in by_key.items()
        if sk == ORDER_SK
    ]
