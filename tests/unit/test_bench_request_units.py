"""Request units as the bench prices them (issue 15): each request on its items as they stood
around it, and a keys-only index billed only where a write changes the item's entry in it
(DynamoDB developer guide, "Global secondary indexes": no index write when the indexed
attributes do not change, one to put or delete an entry, two to move one)."""

from __future__ import annotations

from order_capture_local.bench.sizes import (
    Capacity,
    DynamoDBCall,
    LedgerSnapshot,
    capacity_of,
    index_writes,
)

HEADER = ("ORDER#m#o", "ORDER")
CAPTURE = ("ORDER#m#o", "CAPTURE#c")
OPEN = ("open#3", "2026-12-31T00:00:00.000000Z")
PENDING = ("pending#7", "2026-12-03T10:00:00.000000Z")


def _state(**items: tuple[int, tuple[tuple[str, str] | None, ...]]) -> LedgerSnapshot:
    keys = {"header": HEADER, "capture": CAPTURE}
    return LedgerSnapshot(
        sizes={keys[name]: size for name, (size, _) in items.items()},
        index_entries={keys[name]: entries for name, (_, entries) in items.items()},
    )


def test_an_index_costs_a_write_only_where_the_items_entry_changes() -> None:
    assert index_writes((OPEN, None), (OPEN, None)) == 0
    assert index_writes((None, None), (None, PENDING)) == 1
    assert index_writes((None, PENDING), (None, None)) == 1
    moved = ("pending#7", "2026-12-03T10:00:01.000000Z")
    assert index_writes((None, PENDING), (None, moved)) == 2
    # An item that did not exist before, or does not after, has no entries at all
    assert index_writes((), (None, PENDING)) == 1
    assert index_writes((OPEN, PENDING), ()) == 2
    assert index_writes((), ()) == 0


def test_each_write_is_priced_on_the_item_before_it_and_after_it() -> None:
    # Given a reserve (header updated in place, a new pending capture) and a confirm (the
    # capture leaves OpenCaptures, the finished order leaves OpenOrdersByExpiry)
    reserve_seen = _state(header=(600, (OPEN, None)))
    confirm_seen = _state(header=(700, (OPEN, None)), capture=(900, (None, PENDING)))
    after = _state(header=(700, (None, None)), capture=(1100, (None, None)))
    calls = [
        DynamoDBCall("BatchGetItem", "t", [("read", *HEADER), ("read", *CAPTURE)], reserve_seen),
        DynamoDBCall(
            "TransactWriteItems", "t", [("txwrite", *HEADER), ("txwrite", *CAPTURE)], reserve_seen
        ),
        DynamoDBCall(
            "TransactWriteItems", "t", [("txwrite", *CAPTURE), ("txwrite", *HEADER)], confirm_seen
        ),
    ]

    # Then: reads 1 RRU each (the capture missing), the reserve 2 + 2 WRU and 1 for the new
    # capture's index entry (the header's entry unchanged), the confirm 4 for the capture (1.1 KB
    # after it), 2 for the header, and 1 per entry it deletes
    assert capacity_of(calls, after) == Capacity(rru=2, wru=(2 + 2 + 1) + (4 + 2 + 1 + 1))


def test_a_refused_conditional_write_changes_no_index_entry() -> None:
    # Given an update whose condition failed: the next request finds the item as it was
    seen = _state(capture=(900, (None, PENDING)))
    calls = [
        DynamoDBCall("UpdateItem", "t", [("write", *CAPTURE)], seen),
        DynamoDBCall("GetItem", "t", [("read", *CAPTURE)], seen),
    ]
    assert capacity_of(calls, seen) == Capacity(rru=1, wru=1)
