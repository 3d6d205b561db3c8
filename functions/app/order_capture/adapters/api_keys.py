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
from typing import TYPE_CHECKING

from order_capture.adapters.dynamodb.codec import api_key_key, string, timestamp
from order_capture.adapters.dynamodb.table import CONDITION_FAILED, LedgerTable, ledger_call

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBApiKeyStore:
    """ApiKeyStore on the ledger table; the boto3 client is created on first use."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = LedgerTable(table_name, client)

    def merchant_for(self, key_digest: str) -> str | None:
        # Eventually consistent (half the read units of every request): a key is used only
        # after the response that created it.
        item = self.table.get(api_key_key(key_digest), "merchant_id", consistent=False)
        return item["merchant_id"]["S"] if item else None

    def add(self, key_digest: str, merchant_id: str, created_at: datetime) -> None:
        item = {
            **api_key_key(key_digest),
            "merchant_id": string(merchant_id),
            "created_at": string(timestamp(created_at)),
        }
        # A digest collision is as likely as guessing a key; never overwrite one.
        self.table.put(item, condition="attribute_not_exists(PK)")

    def revoke(self, key_digest: str, merchant_id: str) -> bool:
        """Delete the key of ``key_digest`` if it is ``merchant_id``'s (an operator names whose
        key they revoke); False if there is no such key of that merchant. An operator's
        command: no function may delete a key (template.yaml grants none)."""
        from botocore.exceptions import ClientError  # noqa: PLC0415

        with ledger_call("delete_item"):
            try:
                self.table.client.delete_item(
                    TableName=self.table.table_name,
                    Key=api_key_key(key_digest),
                    ConditionExpression="merchant_id = :merchant",
                    ExpressionAttributeValues={":merchant": string(merchant_id)},
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == CONDITION_FAILED + "Exception":
                    return False
                raise
        return True
