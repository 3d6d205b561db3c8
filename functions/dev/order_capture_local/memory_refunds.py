"""The in-memory ledger's refunds (``memory_ledger.MemoryLedger``): each refund reserved on its
capture's totals, settled once, with the DynamoDB adapter's conditions
(``adapters/dynamodb/refunds``)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from order_capture import history
from order_capture.errors import OrderChangedError
from order_capture.models import Capture, CaptureStatus, Order, Refund, RefundStatus

if TYPE_CHECKING:
    from datetime import datetime

    from order_capture.history import Change, HistoryEntry

RefundKey = tuple[str, str, str, str]


class MemoryRefunds:
    """The refund ports of the in-memory ledger; ``MemoryLedger`` holds the fields."""

    orders: dict[tuple[str, str], Order]
    captures: dict[tuple[str, str, str], Capture]
    refunds: dict[RefundKey, Refund]
    open_refunds: set[RefundKey]
    refund_refs: dict[tuple[str, str], tuple[str, str]]
    _lock: threading.RLock

    if TYPE_CHECKING:

        def _capture_key(self, capture: Capture) -> tuple[str, str, str]: ...

        def _note(self, merchant_id: str, order_id: str, entry: HistoryEntry) -> None: ...

    def _note_refund(self, refund: Refund, change: Change, before: RefundStatus | None) -> None:
        entry = history.refund_change(refund, change, before.value if before else None)
        self._note(refund.merchant_id, refund.order_id, entry)

    def _refund_key(self, refund: Refund) -> tuple[str, str, str, str]:
        return (refund.merchant_id, refund.order_id, refund.capture_id, refund.refund_id)

    def list_refunds(
        self, merchant_id: str, order_id: str, capture_id: str | None = None
    ) -> list[Refund]:
        with self._lock:
            refunds = [
                refund.model_copy(deep=True)
                for (merchant, order, capture, _), refund in self.refunds.items()
                if (merchant, order) == (merchant_id, order_id) and capture_id in (None, capture)
            ]
        return sorted(refunds, key=lambda refund: (refund.created_at, refund.refund_id))

    def list_open_refunds(self, updated_before: datetime) -> list[Refund]:
        with self._lock:
            refunds = [
                self.refunds[key].model_copy(deep=True)
                for key in self.open_refunds
                if self.refunds[key].updated_at < updated_before
            ]
        return sorted(refunds, key=lambda refund: (refund.updated_at, refund.refund_id))

    def reserve_refund(self, capture: Capture, refund: Refund) -> Refund | None:
        with self._lock:
            stored_refund = self.refunds.get(self._refund_key(refund))
            if stored_refund is not None:
                return stored_refund.model_copy(deep=True)
            key = self._capture_key(capture)
            stored = self.captures.get(key)
            if (
                stored is None
                or stored.status is not CaptureStatus.CAPTURED
                or stored.refunded_amount != capture.refunded_amount
                or stored.refund_pending_amount != capture.refund_pending_amount
            ):
                raise OrderChangedError(f"capture {capture.capture_id} changed while refunding")
            self.refunds[self._refund_key(refund)] = refund.model_copy(deep=True)
            self.open_refunds.add(self._refund_key(refund))
            self.captures[key] = stored.model_copy(
                update={"refund_pending_amount": capture.refund_pending_amount + refund.amount}
            )
            self.refund_refs[(refund.merchant_id, refund.refund_id)] = (
                refund.order_id,
                refund.capture_id,
            )
            self._note_refund(refund, "refund_reserved", None)
            return None

    def await_refund(self, refund: Refund) -> None:
        with self._lock:
            key = self._refund_key(refund)
            stored = self.refunds.get(key)
            if stored is None or stored.status is not RefundStatus.PENDING:
                return
            self.refunds[key] = stored.model_copy(
                update={"provider_reference": refund.provider_reference}
            )
            self.refund_refs[(refund.merchant_id, refund.refund_id)] = (
                refund.order_id,
                refund.capture_id,
            )
            self._note_refund(refund, "refund_sent", RefundStatus.PENDING)

    def find_refund(self, merchant_id: str, refund_id: str) -> Refund | None:
        with self._lock:
            pointer = self.refund_refs.get((merchant_id, refund_id))
            if pointer is None:
                return None
            refunds = self.list_refunds(merchant_id, *pointer)
            return next((refund for refund in refunds if refund.refund_id == refund_id), None)

    def _settle_refund(
        self,
        refund: Refund,
        expected: RefundStatus,
        update: dict[str, object],
        capture_delta: tuple[int, int],
        order_delta: int | None,
    ) -> bool:
        """The refund, still ``expected``, updated; ``capture_delta`` (refunded, pending) added
        to its capture and ``order_delta`` to its order's refunded amount (None: the order is
        not written)."""
        key = self._refund_key(refund)
        stored = self.refunds.get(key)
        capture_key = (refund.merchant_id, refund.order_id, refund.capture_id)
        capture = self.captures.get(capture_key)
        order_key = (refund.merchant_id, refund.order_id)
        order = self.orders.get(order_key)
        if stored is None or stored.status is not expected or capture is None:
            return False
        if order_delta is not None and order is None:
            return False
        self.refunds[key] = stored.model_copy(
            update={"status": refund.status, "updated_at": refund.updated_at, **update}
        )
        self.open_refunds.discard(key)
        refunded, pending = capture_delta
        self.captures[capture_key] = capture.model_copy(
            update={
                "refunded_amount": capture.refunded_amount + refunded,
                "refund_pending_amount": capture.refund_pending_amount + pending,
            }
        )
        if order_delta is not None and order is not None:
            self.orders[order_key] = order.model_copy(
                update={
                    "refunded_amount": order.refunded_amount + order_delta,
                    "version": order.version + 1,
                    "updated_at": refund.updated_at,
                }
            )
        self._note_refund(refund, history.settling_change(expected, refund), expected)
        return True

    def confirm_refund(self, refund: Refund) -> bool:
        with self._lock:
            return self._settle_refund(
                refund,
                RefundStatus.PENDING,
                {"provider_reference": refund.provider_reference},
                (refund.amount, -refund.amount),
                refund.amount,
            )

    def reverse_refund(self, refund: Refund) -> bool:
        with self._lock:
            return self._settle_refund(
                refund,
                RefundStatus.REFUNDED,
                {"failure": refund.failure},
                (-refund.amount, 0),
                -refund.amount,
            )

    def fail_refund(self, refund: Refund) -> bool:
        with self._lock:
            return self._settle_refund(
                refund, RefundStatus.PENDING, {"failure": refund.failure}, (0, -refund.amount), None
            )
