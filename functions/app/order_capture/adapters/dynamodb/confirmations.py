"""Captures a provider confirms later, on the ledger table: finding a capture by its id alone,
the confirmation workflow's task token, and the outcome announced for it.

The pointer from a capture id to its order and the task token live on the capture's
``CAPTURE_REF`` item (docs/ledger.md), which no capture write touches. The announced note lives
on the ``CAPTURE#`` item itself (``codec.ANNOUNCED``), so that the write that settles a capture
notes it without a second item. A capture item reserved before the note moved there holds no
``announced``: its note is still on its ``CAPTURE_REF`` item, read and written there (the
refused write of the capture item says so, in the same request), until a settling write notes
it on the capture item, which wins from then on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from order_capture.adapters.dynamodb import codec, layout
from order_capture.adapters.dynamodb.codec import (
    ANNOUNCED,
    ANNOUNCED_BY,
    NOT_ANNOUNCED,
    OPEN_STATUS,
    UNANNOUNCED,
    key_text,
    string,
    timestamp,
)
from order_capture.adapters.dynamodb.orders import OrderLedger, open_index_items
from order_capture.adapters.dynamodb.table import check_op, update_op
from order_capture.history import announcer_for
from order_capture.models import Capture, CaptureStatus
from order_capture.ports import ConfirmationState

if TYPE_CHECKING:
    from datetime import datetime

    from order_capture.adapters.dynamodb.codec import Item, Values

#: The former layout's note, on ``CAPTURE_REF``: claimed only when absent or another outcome's
#: and not ``failed`` (final).
_CLAIMABLE_POINTER = (
    "attribute_exists(PK) AND (attribute_not_exists(announced) OR "
    "(announced <> :status AND announced <> :failed))"
)


class ConfirmationLedger(OrderLedger):
    """Confirmations and announcements of captures (their reads are the orders')."""

    def find_capture(self, merchant_id: str, capture_id: str) -> Capture | None:
        pointer = self._pointer(codec.capture_ref_key(merchant_id, capture_id), "order_id")
        if pointer is None:
            return None
        return self.get_capture(merchant_id, pointer[0], capture_id)

    def await_confirmation(self, capture: Capture, task_token: str) -> bool:
        # The token lives on the CAPTURE_REF item, which no capture write replaces; the
        # condition on the capture in the same transaction orders this against the webhook's
        # settling write.
        still_pending = check_op(
            self.table_name,
            codec.capture_key(capture.merchant_id, capture.order_id, capture.capture_id),
            "#status = :pending",
            names={"#status": "status"},
            values={":pending": string(CaptureStatus.PENDING.value)},
        )
        note_token = update_op(
            self.table_name,
            codec.capture_ref_key(capture.merchant_id, capture.capture_id),
            "SET confirmation_token = :token, order_id = :order",
            values={":token": string(task_token), ":order": string(capture.order_id)},
        )
        return self.table.transact([still_pending, note_token]) is None

    def confirmation_state(
        self, merchant_id: str, order_id: str, capture_id: str
    ) -> ConfirmationState:
        capture_key = codec.capture_key(merchant_id, order_id, capture_id)
        pointer_key = codec.capture_ref_key(merchant_id, capture_id)
        found = {
            key_text(item): item
            for item in self.table.batch_get([capture_key, pointer_key], consistent=True)
        }
        capture = found.get(key_text(capture_key), {})
        pointer = found.get(key_text(pointer_key), {})
        # The capture item's note wins; without one, the former layout's on CAPTURE_REF.
        note = (capture.get(ANNOUNCED) or pointer.get(ANNOUNCED) or {}).get("S")
        return ConfirmationState(
            task_token=pointer.get("confirmation_token", {}).get("S"),
            announced=CaptureStatus(note) if note and note != NOT_ANNOUNCED else None,
            announced_by=capture.get(ANNOUNCED_BY, {}).get("S"),
        )

    def claim_announcement(
        self,
        merchant_id: str,
        order_id: str,
        capture_id: str,
        status: CaptureStatus,
        announcer: str | None = None,
    ) -> bool:
        # Conditional on the note being there (written by the reservation): an Update of a
        # missing item would create one holding only the key. A failed note is final:
        # nothing settled after a failure (a stale success) claims it.
        values: Values = {
            ":status": string(status.value),
            ":failed": string(CaptureStatus.FAILED.value),
        }
        holder = f", {ANNOUNCED_BY} = :by" if announcer else f" REMOVE {ANNOUNCED_BY}"
        claimed, stands = self.table.update_or_old(
            codec.capture_key(merchant_id, order_id, capture_id),
            f"SET {ANNOUNCED} = :status" + holder,
            f"attribute_exists({ANNOUNCED}) AND {ANNOUNCED} <> :status AND {ANNOUNCED} <> :failed",
            values={**values, **({":by": string(announcer)} if announcer else {})},
        )
        if claimed or not _former_layout(stands):
            return claimed
        return self.table.update(
            codec.capture_ref_key(merchant_id, capture_id),
            "SET announced = :status",
            _CLAIMABLE_POINTER,
            values=values,
        )

    def is_announcer(
        self,
        merchant_id: str,
        order_id: str,
        capture_id: str,
        status: CaptureStatus,
        announcer: str,
    ) -> bool:
        # Only the capture item's note names its holder: a note of the former layout (on
        # CAPTURE_REF) is nobody's, and its announcer's retry announces nothing, as before.
        item = self.table.get(
            codec.capture_key(merchant_id, order_id, capture_id),
            projection=f"{ANNOUNCED}, {ANNOUNCED_BY}",
        )
        item = item or {}
        return (
            item.get(ANNOUNCED, {}).get("S") == status.value
            and item.get(ANNOUNCED_BY, {}).get("S") == announcer
        )

    def withdraw_announcement(
        self, merchant_id: str, order_id: str, capture_id: str, status: CaptureStatus
    ) -> bool:
        values: Values = {":status": string(status.value)}
        withdrawn, stands = self.table.update_or_old(
            codec.capture_key(merchant_id, order_id, capture_id),
            f"SET {ANNOUNCED} = :none REMOVE {ANNOUNCED_BY}",
            f"{ANNOUNCED} = :status",
            values={**values, ":none": string(NOT_ANNOUNCED)},
        )
        if withdrawn or not _former_layout(stands):
            return withdrawn
        return self.table.update(
            codec.capture_ref_key(merchant_id, capture_id),
            "REMOVE announced",
            "announced = :status",
            values=values,
        )

    def take_over_announcement(
        self, capture: Capture, *, holder: str, announcer: str, now: datetime
    ) -> bool:
        return self.table.update(
            codec.capture_key(capture.merchant_id, capture.order_id, capture.capture_id),
            f"SET {ANNOUNCED_BY} = :me, updated_at = :now",
            f"{ANNOUNCED} = :status AND {ANNOUNCED_BY} = :holder AND updated_at = :seen"
            f" AND begins_with({OPEN_STATUS}, :unannounced)",
            values={
                ":me": string(announcer),
                ":now": string(timestamp(now)),
                ":status": string(capture.status.value),
                ":holder": string(holder),
                ":seen": string(timestamp(capture.updated_at)),
                ":unannounced": string(f"{UNANNOUNCED}#"),
            },
        )

    def hand_over_announcement(self, capture: Capture, holder: str) -> bool:
        return self.table.update(
            codec.capture_key(capture.merchant_id, capture.order_id, capture.capture_id),
            f"SET {OPEN_STATUS} = :unannounced, {ANNOUNCED_BY} = :holder",
            f"#status = :captured AND attribute_not_exists({OPEN_STATUS}) AND ({ANNOUNCED} = :none"
            f" OR ({ANNOUNCED} = :captured AND {ANNOUNCED_BY} = :execution))",
            names={"#status": "status"},
            values={
                ":unannounced": string(layout.sharded(UNANNOUNCED, capture.capture_id)),
                ":holder": string(holder),
                ":captured": string(CaptureStatus.CAPTURED.value),
                ":none": string(NOT_ANNOUNCED),
                ":execution": string(announcer_for(capture.execution_id)),
            },
        )

    def announcement_sent(self, merchant_id: str, order_id: str, capture_id: str) -> None:
        self.table.update(
            codec.capture_key(merchant_id, order_id, capture_id),
            f"REMOVE {OPEN_STATUS}",
            f"begins_with({OPEN_STATUS}, :unannounced)",
            values={":unannounced": string(f"{UNANNOUNCED}#")},
        )

    def list_unannounced(self, updated_before: datetime) -> list[Capture]:
        keys = open_index_items(self.table, UNANNOUNCED, updated_before)
        _, captures = self._assemble(self.table.batch_get(keys), consistent=False)
        return sorted(captures, key=lambda capture: (capture.updated_at, capture.capture_id))


def _former_layout(capture_item: Item | None) -> bool:
    """Whether a capture item (as it stands after a refused write) keeps its note on its
    ``CAPTURE_REF`` item: it holds none of its own (reserved before the note moved to it).
    Should a settling write note it on the capture item meanwhile, that note wins over the
    pointer's (``confirmation_state``), and a claim read before it is taken back by its
    caller once the ledger no longer holds its outcome (``announcements``)."""
    return capture_item is not None and ANNOUNCED not in capture_item
