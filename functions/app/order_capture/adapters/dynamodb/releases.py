"""Authorization releases on the ledger table: one ``RELEASE`` item per order, under the
order's PK, written before the provider is asked (``attribute_not_exists``: once per order)
and in the sparse ``OpenCaptures`` index while open (pending or waiting), for reconciliation;
beside it a ``RELEASE_REF#`` pointer from the release id to the order, for the provider's
webhook (Adyen's ``CANCELLATION``), written in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from order_capture.adapters.dynamodb import codec, layout
from order_capture.adapters.dynamodb.codec import (
    CAPTURE_PREFIX,
    OPEN_CAPTURE_STATUSES,
    OPEN_RELEASE,
    OPEN_STATUS,
    key,
    number,
    order_pk,
    string,
)
from order_capture.adapters.dynamodb.orders import OrderLedger, open_index_items
from order_capture.adapters.dynamodb.table import ledger_call, put_op
from order_capture.models import (
    OPEN_RELEASE_STATUSES,
    AuthorizationRelease,
    CaptureStatus,
    ReleaseStatus,
)

if TYPE_CHECKING:
    from order_capture.adapters.dynamodb.codec import Item


def _release_item(release: AuthorizationRelease) -> Item:
    item = codec.encode(codec.release_key(release.merchant_id, release.order_id), release)
    if release.status in OPEN_RELEASE_STATUSES:
        item[OPEN_STATUS] = string(layout.sharded(OPEN_RELEASE, release.release_id))
    return item


class ReleaseLedger(OrderLedger):
    """An order's release of what its authorization has left (domain.releases)."""

    def update_release(
        self,
        release: AuthorizationRelease,
        expected: ReleaseStatus,
        *,
        expected_attempts: int | None = None,
    ) -> bool:
        """Put ``release`` if the stored one is still ``expected`` (at ``expected_attempts``,
        if given); False if not (nothing written)."""
        client = self.table.client
        condition = "#status = :expected"
        values = {":expected": string(expected.value)}
        if expected_attempts is not None:
            condition += " AND attempts = :attempts"
            values[":attempts"] = number(expected_attempts)
        with ledger_call("put_item"):
            try:
                client.put_item(
                    TableName=self.table_name,
                    Item=_release_item(release),
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=values,
                )
            except client.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def begin_release(self, release: AuthorizationRelease) -> AuthorizationRelease | None:
        # With its pointer (release id -> order) in the same write: a webhook naming the
        # release can find it as soon as the provider could have heard of it.
        pointer = codec.release_ref_key(release.merchant_id, release.release_id)
        pointer["order_id"] = string(release.order_id)
        canceled = self.table.transact(
            [
                put_op(self.table_name, _release_item(release), "attribute_not_exists(PK)"),
                put_op(self.table_name, pointer),
            ]
        )
        if canceled is None:
            return None
        return self.get_release(release.merchant_id, release.order_id)

    def find_release(self, merchant_id: str, release_id: str) -> AuthorizationRelease | None:
        pointer = self._pointer(codec.release_ref_key(merchant_id, release_id), "order_id")
        if pointer is None:
            return None
        return self.get_release(merchant_id, pointer[0])

    def get_release(self, merchant_id: str, order_id: str) -> AuthorizationRelease | None:
        item = self.table.get(codec.release_key(merchant_id, order_id))
        return None if item is None else AuthorizationRelease.model_validate(codec.decode(item))

    def list_open_releases(self, updated_before: datetime) -> list[AuthorizationRelease]:
        keys = open_index_items(self.table, OPEN_RELEASE, updated_before)
        items = self.table.batch_get(keys)
        releases = [AuthorizationRelease.model_validate(codec.decode(item)) for item in items]
        return sorted(releases, key=lambda release: (release.updated_at, release.release_id))

    def note_may_finish_order(self, merchant_id: str, order_id: str) -> bool:
        # Rare (a release waits for captures in flight): one Query of the order's capture
        # items (not their lines), one conditional Update per capture still in flight.
        pk = order_pk(merchant_id, order_id)
        items = self.table.query(
            "PK = :pk AND begins_with(SK, :prefix)",
            {":pk": string(pk), ":prefix": string(CAPTURE_PREFIX)},
            consistent=True,
        )
        in_flight = {status.value for status in OPEN_CAPTURE_STATUSES}
        final = False
        for item in items:
            sent_final = item.get("releases_authorization", {}).get("BOOL") is True
            if item["status"]["S"] == CaptureStatus.CAPTURED.value:
                final = final or sent_final  # confirmed meanwhile: it released the rest
            if item["status"]["S"] not in in_flight:
                continue
            final = final or sent_final
            self.table.update(
                key(pk, item["SK"]["S"]),
                "SET may_finish_order = :true",
                "#status IN (:pending, :requires_action)",  # settled meanwhile: nothing to note
                names={"#status": "status"},
                values={
                    ":true": {"BOOL": True},
                    ":pending": string(CaptureStatus.PENDING.value),
                    ":requires_action": string(CaptureStatus.REQUIRES_ACTION.value),
                },
            )
        return final
