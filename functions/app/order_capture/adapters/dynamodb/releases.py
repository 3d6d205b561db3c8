"""Authorization releases on the ledger table: one ``RELEASE`` item per order, under the
order's PK, written before the provider is asked (``attribute_not_exists``: once per order)
and in the sparse ``OpenCaptures`` index while pending, for reconciliation."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from order_capture.adapters.dynamodb import codec, layout
from order_capture.adapters.dynamodb.codec import (
    OPEN_RELEASE,
    OPEN_STATUS,
    string,
)
from order_capture.adapters.dynamodb.orders import OrderLedger, open_index_items
from order_capture.adapters.dynamodb.table import ledger_call
from order_capture.models import OPEN_RELEASE_STATUSES, AuthorizationRelease, ReleaseStatus

if TYPE_CHECKING:
    from order_capture.adapters.dynamodb.codec import Item


def _release_item(release: AuthorizationRelease) -> Item:
    item = codec.encode(codec.release_key(release.merchant_id, release.order_id), release)
    if release.status in OPEN_RELEASE_STATUSES:
        item[OPEN_STATUS] = string(layout.sharded(OPEN_RELEASE, release.release_id))
    return item


class ReleaseLedger(OrderLedger):
    """An order's release of what its authorization has left (domain.releases)."""

    def _put_release(self, release: AuthorizationRelease, expected: ReleaseStatus | None) -> bool:
        """Put ``release`` if none is stored (``expected`` None) or the stored one is still
        ``expected``; False if not (nothing written)."""
        client = self.table.client
        with ledger_call("put_item"):
            try:
                if expected is None:
                    client.put_item(
                        TableName=self.table_name,
                        Item=_release_item(release),
                        ConditionExpression="attribute_not_exists(PK)",
                    )
                else:
                    client.put_item(
                        TableName=self.table_name,
                        Item=_release_item(release),
                        ConditionExpression="#status = :expected",
                        ExpressionAttributeNames={"#status": "status"},
                        ExpressionAttributeValues={":expected": string(expected.value)},
                    )
            except client.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def begin_release(self, release: AuthorizationRelease) -> AuthorizationRelease | None:
        if self._put_release(release, None):
            return None
        return self.get_release(release.merchant_id, release.order_id)

    def update_release(self, release: AuthorizationRelease, expected: ReleaseStatus) -> bool:
        return self._put_release(release, expected)

    def get_release(self, merchant_id: str, order_id: str) -> AuthorizationRelease | None:
        item = self.table.get(codec.release_key(merchant_id, order_id))
        return None if item is None else AuthorizationRelease.model_validate(codec.decode(item))

    def list_open_releases(self, updated_before: datetime) -> list[AuthorizationRelease]:
        keys = open_index_items(self.table, OPEN_RELEASE, updated_before)
        items = self.table.batch_get(keys)
        releases = [AuthorizationRelease.model_validate(codec.decode(item)) for item in items]
        return sorted(releases, key=lambda release: (release.updated_at, release.release_id))
