"""Review B: Order Placed (the event path) at its limits; the HTTP side is in
tests/adversarial/test_review_money_ids_limits.py (a module-scoped local API, whose table
the ``repository`` fixture cannot share)."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.errors import InvalidEventError
from order_capture.handlers import order_events
from tests.factories import order_placed


def test_review_an_order_placed_with_an_item_twice_names_detail_items(
    repository: Any, lambda_context: Any
) -> None:
    event = order_placed()
    event["detail"]["items"][1]["item_id"] = event["detail"]["items"][0]["item_id"]
    with pytest.raises(InvalidEventError) as refused:
        order_events.handle(event, lambda_context, repository=repository)
    field = refused.value.field or ""
    assert field.startswith("detail.items"), field
