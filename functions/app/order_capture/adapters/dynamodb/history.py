"""A capture's history on the ledger table. The capture's own changes are folded into its
``CAPTURE#`` item (``capture_items``: appended in the same write as the change); each change of
one of its refunds is one small item, put in the same transaction as the change
(``history_put``, always the transaction's last item, so that the other items' cancellation
reasons keep their positions). Captures written before the fold keep their changes as items
too: both are read, and merged in the order the items' keys sort in.

``PK`` is the order's, ``SK`` ``HISTORY#<capture id>#<when>#<rank>#<refund id>#<change>``
(docs/ledger.md): a capture's changes and its refunds' are one Query, in the order they
happened (the one timestamp format sorts as the instants; ``rank`` orders changes written at
one instant: a reservation before what the provider answered it). Put unconditionally: the
change's own condition decides whether the transaction, history item included, commits; the
same change written again writes the same item.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from order_capture.adapters.dynamodb import codec
from order_capture.adapters.dynamodb.capture_items import folded_history
from order_capture.adapters.dynamodb.codec import timestamp
from order_capture.adapters.dynamodb.table import LedgerTable, put_op
from order_capture.history import HistoryEntry

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

#: Changes written at the same instant sort in this order.
_RANK = {"reserved": 0, "refund_reserved": 0, "sent": 1, "refund_sent": 1, "requires_action": 2}


def history_sk(entry: HistoryEntry) -> str:
    """What follows ``HISTORY#<capture id>#`` in the entry's sort key."""
    rank = _RANK.get(entry.change, 3)
    return f"{timestamp(entry.at)}#{rank}#{entry.refund_id or ''}#{entry.change}"


def history_put(
    table_name: str, merchant_id: str, order_id: str, entry: HistoryEntry
) -> TransactWriteItemTypeDef:
    """The Put of ``entry`` (absent fields left out: the item stays small)."""
    body = {name: held for name, held in codec.storable(entry).items() if held is not None}
    body["by"] = {name: held for name, held in body["by"].items() if held is not None}
    primary = codec.history_key(merchant_id, order_id, entry.capture_id, history_sk(entry))
    return put_op(table_name, codec.encode(primary, body))


class HistoryLedger:
    """Reads a capture's history (``order_capture.history.HistoryReader``)."""

    table: LedgerTable

    def capture_history(
        self, merchant_id: str, order_id: str, capture_id: str
    ) -> list[HistoryEntry]:
        prefix = codec.history_key(merchant_id, order_id, capture_id)
        items = self.table.query(
            "PK = :pk AND begins_with(SK, :prefix)",
            {":pk": prefix["PK"], ":prefix": prefix["SK"]},
            consistent=True,
        )
        entries = [HistoryEntry.model_validate(codec.decode(item)) for item in items]
        capture = self.table.get(codec.capture_key(merchant_id, order_id, capture_id))
        if capture is not None:
            entries += folded_history(codec.plain(capture))
        return sorted(entries, key=history_sk)
