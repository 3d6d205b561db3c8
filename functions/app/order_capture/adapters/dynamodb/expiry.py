"""The expiry sweep's reads and writes on the ledger table: orders whose authorization expires
with money still to capture (the sparse ``OpenOrdersByExpiry`` index, read a page at a time),
entries nothing can come of taken out, and where the last run stopped (docs/ledger.md).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from order_capture.adapters.dynamodb import codec, layout
from order_capture.adapters.dynamodb.codec import (
    AUTHORIZATION_EXPIRES_AT,
    OPEN,
    OPEN_ORDER,
    OPEN_ORDERS_INDEX,
    key,
    number,
    string,
    timestamp,
)
from order_capture.adapters.dynamodb.orders import OrderLedger
from order_capture.models import Order

#: The expiry sweep's own item: where its last run stopped.
SWEEP_PK = "SWEEP#expiry"
SWEEP_SK = "CURSOR"


class ExpiryLedger(OrderLedger):
    """``ExpiringOrders`` on the ledger table."""

    def list_orders_expiring_before(self, moment: datetime) -> list[Order]:
        """Orders with money still to capture whose authorization expires before ``moment``."""
        keys = [
            order_item_key
            for shard in layout.every_shard(OPEN)
            for item in self.table.query(
                "open_order = :open AND authorization_expires_at < :before",
                {":open": string(shard), ":before": string(timestamp(moment))},
                index=OPEN_ORDERS_INDEX,
            )
            for order_item_key in codec.order_keys_of(item["PK"]["S"])
        ]
        orders, _ = self._assemble(self.table.batch_get(keys), consistent=False)
        return sorted(orders.values(), key=lambda order: (order.payment.expires_at, order.order_id))

    def expiring_orders_page(
        self, moment: datetime, after: str | None, limit: int
    ) -> tuple[list[Order], str | None]:
        # The cursor: the shard being read and where its query stopped, as JSON.
        shards = layout.every_shard(OPEN)
        position: dict[str, Any] = json.loads(after) if after else {"shard": 0, "start": None}
        shard = int(position["shard"])
        items, start = self.table.query_page(
            "open_order = :open AND authorization_expires_at < :before",
            {":open": string(shards[shard]), ":before": string(timestamp(moment))},
            index=OPEN_ORDERS_INDEX,
            limit=limit,
            start=position["start"],
        )
        if start is not None:
            cursor: str | None = json.dumps({"shard": shard, "start": start})
        elif shard + 1 < len(shards):
            cursor = json.dumps({"shard": shard + 1, "start": None})
        else:
            cursor = None
        keys = [order_key for item in items for order_key in codec.order_keys_of(item["PK"]["S"])]
        orders, _ = (
            self._assemble(self.table.batch_get(keys), consistent=False) if keys else ({}, [])
        )
        return sorted(orders.values(), key=lambda o: (o.payment.expires_at, o.order_id)), cursor

    def leave_expiry_index(self, order: Order) -> bool:
        return self.table.update(
            codec.order_key(order.merchant_id, order.order_id),
            f"REMOVE {OPEN_ORDER}, {AUTHORIZATION_EXPIRES_AT}",
            "version = :version",
            values={":version": number(order.version)},
        )

    def sweep_cursor(self) -> str | None:
        item = self.table.get(key(SWEEP_PK, SWEEP_SK), projection="sweep_cursor")
        return (item or {}).get("sweep_cursor", {}).get("S")

    def save_sweep_cursor(self, cursor: str | None) -> None:
        if cursor is None:
            self.table.update(key(SWEEP_PK, SWEEP_SK), "REMOVE sweep_cursor")
        else:
            self.table.update(
                key(SWEEP_PK, SWEEP_SK),
                "SET sweep_cursor = :cursor",
                values={":cursor": string(cursor)},
            )
