"""The ledger table's plumbing: typed boto3 calls, transactions, pagination, batch gets.

The only code here that calls the boto3 client. Every call maps DynamoDB's transient failures
(throttling, a conflicting transaction, the endpoint unreachable after botocore's own retries)
to ``LedgerUnavailableError``, which the state machine and the API retry: every write is
conditional, so a retry of one that did land finds it done.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from order_capture.adapters import aws_clients
from order_capture.errors import LedgerUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        GetItemInputTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
    )

    from order_capture.adapters.dynamodb.codec import Item, Values

RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "TransactionConflictException",
    }
)
CONDITION_FAILED = "ConditionalCheckFailed"
#: BatchGetItem takes 100 keys at most.
BATCH_GET_LIMIT = 100


@contextmanager
def ledger_call(operation: str) -> Iterator[None]:
    """Run a DynamoDB call: transient failures raise LedgerUnavailableError."""
    from botocore.exceptions import ClientError, HTTPClientError  # noqa: PLC0415
    from botocore.exceptions import (  # noqa: PLC0415
        ConnectionError as BotocoreConnectionError,
    )

    try:
        yield
    except (BotocoreConnectionError, HTTPClientError) as error:
        # Unreachable, timed out, connection dropped (after botocore's own retries).
        raise LedgerUnavailableError(
            f"DynamoDB {operation} failed: {type(error).__name__}"
        ) from error
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in RETRYABLE_CODES:
            raise LedgerUnavailableError(f"DynamoDB {operation} failed: {code}") from error
        raise


def put_op(
    table_name: str,
    item: Item,
    condition: str | None = None,
    *,
    names: Mapping[str, str] | None = None,
    values: Values | None = None,
    return_old: bool = False,
) -> TransactWriteItemTypeDef:
    """A transaction's Put of ``item``, if ``condition`` holds."""
    put: dict[str, Any] = {"TableName": table_name, "Item": item}
    _add_condition(put, condition, names, values, return_old=return_old)
    return cast("TransactWriteItemTypeDef", {"Put": put})


def update_op(
    table_name: str,
    key: Item,
    expression: str,
    condition: str | None = None,
    *,
    names: Mapping[str, str] | None = None,
    values: Values | None = None,
    return_old: bool = False,
) -> TransactWriteItemTypeDef:
    """A transaction's Update of the item under ``key``, if ``condition`` holds."""
    update: dict[str, Any] = {"TableName": table_name, "Key": key, "UpdateExpression": expression}
    _add_condition(update, condition, names, values, return_old=return_old)
    return cast("TransactWriteItemTypeDef", {"Update": update})


def check_op(
    table_name: str,
    key: Item,
    condition: str,
    *,
    names: Mapping[str, str] | None = None,
    values: Values | None = None,
) -> TransactWriteItemTypeDef:
    """A transaction's ConditionCheck: it commits only if ``condition`` holds on ``key``."""
    check: dict[str, Any] = {"TableName": table_name, "Key": key}
    _add_condition(check, condition, names, values, return_old=False)
    return cast("TransactWriteItemTypeDef", {"ConditionCheck": check})


def _add_condition(
    operation: dict[str, Any],
    condition: str | None,
    names: Mapping[str, str] | None,
    values: Values | None,
    return_old: bool,
) -> None:
    if condition is not None:
        operation["ConditionExpression"] = condition
    if names:
        operation["ExpressionAttributeNames"] = dict(names)
    if values:
        operation["ExpressionAttributeValues"] = dict(values)
    if return_old:
        operation["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"


class LedgerTable:
    """One DynamoDB table; its client is created on first use (``aws_clients``)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @cached_property
    def client(self) -> DynamoDBClient:
        if self._client is not None:
            return self._client
        client: DynamoDBClient = aws_clients.client("dynamodb")
        return client

    def get(self, key: Item, projection: str | None = None, consistent: bool = True) -> Item | None:
        """The item under ``key`` (only the ``projection``'s attributes if given); None if
        there is none."""
        request: GetItemInputTypeDef = {
            "TableName": self.table_name,
            "Key": key,
            "ConsistentRead": consistent,
        }
        if projection is not None:
            request["ProjectionExpression"] = projection
        with ledger_call("get_item"):
            response = self.client.get_item(**request)
        return response.get("Item") or None

    def put(self, item: Item, condition: str | None = None) -> None:
        """Write ``item`` whole (if ``condition`` holds: else ConditionalCheckFailedException)."""
        with ledger_call("put_item"):
            if condition is None:
                self.client.put_item(TableName=self.table_name, Item=item)
            else:
                self.client.put_item(
                    TableName=self.table_name, Item=item, ConditionExpression=condition
                )

    def update(
        self,
        key: Item,
        expression: str,
        condition: str | None = None,
        *,
        names: Mapping[str, str] | None = None,
        values: Values | None = None,
    ) -> bool:
        """Update the item under ``key``; False if ``condition`` did not hold (nothing
        written)."""
        return self.update_or_old(key, expression, condition, names=names, values=values)[0]

    def update_or_old(
        self,
        key: Item,
        expression: str,
        condition: str | None = None,
        *,
        names: Mapping[str, str] | None = None,
        values: Values | None = None,
    ) -> tuple[bool, Item | None]:
        """``update``, and when ``condition`` did not hold, the item as it stands (None if
        there is none), from the same request (``ReturnValuesOnConditionCheckFailure``)."""
        operation = update_op(
            self.table_name,
            key,
            expression,
            condition,
            names=names,
            values=values,
            return_old=condition is not None,
        )
        with ledger_call("update_item"):
            try:
                self.client.update_item(**operation["Update"])
            except self.client.exceptions.ConditionalCheckFailedException as error:
                return False, cast("Item | None", error.response.get("Item"))
        return True, None

    def query(
        self,
        key_condition: str,
        values: Values,
        index: str | None = None,
        consistent: bool = False,
    ) -> list[Item]:
        """Every item a Query matches, page after page."""
        request: QueryInputTypeDef = {
            "TableName": self.table_name,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": consistent,
        }
        if index is not None:
            request["IndexName"] = index
        items: list[Item] = []
        while True:
            with ledger_call("query"):
                page = self.client.query(**request)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def query_page(
        self,
        key_condition: str,
        values: Values,
        *,
        index: str,
        limit: int,
        start: Item | None = None,
    ) -> tuple[list[Item], Item | None]:
        """One page of a Query (at most ``limit`` items) from ``start``, and the key to go on
        from (None: nothing more)."""
        request: QueryInputTypeDef = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": values,
            "Limit": limit,
        }
        if start is not None:
            request["ExclusiveStartKey"] = start
        with ledger_call("query"):
            page = self.client.query(**request)
        return page["Items"], page.get("LastEvaluatedKey")

    def batch_get(self, keys: list[Item], consistent: bool = False) -> list[Item]:
        """The items under ``keys`` (any attributes besides the key are ignored), 100 a
        request, retrying what DynamoDB leaves unprocessed."""
        from order_capture.adapters.dynamodb.codec import key_of  # noqa: PLC0415

        items: list[Item] = []
        plain_keys = [key_of(key) for key in keys]
        for start in range(0, len(plain_keys), BATCH_GET_LIMIT):
            chunk = plain_keys[start : start + BATCH_GET_LIMIT]
            request: Mapping[str, Any] = {
                self.table_name: {"Keys": chunk, "ConsistentRead": consistent}
            }
            while request:
                with ledger_call("batch_get_item"):
                    response = self.client.batch_get_item(RequestItems=request)
                items.extend(response.get("Responses", {}).get(self.table_name, []))
                request = response.get("UnprocessedKeys") or {}
        return items

    def transact(self, items: list[TransactWriteItemTypeDef]) -> list[dict[str, Any]] | None:
        """Run a transaction; None when it committed, else the per-item cancellation reasons
        (a ``Code`` each, ``ConditionalCheckFailed`` where a condition failed, and the old
        ``Item`` where the operation asked for it)."""
        with ledger_call("transact_write_items"):
            try:
                self.client.transact_write_items(TransactItems=items)
            except self.client.exceptions.TransactionCanceledException as error:
                reasons = cast(list[dict[str, Any]], error.response.get("CancellationReasons", []))
                if any(reason.get("Code") in RETRYABLE_CODES for reason in reasons):
                    raise LedgerUnavailableError(
                        f"ledger transaction conflicted: {reasons}"
                    ) from None
                return reasons
        return None


def condition_failed(reason: Mapping[str, Any]) -> bool:
    """Whether a transaction's cancellation ``reason`` is its own condition failing."""
    return reason.get("Code") == CONDITION_FAILED
