"""Refunds on the ledger table: each refund an item of its own, its totals on the capture and
the order.

A capture item holds only its refund totals (``refunded_amount``, ``refund_pending_amount``), so
no item grows with refunds and a refund is written with a plain conditional Put. Settling a
refund ADDs to the totals (commutative: no read needed), in the same transaction as the
refund's status condition that makes it count once.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from order_capture import history
from order_capture.adapters.dynamodb import codec, layout
from order_capture.adapters.dynamodb.codec import (
    OPEN_REFUND,
    OPEN_STATUS,
    number,
    order_pk,
    string,
    timestamp,
)
from order_capture.adapters.dynamodb.history import history_put
from order_capture.adapters.dynamodb.orders import OrderLedger, open_index_items
from order_capture.adapters.dynamodb.table import condition_failed, put_op, update_op
from order_capture.errors import LedgerUnavailableError, OrderChangedError
from order_capture.history import Change
from order_capture.models import Capture, CaptureStatus, Refund, RefundStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from order_capture.adapters.dynamodb.codec import Item, Values

_STATUS = {"#status": "status"}


def _refund_key(refund: Refund) -> Item:
    return codec.refund_key(
        refund.merchant_id, refund.order_id, refund.capture_id, refund.refund_id
    )


def _refund_ref_item(refund: Refund) -> Item:
    return {
        **codec.refund_ref_key(refund.merchant_id, refund.refund_id),
        "order_id": string(refund.order_id),
        "capture_id": string(refund.capture_id),
    }


def _history_put(
    table_name: str, refund: Refund, change: Change, before: RefundStatus | None
) -> TransactWriteItemTypeDef:
    entry = history.refund_change(refund, change, before.value if before is not None else None)
    return history_put(table_name, refund.merchant_id, refund.order_id, entry)


class RefundLedger(OrderLedger):
    """Refunds of captures (a refund's conditions are on its capture, hence OrderLedger)."""

    def await_refund(self, refund: Refund) -> None:
        note_reference = update_op(
            self.table_name,
            _refund_key(refund),
            "SET provider_reference = :ref",
            "#status = :pending",
            names=_STATUS,
            values={
                ":ref": codec.value(refund.provider_reference),
                ":pending": string(RefundStatus.PENDING.value),
            },
        )
        # A refund no longer pending was settled already: nothing left to note.
        sent = _history_put(self.table_name, refund, "refund_sent", RefundStatus.PENDING)
        pointer = put_op(self.table_name, _refund_ref_item(refund))
        self.table.transact([note_reference, pointer, sent])

    def find_refund(self, merchant_id: str, refund_id: str) -> Refund | None:
        pointer = self._pointer(
            codec.refund_ref_key(merchant_id, refund_id), "order_id", "capture_id"
        )
        if pointer is None:
            return None
        refunds = self.list_refunds(merchant_id, *pointer)
        return next((refund for refund in refunds if refund.refund_id == refund_id), None)

    def list_refunds(
        self, merchant_id: str, order_id: str, capture_id: str | None = None
    ) -> list[Refund]:
        prefix = codec.refund_sk(capture_id) if capture_id is not None else codec.REFUND_PREFIX
        items = self.table.query(
            "PK = :pk AND begins_with(SK, :prefix)",
            {":pk": string(order_pk(merchant_id, order_id)), ":prefix": string(prefix)},
            consistent=True,
        )
        refunds = [Refund.model_validate(codec.decode(item)) for item in items]
        return sorted(refunds, key=lambda refund: (refund.created_at, refund.refund_id))

    def list_open_refunds(self, updated_before: datetime) -> list[Refund]:
        keys = open_index_items(self.table, OPEN_REFUND, updated_before)
        items = self.table.batch_get(keys)
        refunds = [Refund.model_validate(codec.decode(item)) for item in items]
        return sorted(refunds, key=lambda refund: (refund.updated_at, refund.refund_id))

    def reserve_refund(self, capture: Capture, refund: Refund) -> Refund | None:
        # The capture's refund totals as read are the condition: DynamoDB conditions cannot
        # add, so "amount - refunded - pending >= refund" is checked by the caller on exactly
        # the totals this write requires to be still stored.
        conditions = ["#status = :captured"]
        values: dict[str, codec.AttributeValue] = {
            ":captured": string(CaptureStatus.CAPTURED.value),
            ":pending_after": number(capture.refund_pending_amount + refund.amount),
        }
        for attribute, expected in (
            ("refunded_amount", capture.refunded_amount),
            ("refund_pending_amount", capture.refund_pending_amount),
        ):
            values[f":{attribute}"] = number(expected)
            # Captures stored before refunds existed lack the attributes: absent means 0.
            absent = f" OR attribute_not_exists({attribute})" if expected == 0 else ""
            conditions.append(f"({attribute} = :{attribute}{absent})")
        refund_item = {
            **codec.encode(_refund_key(refund), refund),
            # In the sparse OpenCaptures index until settled, for reconciliation.
            OPEN_STATUS: string(layout.sharded(OPEN_REFUND, refund.refund_id)),
        }
        items = [
            put_op(self.table_name, refund_item, "attribute_not_exists(PK)", return_old=True),
            update_op(
                self.table_name,
                codec.capture_key(capture.merchant_id, capture.order_id, capture.capture_id),
                "SET refund_pending_amount = :pending_after",
                " AND ".join(conditions),
                names=_STATUS,
                values=values,
            ),
            # Findable by merchant and refund id from the moment it is reserved, before the
            # provider hears of it: a webhook naming a refund id without this pointer is not
            # about one of ours (as CAPTURE_REF, written by reserve, is for captures).
            put_op(self.table_name, _refund_ref_item(refund)),
            _history_put(self.table_name, refund, "refund_reserved", None),
        ]
        reasons = self.table.transact(items)
        if reasons is None:
            return None
        refund_reason, capture_reason = reasons[:2]
        if condition_failed(refund_reason):
            old = refund_reason.get("Item")
            if old:
                return Refund.model_validate(codec.decode(old))
            refunds = self.list_refunds(refund.merchant_id, refund.order_id, refund.capture_id)
            stored = next((r for r in refunds if r.refund_id == refund.refund_id), None)
            if stored is not None:
                return stored
        if condition_failed(capture_reason):
            raise OrderChangedError(f"capture {capture.capture_id} changed while refunding")
        raise LedgerUnavailableError(f"refund {refund.refund_id} was canceled: {reasons}")

    def _settle_refund(
        self,
        refund: Refund,
        refund_set: str,
        values: Values,
        totals: list[TransactWriteItemTypeDef],
        expected: RefundStatus = RefundStatus.PENDING,
    ) -> bool:
        """The refund, still ``expected``, updated with ``refund_set``, and the ``totals``
        updates, at once."""
        refund_update = update_op(
            self.table_name,
            _refund_key(refund),
            f"SET #status = :status, updated_at = :now, {refund_set} REMOVE open_status",
            "#status = :expected",
            names=_STATUS,
            values={
                ":status": string(refund.status.value),
                ":expected": string(expected.value),
                ":now": string(timestamp(refund.updated_at)),
                **values,
            },
        )
        change = history.settling_change(expected, refund)
        entry = _history_put(self.table_name, refund, change, expected)
        return self.table.transact([refund_update, *totals, entry]) is None

    def _refunded_totals(
        self, refund: Refund, delta: int, pending_delta: int
    ) -> list[TransactWriteItemTypeDef]:
        """ADD ``delta`` to the capture's and the order's refunded amounts (and
        ``pending_delta`` to the capture's pending one). ADD is commutative (as in confirm): no
        read of the capture or order is needed, and the refund's status condition makes it
        count once. The order's version moves so that a read-modify-write of the order
        (cancellations) cannot write back a stale total."""
        return [
            update_op(
                self.table_name,
                codec.capture_key(refund.merchant_id, refund.order_id, refund.capture_id),
                "ADD refunded_amount :amount, refund_pending_amount :pending",
                "attribute_exists(PK)",
                values={":amount": number(delta), ":pending": number(pending_delta)},
            ),
            update_op(
                self.table_name,
                codec.order_key(refund.merchant_id, refund.order_id),
                "ADD refunded_amount :amount, version :one SET updated_at = :now",
                "attribute_exists(PK)",
                values={
                    ":amount": number(delta),
                    ":one": number(1),
                    ":now": string(timestamp(refund.updated_at)),
                },
            ),
        ]

    def confirm_refund(self, refund: Refund) -> bool:
        return self._settle_refund(
            refund,
            "provider_reference = :ref",
            {":ref": codec.value(refund.provider_reference)},
            self._refunded_totals(refund, refund.amount, -refund.amount),
        )

    def _failure(self, refund: Refund) -> Values:
        failure = codec.storable(refund.failure) if refund.failure else None
        return {":failure": codec.value(failure)}

    def reverse_refund(self, refund: Refund) -> bool:
        return self._settle_refund(
            refund,
            "failure = :failure",
            self._failure(refund),
            self._refunded_totals(refund, -refund.amount, 0),
            expected=RefundStatus.REFUNDED,
        )

    def fail_refund(self, refund: Refund) -> bool:
        give_back = update_op(
            self.table_name,
            codec.capture_key(refund.merchant_id, refund.order_id, refund.capture_id),
            "ADD refund_pending_amount :minus",
            "attribute_exists(PK)",
            values={":minus": number(-refund.amount)},
        )
        return self._settle_refund(refund, "failure = :failure", self._failure(refund), [give_back])
