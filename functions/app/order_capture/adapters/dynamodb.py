"""The ledger on DynamoDB: the only module that talks to DynamoDB.

One table, keys ``PK``/``SK``:

========================================  ======================  ==========================
PK                                        SK                      item
========================================  ======================  ==========================
``ORDER#<merchant_id>#<order_id>``        ``ORDER``               the order's header, totals
``ORDER#<merchant_id>#<order_id>``        ``LINES``               its lines as registered
``ORDER#<merchant_id>#<order_id>``        ``LINE_COUNTERS``       units shipped/canceled
``ORDER#<merchant_id>#<order_id>``        ``CAPTURE#<id>``        one capture (pending/final)
``ORDER#<merchant_id>#<order_id>``        ``CAPTURE_LINES#<id>``  that capture's lines
``ORDER#<merchant_id>#<order_id>``        ``REFUND#<c>#<id>``     one refund of capture ``c``
``CAPTURE_REF#<merchant_id>#<capture_id>``  ``CAPTURE``             order of a capture a provider
                                                                  confirms later (its webhook)
``EXECUTION#<execution id>``              ``FAILURE``             a failure naming no order
========================================  ======================  ==========================

How an order and a capture's lines spread over items (so that what a capture rewrites stays
small whatever the order's size) is ``ledger_layout``'s. No item grows with captures. A capture
item holds only its refund totals (``refunded_amount``, ``refund_pending_amount``): each refund
is an item of its own, so no item grows with refunds and a refund is written with a plain
conditional Put instead of rewriting a list. The sparse indexes' keys are sharded
(``ledger_layout.INDEX_SHARDS``): their readers query every shard.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from order_capture.adapters import ledger_layout as layout
from order_capture.adapters.ledger_layout import (
    CAPTURE_LINES_PREFIX,
    COUNTERS_SK,
    LINE_COUNT,
    LINES_SK,
    ORDER_SK,
)
from order_capture.errors import LedgerUnavailableError, OrderChangedError
from order_capture.models import Capture, CaptureStatus, Model, Order, Refund, RefundStatus
from order_capture.ports import ConfirmationState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

OPEN_STATUS = "open_status"
OPEN_ORDER = "open_order"
AUTHORIZATION_EXPIRES_AT = "authorization_expires_at"
OPEN_ORDERS_INDEX = "OpenOrdersByExpiry"
OPEN_CAPTURES_INDEX = "OpenCaptures"
OPEN_CAPTURE_STATUSES = frozenset({CaptureStatus.PENDING, CaptureStatus.REQUIRES_ACTION})
#: ``open_status`` of a pending refund: the same sparse index, its own partition.
OPEN_REFUND = "refund_pending"
CAPTURE_PREFIX = "CAPTURE#"
REFUND_PREFIX = "REFUND#"
_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "TransactionConflictException",
    }
)


def order_pk(merchant_id: str, order_id: str) -> str:
    return f"ORDER#{merchant_id}#{order_id}"


def _utc_text(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, so that index keys sort as the instants they name."""
    from datetime import UTC  # noqa: PLC0415

    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _to_plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the ledger only stores integers."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {key: _to_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_plain(item) for item in value]
    return value


class DynamoDBOrderRepository:
    """OrderRepository on one DynamoDB table; the boto3 client is created on first use."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @cached_property
    def client(self) -> DynamoDBClient:
        if self._client is not None:
            return self._client
        import boto3  # noqa: PLC0415 - imported on first use to keep cold starts short

        return boto3.client("dynamodb")

    @cached_property
    def _serializer(self) -> Any:
        from boto3.dynamodb.types import TypeSerializer  # noqa: PLC0415

        return TypeSerializer()

    @cached_property
    def _deserializer(self) -> Any:
        from boto3.dynamodb.types import TypeDeserializer  # noqa: PLC0415

        return TypeDeserializer()

    # --- encoding ------------------------------------------------------------------------

    def _encode(self, pk: str, sk: str, model: Model | dict[str, Any]) -> dict[str, Any]:
        body = model if isinstance(model, dict) else model.model_dump(mode="json")
        item = {"PK": pk, "SK": sk, **body}
        return {key: self._serializer.serialize(value) for key, value in item.items()}

    def _plain(self, item: dict[str, Any]) -> dict[str, Any]:
        plain = {key: self._deserializer.deserialize(value) for key, value in item.items()}
        return cast(dict[str, Any], _to_plain(plain))

    def _decode(self, item: dict[str, Any]) -> dict[str, Any]:
        plain = self._plain(item)
        for attribute in (
            "PK",
            "SK",
            OPEN_STATUS,
            OPEN_ORDER,
            AUTHORIZATION_EXPIRES_AT,
            LINE_COUNT,
        ):
            plain.pop(attribute, None)
        return plain

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {"PK": {"S": pk}, "SK": {"S": sk}}

    def _order_key(self, merchant_id: str, order_id: str) -> dict[str, Any]:
        return self._key(order_pk(merchant_id, order_id), ORDER_SK)

    def _order_keys(self, merchant_id: str, order_id: str) -> list[dict[str, Any]]:
        """The three items of an order (see ledger_layout)."""
        pk = order_pk(merchant_id, order_id)
        return [self._key(pk, sk) for sk in (ORDER_SK, LINES_SK, COUNTERS_SK)]

    def _capture_key(self, merchant_id: str, order_id: str, capture_id: str) -> dict[str, Any]:
        return self._key(order_pk(merchant_id, order_id), CAPTURE_PREFIX + capture_id)

    def _order_item(self, order: Order) -> dict[str, Any]:
        """The order's header item (its catalog and counters are items of their own)."""
        pk = order_pk(order.merchant_id, order.order_id)
        item = self._encode(pk, ORDER_SK, layout.order_header(order))
        if order.capturable_amount > 0 or order.reserved_amount > 0:
            # The keys of the sparse OpenOrdersByExpiry index: only orders with money still
            # to capture carry them, so the expiry sweep reads just those.
            item[OPEN_ORDER] = {"S": layout.sharded("open", pk)}
            item[AUTHORIZATION_EXPIRES_AT] = {"S": _utc_text(order.payment.expires_at)}
        return item

    def _counters_put(self, order: Order) -> dict[str, Any]:
        """The Put of the order's line counters (its header's condition guards it)."""
        pk = order_pk(order.merchant_id, order.order_id)
        item = self._encode(pk, COUNTERS_SK, layout.order_counters(order))
        return {"Put": {"TableName": self.table_name, "Item": item}}

    def _capture_item(self, capture: Capture) -> dict[str, Any]:
        item = self._encode(
            order_pk(capture.merchant_id, capture.order_id),
            CAPTURE_PREFIX + capture.capture_id,
            capture,
        )
        if capture.lines:
            # Its lines are an item of their own, written by reserve (see ledger_layout).
            item[LINE_COUNT] = {"N": str(len(capture.lines))}
        if capture.status in OPEN_CAPTURE_STATUSES:
            # The key of the sparse OpenCaptures index: only unsettled captures carry it.
            item[OPEN_STATUS] = {"S": layout.sharded(capture.status.value, capture.capture_id)}
        return item

    def _capture_lines_put(self, order: Order, capture: Capture) -> dict[str, Any]:
        pk = order_pk(capture.merchant_id, capture.order_id)
        item = self._encode(
            pk, CAPTURE_LINES_PREFIX + capture.capture_id, layout.capture_lines(capture, order)
        )
        return {"Put": {"TableName": self.table_name, "Item": item}}

    # --- reads ------------------------------------------------------------------------------

    def _assemble(
        self, items: list[dict[str, Any]], consistent: bool = True
    ) -> tuple[dict[str, Order], list[Capture]]:
        """The orders (by PK) and captures that ``items`` hold, each capture with its lines
        (read here if ``items`` lacks them or its order's catalog)."""
        plain = {(item["PK"]["S"], item["SK"]["S"]): item for item in items}
        missing = [
            key
            for (pk, sk), item in plain.items()
            if sk.startswith(CAPTURE_PREFIX) and LINE_COUNT in item
            for key in ((pk, CAPTURE_LINES_PREFIX + sk[len(CAPTURE_PREFIX) :]), (pk, LINES_SK))
            if key not in plain
        ]
        if missing:
            extra = self._batch_get([self._key(*key) for key in dict.fromkeys(missing)], consistent)
            plain.update({(item["PK"]["S"], item["SK"]["S"]): item for item in extra})
        orders = {
            pk: layout.order_from(
                self._decode(item),
                self._plain(plain[(pk, LINES_SK)]),
                self._plain(plain[(pk, COUNTERS_SK)]),
            )
            for (pk, sk), item in plain.items()
            if sk == ORDER_SK and (pk, LINES_SK) in plain and (pk, COUNTERS_SK) in plain
        }
        captures = []
        for (pk, sk), item in plain.items():
            if not sk.startswith(CAPTURE_PREFIX):
                continue
            capture = self._decode(item)
            stored = plain.get((pk, CAPTURE_LINES_PREFIX + sk[len(CAPTURE_PREFIX) :]))
            if stored is not None and LINE_COUNT in item:
                capture["lines"] = layout.lines_of(
                    self._plain(stored), self._plain(plain[(pk, LINES_SK)])
                )
            captures.append(Capture.model_validate(capture))
        return orders, captures

    def get_order(self, merchant_id: str, order_id: str) -> Order | None:
        orders, _ = self._assemble(self._batch_get(self._order_keys(merchant_id, order_id), True))
        return orders.get(order_pk(merchant_id, order_id))

    def get_capture(self, merchant_id: str, order_id: str, capture_id: str) -> Capture | None:
        response = self._call(
            "get_item",
            TableName=self.table_name,
            Key=self._capture_key(merchant_id, order_id, capture_id),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        _, captures = self._assemble([item])
        return captures[0]

    def get_order_and_capture(
        self, merchant_id: str, order_id: str, capture_id: str
    ) -> tuple[Order | None, Capture | None]:
        pk = order_pk(merchant_id, order_id)
        keys = [
            *self._order_keys(merchant_id, order_id),
            self._capture_key(merchant_id, order_id, capture_id),
            self._key(pk, CAPTURE_LINES_PREFIX + capture_id),
        ]
        orders, captures = self._assemble(self._batch_get(keys, consistent=True))
        return orders.get(pk), captures[0] if captures else None

    def list_captures(self, merchant_id: str, order_id: str) -> list[Capture]:
        items = self._query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": order_pk(merchant_id, order_id)},
                ":prefix": {"S": CAPTURE_PREFIX},
            },
            ConsistentRead=True,
        )
        _, captures = self._assemble(items)
        return sorted(captures, key=lambda capture: (capture.created_at, capture.capture_id))

    def _open_items(self, value: str, updated_before: datetime) -> list[dict[str, Any]]:
        """The keys under every shard of ``open_status = value`` touched before the moment."""
        return [
            item
            for shard in layout.every_shard(value)
            for item in self._query_all(
                IndexName=OPEN_CAPTURES_INDEX,
                KeyConditionExpression="open_status = :status AND updated_at < :before",
                ExpressionAttributeValues={
                    ":status": {"S": shard},
                    ":before": {"S": updated_before.isoformat().replace("+00:00", "Z")},
                },
            )
        ]

    def list_open_captures(self, updated_before: datetime) -> list[Capture]:
        """Captures still pending or requires_action, last touched before ``updated_before``."""
        keys = [
            item
            for status in sorted(OPEN_CAPTURE_STATUSES)
            for item in self._open_items(status.value, updated_before)
        ]
        _, captures = self._assemble(self._batch_get(keys), consistent=False)
        return sorted(captures, key=lambda capture: (capture.updated_at, capture.capture_id))

    def list_open_refunds(self, updated_before: datetime) -> list[Refund]:
        keys = self._open_items(OPEN_REFUND, updated_before)
        refunds = [Refund.model_validate(self._decode(item)) for item in self._batch_get(keys)]
        return sorted(refunds, key=lambda refund: (refund.updated_at, refund.refund_id))

    def list_orders_expiring_before(self, moment: datetime) -> list[Order]:
        """Orders with money still to capture whose authorization expires before ``moment``."""
        keys = [
            self._key(item["PK"]["S"], sk)
            for shard in layout.every_shard("open")
            for item in self._query_all(
                IndexName=OPEN_ORDERS_INDEX,
                KeyConditionExpression="open_order = :open AND authorization_expires_at < :before",
                ExpressionAttributeValues={
                    ":open": {"S": shard},
                    ":before": {"S": _utc_text(moment)},
                },
            )
            for sk in (ORDER_SK, LINES_SK, COUNTERS_SK)
        ]
        orders, _ = self._assemble(self._batch_get(keys), consistent=False)
        return sorted(orders.values(), key=lambda order: (order.payment.expires_at, order.order_id))

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        """Every item a Query matches, page after page."""
        items: list[dict[str, Any]] = []
        kwargs["TableName"] = self.table_name
        while True:
            page = self._call("query", **kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _batch_get(
        self, keys: list[dict[str, Any]], consistent: bool = False
    ) -> list[dict[str, Any]]:
        """The items under ``keys`` (any extra attributes of a key are ignored), 100 a request,
        retrying what DynamoDB leaves unprocessed."""
        items: list[dict[str, Any]] = []
        plain_keys = [{"PK": key["PK"], "SK": key["SK"]} for key in keys]
        for start in range(0, len(plain_keys), 100):  # BatchGetItem takes 100 keys at most
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": plain_keys[start : start + 100],
                    "ConsistentRead": consistent,
                }
            }
            while request:
                response = self._call("batch_get_item", RequestItems=request)
                items.extend(response.get("Responses", {}).get(self.table_name, []))
                request = response.get("UnprocessedKeys") or {}
        return items

    # --- conditional writes ---------------------------------------------------------------------

    def create_order(self, order: Order) -> Order | None:
        pk = order_pk(order.merchant_id, order.order_id)
        header = {
            "Put": {
                "TableName": self.table_name,
                "Item": self._order_item(order),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }
        catalog = {
            "Put": {
                "TableName": self.table_name,
                "Item": self._encode(pk, LINES_SK, layout.order_catalog(order)),
            }
        }
        # The catalog and counters are written only with a header that did not exist.
        reasons = self._transact([header, catalog, self._counters_put(order)])
        if reasons is None:
            return None
        if reasons[0].get("Code") == "ConditionalCheckFailed":
            existing = self.get_order(order.merchant_id, order.order_id)
            if existing is not None:
                return existing
        raise LedgerUnavailableError(f"registration of {order.order_id} was canceled: {reasons}")

    def _header_put(self, order: Order, expected_version: int) -> dict[str, Any]:
        """The Put of the order's header, if it is still at ``expected_version``."""
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": self._order_item(order),
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        }

    def replace_order(self, order: Order, expected_version: int) -> None:
        reasons = self._transact(
            [self._header_put(order, expected_version), self._counters_put(order)]
        )
        if reasons is None:
            return
        if reasons[0].get("Code") == "ConditionalCheckFailed":
            raise OrderChangedError(
                f"order {order.order_id} changed since version {expected_version}"
            )
        raise LedgerUnavailableError(f"write of order {order.order_id} was canceled: {reasons}")

    def reserve(self, order: Order, expected_version: int, capture: Capture) -> Capture | None:
        items = [
            self._header_put(order, expected_version),
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": self._capture_item(capture),
                    # New, or replacing a failure recorded before anything was reserved
                    # (models.failed_before_reservation): never over a live or settled capture.
                    "ConditionExpression": "attribute_not_exists(PK) OR "
                    "(#status = :failed AND amount = :zero)",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":failed": {"S": CaptureStatus.FAILED.value},
                        ":zero": {"N": "0"},
                    },
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            {
                # Findable by merchant and capture id alone from the moment it is reserved, so
                # a provider's webhook finds it whatever became of the capture request (an
                # answer lost in a timeout included).
                "Put": {
                    "TableName": self.table_name,
                    "Item": {
                        **self._capture_ref_key(capture.merchant_id, capture.capture_id),
                        "order_id": {"S": capture.order_id},
                    },
                }
            },
        ]
        if capture.lines:
            # Units shipped: the line counters and the capture's lines (an amount capture
            # changes neither).
            items += [self._counters_put(order), self._capture_lines_put(order, capture)]
        reasons = self._transact(items)
        if reasons is None:
            return None
        order_reason, capture_reason = reasons[:2]
        if capture_reason.get("Code") == "ConditionalCheckFailed":
            old = capture_reason.get("Item")
            if old:
                return self._assemble([old])[1][0]
            stored = self.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
            if stored is not None:
                return stored
        if order_reason.get("Code") == "ConditionalCheckFailed":
            raise OrderChangedError(
                f"order {order.order_id} changed since version {expected_version}"
            )
        raise LedgerUnavailableError(f"reservation of {capture.capture_id} was canceled: {reasons}")

    def confirm(self, capture: Capture) -> bool:
        # ADD is commutative, so confirming needs no read of the order; the capture's status
        # condition in the same transaction makes it happen once.
        items = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": self._capture_key(
                        capture.merchant_id, capture.order_id, capture.capture_id
                    ),
                    "UpdateExpression": "SET #status = :captured, provider_reference = :ref, "
                    "status_at_provider = :at_provider, updated_at = :now REMOVE open_status",
                    "ConditionExpression": "#status IN (:pending, :requires_action)",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":captured": {"S": CaptureStatus.CAPTURED.value},
                        ":pending": {"S": CaptureStatus.PENDING.value},
                        ":requires_action": {"S": CaptureStatus.REQUIRES_ACTION.value},
                        ":ref": self._serializer.serialize(capture.provider_reference),
                        ":at_provider": self._serializer.serialize(capture.status_at_provider),
                        ":now": {"S": capture.updated_at.isoformat()},
                    },
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": self._order_key(capture.merchant_id, capture.order_id),
                    "UpdateExpression": "ADD captured_amount :amount, reserved_amount :minus, "
                    "capture_count :one, version :one SET updated_at = :now"
                    # The order's last capture (nothing capturable after it, no other in
                    # flight when it reserved): the order leaves the sparse OpenOrdersByExpiry
                    # index, so the expiry sweep stops reading it.
                    + (
                        f" REMOVE {OPEN_ORDER}, {AUTHORIZATION_EXPIRES_AT}"
                        if capture.releases_authorization
                        else ""
                    ),
                    "ConditionExpression": "attribute_exists(PK)",
                    "ExpressionAttributeValues": {
                        ":amount": {"N": str(capture.amount)},
                        ":minus": {"N": str(-capture.amount)},
                        ":one": {"N": "1"},
                        ":now": {"S": capture.updated_at.isoformat()},
                    },
                }
            },
        ]
        return self._transact(items) is None

    def settle_failure(
        self,
        order: Order | None,
        expected_version: int | None,
        capture: Capture,
        expected_status: CaptureStatus | None,
    ) -> bool:
        capture_put: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": self._capture_item(capture),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
        if expected_status is not None:
            capture_put["ConditionExpression"] = "#status = :expected_status"
            capture_put["ExpressionAttributeNames"] = {"#status": "status"}
            capture_put["ExpressionAttributeValues"] = {
                ":expected_status": {"S": expected_status.value}
            }
        items: list[dict[str, Any]] = [{"Put": capture_put}]
        if order is not None:
            items.append(self._header_put(order, expected_version or 0))
            if capture.lines:  # its units given back
                items.append(self._counters_put(order))
        reasons = self._transact(items)
        if reasons is None:
            return True
        if len(reasons) > 1 and reasons[1].get("Code") == "ConditionalCheckFailed":
            raise OrderChangedError(f"order {capture.order_id} changed while releasing")
        return False

    def record_orphan_failure(self, execution_id: str, failure: Model) -> None:
        self._call(
            "put_item",
            TableName=self.table_name,
            Item=self._encode(f"EXECUTION#{execution_id}", "FAILURE", failure),
        )

    # --- captures the provider confirms later --------------------------------------------------

    def _capture_ref_key(self, merchant_id: str, capture_id: str) -> dict[str, Any]:
        return {"PK": {"S": f"CAPTURE_REF#{merchant_id}#{capture_id}"}, "SK": {"S": "CAPTURE"}}

    def await_provider(self, capture: Capture) -> None:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key=self._capture_key(capture.merchant_id, capture.order_id, capture.capture_id),
                UpdateExpression="SET provider_reference = :ref, status_at_provider = :at_provider",
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":ref": self._serializer.serialize(capture.provider_reference),
                    ":at_provider": self._serializer.serialize(capture.status_at_provider),
                    ":pending": {"S": CaptureStatus.PENDING.value},
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # No longer pending: settled already (its webhook was faster), nothing to note.

    def _pointer(self, key: dict[str, Any], *attributes: str) -> list[str] | None:
        """The string ``attributes`` of a pointer item (CAPTURE_REF, REFUND_REF), read
        consistently; None if there is no such pointer."""
        response = self._call("get_item", TableName=self.table_name, Key=key, ConsistentRead=True)
        item = response.get("Item")
        if not item:
            return None
        return [item[attribute]["S"] for attribute in attributes]

    def find_capture(self, merchant_id: str, capture_id: str) -> Capture | None:
        pointer = self._pointer(self._capture_ref_key(merchant_id, capture_id), "order_id")
        if pointer is None:
            return None
        return self.get_capture(merchant_id, pointer[0], capture_id)

    def await_confirmation(self, capture: Capture, task_token: str) -> bool:
        # The token lives on the CAPTURE_REF item, which no capture write replaces (a failed
        # capture is Put whole); the condition on the capture in the same transaction orders
        # this against the webhook's settling write.
        items = [
            {
                "ConditionCheck": {
                    "TableName": self.table_name,
                    "Key": self._capture_key(
                        capture.merchant_id, capture.order_id, capture.capture_id
                    ),
                    "ConditionExpression": "#status = :pending",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {":pending": {"S": CaptureStatus.PENDING.value}},
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": self._capture_ref_key(capture.merchant_id, capture.capture_id),
                    "UpdateExpression": "SET confirmation_token = :token, order_id = :order",
                    "ExpressionAttributeValues": {
                        ":token": {"S": task_token},
                        ":order": {"S": capture.order_id},
                    },
                }
            },
        ]
        return self._transact(items) is None

    def confirmation_state(self, merchant_id: str, capture_id: str) -> ConfirmationState:
        response = self._call(
            "get_item",
            TableName=self.table_name,
            Key=self._capture_ref_key(merchant_id, capture_id),
            ConsistentRead=True,
            ProjectionExpression="confirmation_token, announced",
        )
        item = response.get("Item", {})
        announced = item.get("announced", {}).get("S")
        return ConfirmationState(
            task_token=item.get("confirmation_token", {}).get("S"),
            announced=CaptureStatus(announced) if announced else None,
        )

    def mark_announced(self, merchant_id: str, capture_id: str, status: CaptureStatus) -> None:
        self._call(
            "update_item",
            TableName=self.table_name,
            Key=self._capture_ref_key(merchant_id, capture_id),
            UpdateExpression="SET announced = :status",
            ExpressionAttributeValues={":status": {"S": status.value}},
        )

    def _refund_key(self, refund: Refund) -> dict[str, Any]:
        return {
            "PK": {"S": order_pk(refund.merchant_id, refund.order_id)},
            "SK": {"S": f"{REFUND_PREFIX}{refund.capture_id}#{refund.refund_id}"},
        }

    def _refund_ref_key(self, merchant_id: str, refund_id: str) -> dict[str, Any]:
        return {"PK": {"S": f"REFUND_REF#{merchant_id}#{refund_id}"}, "SK": {"S": "REFUND"}}

    def _refund_ref_item(self, refund: Refund) -> dict[str, Any]:
        return {
            **self._refund_ref_key(refund.merchant_id, refund.refund_id),
            "order_id": {"S": refund.order_id},
            "capture_id": {"S": refund.capture_id},
        }

    def await_refund(self, refund: Refund) -> None:
        items = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": self._refund_key(refund),
                    "UpdateExpression": "SET provider_reference = :ref",
                    "ConditionExpression": "#status = :pending",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":ref": self._serializer.serialize(refund.provider_reference),
                        ":pending": {"S": RefundStatus.PENDING.value},
                    },
                }
            },
            {"Put": {"TableName": self.table_name, "Item": self._refund_ref_item(refund)}},
        ]
        # A refund no longer pending was settled already: nothing left to note.
        self._transact(items)

    def find_refund(self, merchant_id: str, refund_id: str) -> Refund | None:
        pointer = self._pointer(
            self._refund_ref_key(merchant_id, refund_id), "order_id", "capture_id"
        )
        if pointer is None:
            return None
        refunds = self.list_refunds(merchant_id, *pointer)
        return next((refund for refund in refunds if refund.refund_id == refund_id), None)

    def list_refunds(
        self, merchant_id: str, order_id: str, capture_id: str | None = None
    ) -> list[Refund]:
        prefix = REFUND_PREFIX + (f"{capture_id}#" if capture_id is not None else "")
        items = self._query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": order_pk(merchant_id, order_id)},
                ":prefix": {"S": prefix},
            },
            ConsistentRead=True,
        )
        refunds = [Refund.model_validate(self._decode(item)) for item in items]
        return sorted(refunds, key=lambda refund: (refund.created_at, refund.refund_id))

    def reserve_refund(self, capture: Capture, refund: Refund) -> Refund | None:
        # The capture's refund totals as read are the condition: DynamoDB conditions cannot
        # add, so "amount - refunded - pending >= refund" is checked by the caller on exactly
        # the totals this write requires to be still stored.
        conditions = ["#status = :captured"]
        values: dict[str, Any] = {
            ":captured": {"S": CaptureStatus.CAPTURED.value},
            ":pending_after": {"N": str(capture.refund_pending_amount + refund.amount)},
        }
        for attribute, expected in (
            ("refunded_amount", capture.refunded_amount),
            ("refund_pending_amount", capture.refund_pending_amount),
        ):
            values[f":{attribute}"] = {"N": str(expected)}
            # Captures stored before refunds existed lack the attributes: absent means 0.
            absent = f" OR attribute_not_exists({attribute})" if expected == 0 else ""
            conditions.append(f"({attribute} = :{attribute}{absent})")
        items = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {
                        **self._encode(
                            order_pk(refund.merchant_id, refund.order_id),
                            f"{REFUND_PREFIX}{refund.capture_id}#{refund.refund_id}",
                            refund,
                        ),
                        # In the sparse OpenCaptures index until settled, for reconciliation.
                        OPEN_STATUS: {"S": layout.sharded(OPEN_REFUND, refund.refund_id)},
                    },
                    "ConditionExpression": "attribute_not_exists(PK)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": self._capture_key(
                        capture.merchant_id, capture.order_id, capture.capture_id
                    ),
                    "UpdateExpression": "SET refund_pending_amount = :pending_after",
                    "ConditionExpression": " AND ".join(conditions),
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": values,
                }
            },
            # Findable by merchant and refund id from the moment it is reserved, before the
            # provider hears of it: a webhook naming a refund id without this pointer is not
            # about one of ours (as CAPTURE_REF, written by reserve, is for captures).
            {"Put": {"TableName": self.table_name, "Item": self._refund_ref_item(refund)}},
        ]
        reasons = self._transact(items)
        if reasons is None:
            return None
        refund_reason, capture_reason = reasons[:2]
        if refund_reason.get("Code") == "ConditionalCheckFailed":
            old = refund_reason.get("Item")
            if old:
                return Refund.model_validate(self._decode(old))
            refunds = self.list_refunds(refund.merchant_id, refund.order_id, refund.capture_id)
            stored = next((r for r in refunds if r.refund_id == refund.refund_id), None)
            if stored is not None:
                return stored
        if capture_reason.get("Code") == "ConditionalCheckFailed":
            raise OrderChangedError(f"capture {capture.capture_id} changed while refunding")
        raise LedgerUnavailableError(f"refund {refund.refund_id} was canceled: {reasons}")

    def _settle_refund(
        self,
        refund: Refund,
        refund_set: str,
        values: dict[str, Any],
        totals: list[dict[str, Any]],
        expected: RefundStatus = RefundStatus.PENDING,
    ) -> bool:
        """The refund, still ``expected``, updated with ``refund_set``, and the ``totals``
        updates, at once."""
        refund_update = {
            "Update": {
                "TableName": self.table_name,
                "Key": self._refund_key(refund),
                "UpdateExpression": f"SET #status = :status, updated_at = :now, {refund_set} "
                "REMOVE open_status",
                "ConditionExpression": "#status = :expected",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {
                    ":status": {"S": refund.status.value},
                    ":expected": {"S": expected.value},
                    ":now": {"S": refund.updated_at.isoformat()},
                    **values,
                },
            }
        }
        return self._transact([refund_update, *totals]) is None

    def _refunded_totals(self, refund: Refund, delta: int, pending_delta: int) -> list[Any]:
        """ADD ``delta`` to the capture's and the order's refunded amounts (and
        ``pending_delta`` to the capture's pending one). ADD is commutative (as in confirm): no
        read of the capture or order is needed, and the refund's status condition makes it
        count once. The order's version moves so that a read-modify-write of the order
        (cancellations) cannot write back a stale total."""
        return [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": self._capture_key(
                        refund.merchant_id, refund.order_id, refund.capture_id
                    ),
                    "UpdateExpression": "ADD refunded_amount :amount, "
                    "refund_pending_amount :pending",
                    "ConditionExpression": "attribute_exists(PK)",
                    "ExpressionAttributeValues": {
                        ":amount": {"N": str(delta)},
                        ":pending": {"N": str(pending_delta)},
                    },
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": self._order_key(refund.merchant_id, refund.order_id),
                    "UpdateExpression": "ADD refunded_amount :amount, version :one "
                    "SET updated_at = :now",
                    "ConditionExpression": "attribute_exists(PK)",
                    "ExpressionAttributeValues": {
                        ":amount": {"N": str(delta)},
                        ":one": {"N": "1"},
                        ":now": {"S": refund.updated_at.isoformat()},
                    },
                }
            },
        ]

    def confirm_refund(self, refund: Refund) -> bool:
        return self._settle_refund(
            refund,
            "provider_reference = :ref",
            {":ref": self._serializer.serialize(refund.provider_reference)},
            self._refunded_totals(refund, refund.amount, -refund.amount),
        )

    def reverse_refund(self, refund: Refund) -> bool:
        failure = refund.failure.model_dump(mode="json") if refund.failure else None
        return self._settle_refund(
            refund,
            "failure = :failure",
            {":failure": self._serializer.serialize(failure)},
            self._refunded_totals(refund, -refund.amount, 0),
            expected=RefundStatus.REFUNDED,
        )

    def fail_refund(self, refund: Refund) -> bool:
        failure = refund.failure.model_dump(mode="json") if refund.failure else None
        return self._settle_refund(
            refund,
            "failure = :failure",
            {":failure": self._serializer.serialize(failure)},
            [
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": self._capture_key(
                            refund.merchant_id, refund.order_id, refund.capture_id
                        ),
                        "UpdateExpression": "ADD refund_pending_amount :minus",
                        "ConditionExpression": "attribute_exists(PK)",
                        "ExpressionAttributeValues": {":minus": {"N": str(-refund.amount)}},
                    }
                }
            ],
        )

    # --- plumbing ------------------------------------------------------------------------------

    def _transact(self, items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """Run a transaction; None when it committed, else the per-item cancellation reasons."""
        try:
            self._call("transact_write_items", TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as error:
            reasons = cast(list[dict[str, Any]], error.response.get("CancellationReasons", []))
            if any(reason.get("Code") in _RETRYABLE_CODES for reason in reasons):
                raise LedgerUnavailableError(f"ledger transaction conflicted: {reasons}") from None
            return reasons
        return None

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        return call_dynamodb(self.client, operation, **kwargs)


def call_dynamodb(client: Any, operation: str, **kwargs: Any) -> dict[str, Any]:
    """``client.<operation>(**kwargs)``, with transient failures as LedgerUnavailableError."""
    from botocore.exceptions import ClientError, HTTPClientError  # noqa: PLC0415
    from botocore.exceptions import (  # noqa: PLC0415
        ConnectionError as BotocoreConnectionError,
    )

    try:
        return cast(dict[str, Any], getattr(client, operation)(**kwargs))
    except (BotocoreConnectionError, HTTPClientError) as error:
        # Unreachable, timed out, connection dropped (after botocore's own retries): what the
        # state machine retries as LedgerUnavailableError. Every write is conditional, so a
        # retry of one that did land finds it done.
        raise LedgerUnavailableError(
            f"DynamoDB {operation} failed: {type(error).__name__}"
        ) from error
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _RETRYABLE_CODES:
            raise LedgerUnavailableError(f"DynamoDB {operation} failed: {code}") from error
        raise
