"""API keys in the ledger table: one item per key, keyed by the key's SHA-256 digest.

========================  ==========  ====================================
PK                        SK          item
========================  ==========  ====================================
``APIKEY#<sha256 hex>``   ``APIKEY``  ``merchant_id``, ``created_at``
========================  ==========  ====================================

Only the digest is stored: a key is shown once when it is created and can never be read back.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from order_capture.adapters.dynamodb import call_dynamodb

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

API_KEY_SK = "APIKEY"


def api_key_pk(key_digest: str) -> str:
    return f"APIKEY#{key_digest}"


class DynamoDBApiKeyStore:
    """ApiKeyStore on the ledger table; the boto3 client is created on first use."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @cached_property
    def client(self) -> DynamoDBClient:
        if self._client is not None:
            return self._client
        import boto3  # noqa: PLC0415 - imported on first use to keep cold starts short

        return boto3.client("dynamodb")

    def merchant_for(self, key_digest: str) -> str | None:
        response = call_dynamodb(
            self.client,
            "get_item",
            TableName=self.table_name,
            Key={"PK": {"S": api_key_pk(key_digest)}, "SK": {"S": API_KEY_SK}},
            ProjectionExpression="merchant_id",
        )
        item = response.get("Item")
        return item["merchant_id"]["S"] if item else None

    def add(self, key_digest: str, merchant_id: str, created_at: datetime) -> None:
        call_dynamodb(
            self.client,
            "put_item",
            TableName=self.table_name,
            Item={
                "PK": {"S": api_key_pk(key_digest)},
                "SK": {"S": API_KEY_SK},
                "merchant_id": {"S": merchant_id},
                "created_at": {"S": created_at.isoformat()},
            },
            # A digest collision is as likely as guessing a key; never overwrite one.
            ConditionExpression="attribute_not_exists(PK)",
        )
