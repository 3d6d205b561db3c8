"""Captures a provider confirms later, on the ledger table: finding a capture by its id alone,
the confirmation workflow's task token, and the outcome announced for it.

All three live on the capture's ``CAPTURE_REF`` item (docs/ledger.md), written by the
reservation and never replaced by a capture write (a failed capture is Put whole).
"""

from __future__ import annotations

from order_capture.adapters.dynamodb import codec
from order_capture.adapters.dynamodb.codec import string
from order_capture.adapters.dynamodb.orders import OrderLedger
from order_capture.adapters.dynamodb.table import check_op, update_op
from order_capture.models import Capture, CaptureStatus
from order_capture.ports import ConfirmationState


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

    def confirmation_state(self, merchant_id: str, capture_id: str) -> ConfirmationState:
        item = self.table.get(
            codec.capture_ref_key(merchant_id, capture_id),
            projection="confirmation_token, announced",
        )
        item = item or {}
        announced = item.get("announced", {}).get("S")
        return ConfirmationState(
            task_token=item.get("confirmation_token", {}).get("S"),
            announced=CaptureStatus(announced) if announced else None,
        )

    def claim_announcement(self, merchant_id: str, capture_id: str, status: CaptureStatus) -> bool:
        # Conditional on the pointer: an Update of a missing item would create one holding
        # only the key, a pointer without its order that find_capture could not read. A
        # failed note is final: nothing settled after a failure (a stale success) claims it.
        return self.table.update(
            codec.capture_ref_key(merchant_id, capture_id),
            "SET announced = :status",
            "attribute_exists(PK) AND (attribute_not_exists(announced) OR "
            "(announced <> :status AND announced <> :failed))",
            values={
                ":status": string(status.value),
                ":failed": string(CaptureStatus.FAILED.value),
            },
        )

    def withdraw_announcement(
        self, merchant_id: str, capture_id: str, status: CaptureStatus
    ) -> bool:
        return self.table.update(
            codec.capture_ref_key(merchant_id, capture_id),
            "REMOVE announced",
            "announced = :status",
            values={":status": string(status.value)},
        )
