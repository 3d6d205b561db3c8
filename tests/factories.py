"""Builders for events and orders used across the test suites."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> dict[str, Any]:
    """A JSON event fixture from events/ by file name (without .json)."""
    return dict(json.loads((EVENTS_DIR / f"{name}.json").read_text()))


def order_placed(
    order_id: str = "order-1001",
    merchant_id: str = "merchant-1",
    **detail_overrides: Any,
) -> dict[str, Any]:
    """events/order-placed.json for another order; ``authorized_amount``, ``expires_at`` and
    ``provider`` override the payment's, anything else the detail's fields."""
    event = load_event("order-placed")
    payment_overrides = {
        key: detail_overrides.pop(key)
        for key in ("authorized_amount", "expires_at", "provider")
        if key in detail_overrides
    }
    detail = copy.deepcopy(event["detail"]) | {"order_id": order_id, "merchant_id": merchant_id}
    detail.update(detail_overrides)
    detail["payment"] = detail["payment"] | {"reference": f"auth_{merchant_id}_{order_id}"}
    detail["payment"].update(payment_overrides)
    event["id"] = f"evt-placed-{merchant_id}-{order_id}"
    event["detail"] = detail
    return event


def order_shipped(
    shipment_id: str,
    items: list[dict[str, Any]] | None = None,
    order_id: str = "order-1001",
    merchant_id: str = "merchant-1",
) -> dict[str, Any]:
    event = load_event("order-shipped-2")
    event["id"] = f"evt-{order_id}-{shipment_id}"
    event["detail"] = {"merchant_id": merchant_id, "order_id": order_id, "shipment_id": shipment_id}
    if items is not None:
        event["detail"]["items"] = items
    return event


def items_canceled(
    items: list[dict[str, Any]], order_id: str = "order-1001", merchant_id: str = "merchant-1"
) -> dict[str, Any]:
    event = load_event("order-items-canceled")
    event["detail"] = {"merchant_id": merchant_id, "order_id": order_id, "items": items}
    return event


#: events/order-placed.json's order total: (3x1999 - 500 + 1154) + (2x1250 + 525) + 495.
EXAMPLE_ORDER_TOTAL = 10171
