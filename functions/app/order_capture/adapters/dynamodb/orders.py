"""Orders and their captures on the ledger table: reads, and the conditional writes that move
money (register, reserve, confirm, release).

An order is up to three items and a capture up to two, its history folded into its
``CAPTURE#`` item (docs/ledger.md, ``layout``, ``capture_items``). ADD is commutative, so
confirming needs no read of the order; every other write of the order's header is
conditional on its ``version``, and a capture's on its status.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from order_capture import history
from order_capture.adapters.dynamodb import codec, layout
from order_capture.adapters.dynamodb.capture_items import (
    APPEND_HISTORY,
    HISTORY,
    capture_update,
    history_values,
)
from order_capture.adapters.dynamodb.codec import (
    ANNOUNCED,
    ANNOUNCED_BY,
    AUTHORIZATION_EXPIRES_AT,
    CAPTURE_LINES_PREFIX,
    CAPTURE_PREFIX,
    COUNTERS_SK,
    LINE_COUNT,
    LINES_SK,
    OPEN,
    OPEN_CAPTURE_STATUSES,
    OPEN_CAPTURES_INDEX,
    OPEN_ORDER,
    ORDER_SK,
    UNANNOUNCED,
    key,
    key_text,
    number,
    order_pk,
    string,
    timestamp,
)
from order_capture.adapters.dynamodb.table import (
    LedgerTable,
    condition_failed,
    put_op,
    update_op,
)
from order_capture.errors import LedgerUnavailableError, OrderChangedError
from order_capture.models import Capture, CaptureStatus, Model, Order

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from order_capture.adapters.dynamodb.codec import Item

_STATUS = {"#status": "status"}
#: A capture not noted as one whose confirmation may finish its order (``:true`` bound).
_NOT_MAY_FINISH_ORDER = "(attribute_not_exists(may_finish_order) OR may_finish_order <> :true)"


def open_index_items(table: LedgerTable, value: str, updated_before: datetime) -> list[Item]:
    """The keys under every shard of ``open_status = value`` touched before the moment."""
    return [
        item
        for shard in layout.every_shard(value)
        for item in table.query(
            "open_status = :status AND updated_at < :before",
            {":status": string(shard), ":before": string(timestamp(updated_before))},
            index=OPEN_CAPTURES_INDEX,
        )
    ]


class OrderLedger:
    """Orders and captures on one DynamoDB table; the boto3 client is created on first use."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = LedgerTable(table_name, client)

    @property
    def table_name(self) -> str:
        return self.table.table_name

    @property
    def client(self) -> DynamoDBClient:
        return self.table.client

    # --- items ---------------------------------------------------------------------------------

    def _order_item(self, order: Order) -> Item:
        """The order's header item (its catalog and counters are items of their own)."""
        pk = order_pk(order.merchant_id, order.order_id)
        item = codec.encode(key(pk, ORDER_SK), layout.order_header(order))
        if layout.counters_folded(order):
            item.update(codec.encode({}, layout.order_counters(order)))
        if order.capturable_amount > 0 or order.reserved_amount > 0:
            # The keys of the sparse OpenOrdersByExpiry index: only orders with money still
            # to capture carry them, so the expiry sweep reads just those.
            item[OPEN_ORDER] = string(layout.sharded(OPEN, pk))
            item[AUTHORIZATION_EXPIRES_AT] = string(timestamp(order.payment.expires_at))
        return item

    def _counters_puts(self, order: Order) -> list[TransactWriteItemTypeDef]:
        """The Put of the order's line counters (its header's condition guards it), unless
        its header holds them (``layout.counters_folded``)."""
        if layout.counters_folded(order):
            return []
        pk = order_pk(order.merchant_id, order.order_id)
        item = codec.encode(key(pk, COUNTERS_SK), layout.order_counters(order))
        return [put_op(self.table_name, item)]

    def _header_put(self, order: Order, expected_version: int) -> TransactWriteItemTypeDef:
        """The Put of the order's header, if it is still at ``expected_version``."""
        return put_op(
            self.table_name,
            self._order_item(order),
            "version = :expected",
            values={":expected": number(expected_version)},
        )

    def _capture_lines_puts(self, order: Order, capture: Capture) -> list[TransactWriteItemTypeDef]:
        """The Put of the capture's lines as an item of their own, unless folded (``layout``)."""
        if LINE_COUNT not in layout.capture_line_attributes(capture, order):
            return []
        primary = codec.capture_lines_key(capture.merchant_id, capture.order_id, capture.capture_id)
        item = codec.encode(primary, layout.capture_lines(capture, order))
        return [put_op(self.table_name, item)]

    # --- reads ------------------------------------------------------------------------------

    def _assemble(
        self, items: list[Item], consistent: bool = True
    ) -> tuple[dict[str, Order], list[Capture]]:
        """The orders (by PK) and captures that ``items`` hold, each capture with its lines
        (read here if ``items`` lacks them or its order's catalog)."""
        by_key = {key_text(item): item for item in items}
        missing = [
            wanted
            for (pk, sk), item in by_key.items()
            if sk.startswith(CAPTURE_PREFIX)
            for wanted in _needed_for_lines(pk, sk, item)
            if wanted not in by_key
        ]
        if missing:
            extra = self.table.batch_get([key(*k) for k in dict.fromkeys(missing)], consistent)
            by_key.update({key_text(item): item for item in extra})
        orders = {}
        for (pk, sk), item in by_key.items():
            if sk != ORDER_SK or (pk, LINES_SK) not in by_key:
                continue
            header = codec.plain(item)
            # Counters on the header are newer than any LINE_COUNTERS item (former layout).
            counters = header if layout.holds_counters(header) else by_key.get((pk, COUNTERS_SK))
            if counters is not None:
                orders[pk] = layout.order_from(
                    codec.decode(item),
                    codec.plain(by_key[(pk, LINES_SK)]),
                    counters if counters is header else codec.plain(counters),
                )
        captures = []
        for (pk, sk), item in by_key.items():
            if not sk.startswith(CAPTURE_PREFIX):
                continue
            capture = codec.decode(item)
            stored = (
                by_key.get((pk, CAPTURE_LINES_PREFIX + sk[len(CAPTURE_PREFIX) :]))
                if LINE_COUNT in item
                else item
            )
            if stored is not None and "positions" in stored:
                capture["lines"] = layout.lines_of(
                    codec.plain(stored), codec.plain(by_key[(pk, LINES_SK)])
                )
            captures.append(Capture.model_validate(capture))
        return orders, captures

    def get_order(self, merchant_id: str, order_id: str) -> Order | None:
        items = self.table.batch_get(codec.order_keys(merchant_id, order_id), consistent=True)
        orders, _ = self._assemble(items)
        return orders.get(order_pk(merchant_id, order_id))

    def get_capture(self, merchant_id: str, order_id: str, capture_id: str) -> Capture | None:
        item = self.table.get(codec.capture_key(merchant_id, order_id, capture_id))
        if item is None:
            return None
        _, captures = self._assemble([item])
        return captures[0]

    def get_order_and_capture(
        self, merchant_id: str, order_id: str, capture_id: str
    ) -> tuple[Order | None, Capture | None]:
        # A CAPTURE_LINES# item is read after, only if the capture names it (``_assemble``):
        # the capture sought is mostly not there yet, or small, and a read of an item that
        # does not exist costs 1 RRU all the same.
        keys = [
            *codec.order_keys(merchant_id, order_id),
            codec.capture_key(merchant_id, order_id, capture_id),
        ]
        orders, captures = self._assemble(self.table.batch_get(keys, consistent=True))
        return orders.get(order_pk(merchant_id, order_id)), captures[0] if captures else None

    def list_captures(self, merchant_id: str, order_id: str) -> list[Capture]:
        items = self.table.query(
            "PK = :pk AND begins_with(SK, :prefix)",
            {":pk": string(order_pk(merchant_id, order_id)), ":prefix": string(CAPTURE_PREFIX)},
            consistent=True,
        )
        _, captures = self._assemble(items)
        return sorted(captures, key=lambda capture: (capture.created_at, capture.capture_id))

    def list_open_captures(self, updated_before: datetime) -> list[Capture]:
        """Captures still pending or requires_action, last touched before ``updated_before``."""
        keys = [
            item
            for status in sorted(OPEN_CAPTURE_STATUSES)
            for item in open_index_items(self.table, status.value, updated_before)
        ]
        _, captures = self._assemble(self.table.batch_get(keys), consistent=False)
        return sorted(captures, key=lambda capture: (capture.updated_at, capture.capture_id))

    # --- conditional writes ---------------------------------------------------------------------

    def create_order(self, order: Order) -> Order | None:
        pk = order_pk(order.merchant_id, order.order_id)
        header = put_op(self.table_name, self._order_item(order), "attribute_not_exists(PK)")
        catalog = put_op(
            self.table_name, codec.encode(key(pk, LINES_SK), layout.order_catalog(order))
        )
        # The catalog and counters are written only with a header that did not exist.
        reasons = self.table.transact([header, catalog, *self._counters_puts(order)])
        if reasons is None:
            return None
        if condition_failed(reasons[0]):
            existing = self.get_order(order.merchant_id, order.order_id)
            if existing is not None:
                return existing
        raise LedgerUnavailableError(f"registration of {order.order_id} was canceled: {reasons}")

    def replace_order(self, order: Order, expected_version: int) -> None:
        reasons = self.table.transact(
            [self._header_put(order, expected_version), *self._counters_puts(order)]
        )
        if reasons is None:
            return
        if condition_failed(reasons[0]):
            raise OrderChangedError(
                f"order {order.order_id} changed since version {expected_version}"
            )
        raise LedgerUnavailableError(f"write of order {order.order_id} was canceled: {reasons}")

    def reserve(self, order: Order, expected_version: int, capture: Capture) -> Capture | None:
        pointer = {
            **codec.capture_ref_key(capture.merchant_id, capture.capture_id),
            "order_id": string(capture.order_id),
        }
        items = [
            self._header_put(order, expected_version),
            capture_update(
                self.table_name,
                capture,
                history.capture_change(capture, "reserved", None),
                # New, or replacing a failure recorded before anything was reserved
                # (models.failed_before_reservation): never over a live or settled capture.
                "attribute_not_exists(PK) OR (#status = :failed AND amount = :zero)",
                names=_STATUS,
                values={":failed": string(CaptureStatus.FAILED.value), ":zero": number(0)},
                lines=codec.encode({}, layout.capture_line_attributes(capture, order)),
                return_old=True,
                reserving=True,
            ),
            # Findable by merchant and capture id alone from the moment it is reserved, so a
            # provider's webhook finds it whatever became of the capture request (an answer
            # lost in a timeout included).
            put_op(self.table_name, pointer),
        ]
        if capture.lines:
            # Units shipped: the line counters and the capture's lines, where they are items
            # of their own (an amount capture changes neither).
            items += [*self._counters_puts(order), *self._capture_lines_puts(order, capture)]
        reasons = self.table.transact(items)
        if reasons is None:
            return None
        order_reason, capture_reason = reasons[:2]
        if condition_failed(capture_reason):
            old = capture_reason.get("Item")
            if old:
                return self._assemble([old])[1][0]
            stored = self.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
            if stored is not None:
                return stored
        if condition_failed(order_reason):
            raise OrderChangedError(
                f"order {order.order_id} changed since version {expected_version}"
            )
        raise LedgerUnavailableError(f"reservation of {capture.capture_id} was canceled: {reasons}")

    def confirm(self, capture: Capture, *, announced: bool = False) -> bool:
        # ADD is commutative, so confirming needs no read of the order; the capture's status
        # condition in the same transaction makes it happen once.
        now = string(timestamp(capture.updated_at))
        kept_open = announced and history.kept_open_until_announced()
        confirm_capture = update_op(
            self.table_name,
            codec.capture_key(capture.merchant_id, capture.order_id, capture.capture_id),
            "SET #status = :captured, provider_reference = :ref, "
            f"status_at_provider = :at_provider, updated_at = :now, {APPEND_HISTORY}"
            # Its confirmer announces it: noted in the same write, on the same item.
            + (f", {ANNOUNCED} = :captured, {ANNOUNCED_BY} = :by" if announced else "")
            # A confirmer nothing retries keeps it in the index until it has announced it.
            + (", open_status = :unannounced" if kept_open else " REMOVE open_status"),
            "#status IN (:pending, :requires_action)"
            # A release waits for it (``note_may_finish_order``): refused unless its confirmer
            # knows, so that it reads the order and releases (domain.service._confirm).
            + ("" if capture.may_finish_order else " AND " + _NOT_MAY_FINISH_ORDER),
            names={**_STATUS, "#history": HISTORY},
            values={
                # Its history entry, in the same write (``capture_items``).
                **history_values(
                    history.capture_change(capture, "confirmed", history.confirmed_from(capture)),
                    capture.execution_id,
                ),
                ":captured": string(CaptureStatus.CAPTURED.value),
                ":pending": string(CaptureStatus.PENDING.value),
                ":requires_action": string(CaptureStatus.REQUIRES_ACTION.value),
                ":ref": codec.value(capture.provider_reference),
                ":at_provider": codec.value(capture.status_at_provider),
                ":now": now,
                **({} if capture.may_finish_order else {":true": {"BOOL": True}}),
                **(
                    {":by": string(history.announcer_for(capture.execution_id))}
                    if announced
                    else {}
                ),
                **(
                    {":unannounced": string(layout.sharded(UNANNOUNCED, capture.capture_id))}
                    if kept_open
                    else {}
                ),
            },
        )
        add_to_order = update_op(
            self.table_name,
            codec.order_key(capture.merchant_id, capture.order_id),
            "ADD captured_amount :amount, reserved_amount :minus, "
            "capture_count :one, version :one SET updated_at = :now"
            # The order's last capture (nothing capturable after it, no other in flight when
            # it reserved): the order leaves the sparse OpenOrdersByExpiry index, so the
            # expiry sweep stops reading it.
            + (
                f" REMOVE {OPEN_ORDER}, {AUTHORIZATION_EXPIRES_AT}"
                if capture.releases_authorization
                else ""
            ),
            "attribute_exists(PK)",
            values={
                ":amount": number(capture.amount),
                ":minus": number(-capture.amount),
                ":one": number(1),
                ":now": now,
            },
        )
        return self.table.transact([confirm_capture, add_to_order]) is None

    def settle_failure(
        self,
        order: Order | None,
        expected_version: int | None,
        capture: Capture,
        expected_status: CaptureStatus | None,
        *,
        announced: bool = False,
    ) -> bool:
        entry = history.failure_change(capture, expected_status, released=order is not None)
        if expected_status is None:
            capture_write = capture_update(
                self.table_name, capture, entry, "attribute_not_exists(PK)"
            )
        else:
            capture_write = capture_update(
                self.table_name,
                capture,
                entry,
                "#status = :expected_status",
                names=_STATUS,
                values={":expected_status": string(expected_status.value)},
                # Its settler announces it: noted in the same write (``capture_items``).
                announced=announced,
            )
        items = [capture_write]
        if order is not None:
            items.append(self._header_put(order, expected_version or 0))
            if capture.lines:  # its units given back
                items += self._counters_puts(order)
        reasons = self.table.transact(items)
        if reasons is None:
            return True
        if len(reasons) > 1 and condition_failed(reasons[1]):
            raise OrderChangedError(f"order {capture.order_id} changed while releasing")
        return False

    def record_orphan_failure(self, execution_id: str, failure: Model) -> None:
        self.table.put(codec.encode(codec.execution_failure_key(execution_id), failure))

    def await_provider(self, capture: Capture) -> None:
        # One conditional write, its history entry in it: not written when no longer
        # pending, settled already (its webhook was faster): nothing to note.
        sent = history.capture_change(capture, "sent", CaptureStatus.PENDING)
        self.table.update(
            codec.capture_key(capture.merchant_id, capture.order_id, capture.capture_id),
            f"SET provider_reference = :ref, status_at_provider = :at_provider, {APPEND_HISTORY}",
            "#status = :pending",
            names={**_STATUS, "#history": HISTORY},
            values={
                ":ref": codec.value(capture.provider_reference),
                ":at_provider": codec.value(capture.status_at_provider),
                ":pending": string(CaptureStatus.PENDING.value),
                **history_values(sent, capture.execution_id),
            },
        )

    def _pointer(self, pointer_key: Item, *attributes: str) -> list[str] | None:
        """The string ``attributes`` of a pointer item (CAPTURE_REF, REFUND_REF), read
        consistently; None if there is no such pointer."""
        item = self.table.get(pointer_key)
        if item is None:
            return None
        return [item[attribute]["S"] for attribute in attributes]


def _needed_for_lines(pk: str, sk: str, capture_item: Item) -> list[tuple[str, str]]:
    """The items naming a ``CAPTURE#`` item's lines: its order's catalog, and its
    ``CAPTURE_LINES#`` item when the lines are kept apart (``layout``)."""
    if LINE_COUNT in capture_item:
        return [(pk, CAPTURE_LINES_PREFIX + sk[len(CAPTURE_PREFIX) :]), (pk, LINES_SK)]
    return [(pk, LINES_SK)] if "positions" in capture_item else []
