"""The ledger on DynamoDB: the only package that talks to DynamoDB.

- ``table``: the plumbing (typed boto3 calls, transactions, pagination, batch gets, transient
  failures as ``LedgerUnavailableError``);
- ``codec``: the keys, the one timestamp format, models to items and back;
- ``layout``: how an order and a capture's lines spread over items (plain values);
- ``orders``, ``confirmations``, ``refunds``, ``releases``: one module per aggregate, each
  the conditional writes and reads of its items; ``expiry``: the expiry sweep's.

The key table (items, keys, sparse indexes) is docs/ledger.md.
"""

from __future__ import annotations

from order_capture.adapters.dynamodb.codec import order_pk
from order_capture.adapters.dynamodb.confirmations import ConfirmationLedger
from order_capture.adapters.dynamodb.expiry import ExpiryLedger
from order_capture.adapters.dynamodb.history import HistoryLedger
from order_capture.adapters.dynamodb.refunds import RefundLedger
from order_capture.adapters.dynamodb.releases import ReleaseLedger

__all__ = ["DynamoDBOrderRepository", "order_pk"]


class DynamoDBOrderRepository(
    ConfirmationLedger, RefundLedger, ReleaseLedger, ExpiryLedger, HistoryLedger
):
    """OrderRepository on one DynamoDB table; the boto3 client is created on first use."""
