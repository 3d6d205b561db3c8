"""No single hot index key (issue 15): open captures and open orders are spread over the
sparse indexes' shards (pending refunds too, by the same rule), and their readers find every
one of them."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from order_capture.adapters.dynamodb.layout import INDEX_SHARDS, shard_of
from order_capture.domain import capture_rules, service
from order_capture.models import Capture, CaptureRequest, CaptureStatus, OrderPlacedDetail
from tests.factories import order_placed
from tests.support import FixedClock

ORDERS = 48


def reserve_one_capture(repository: Any, clock: FixedClock, order_id: str) -> Capture:
    detail = OrderPlacedDetail.model_validate(order_placed(order_id)["detail"])
    order = service.register_order(repository, detail, clock)
    request = CaptureRequest(merchant_id="merchant-1", order_id=order_id, shipment_id="s1")
    plan = capture_rules.plan_capture(order, request, clock.now())
    pending = Capture(
        capture_id=plan.capture_id,
        merchant_id="merchant-1",
        order_id=order_id,
        shipment_id="s1",
        amount=plan.amount,
        currency=plan.currency,
        status=CaptureStatus.PENDING,
        lines=plan.lines,
        shipping_amount=plan.shipping_amount,
        provider=order.payment.provider,
        trigger="event",
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    assert repository.reserve(capture_rules.reserve(order, plan, clock.now()), 0, pending) is None
    return pending


def index_keys(repository: Any, attribute: str) -> Counter[str]:
    items = repository.client.scan(TableName=repository.table_name)["Items"]
    return Counter(item[attribute]["S"] for item in items if attribute in item)


def test_open_captures_and_open_orders_spread_over_every_shard_and_are_all_read(
    repository: Any, clock: FixedClock
) -> None:
    # Given 48 orders, each with a capture reserved and not yet confirmed
    reserved = [reserve_one_capture(repository, clock, f"order-{n:03d}") for n in range(ORDERS)]

    # Then no index key holds them all: the open captures and open orders sit under many shards
    open_captures = index_keys(repository, "open_status")
    open_orders = index_keys(repository, "open_order")
    assert sum(open_captures.values()) == sum(open_orders.values()) == ORDERS
    assert len(open_captures) > INDEX_SHARDS // 2
    assert len(open_orders) > INDEX_SHARDS // 2
    assert max(open_captures.values()) < ORDERS // 4
    assert set(open_captures) == {f"pending#{shard_of(c.capture_id)}" for c in reserved}

    # And reconciliation's and the sweep's readers find every one of them, across the shards
    later = clock.now() + timedelta(days=1)
    listed = repository.list_open_captures(later)
    assert sorted(c.capture_id for c in listed) == sorted(c.capture_id for c in reserved)
    assert all(
        c.lines == r.lines
        for c, r in zip(
            sorted(listed, key=lambda c: c.capture_id),
            sorted(reserved, key=lambda c: c.capture_id),
            strict=True,
        )
    )
    expiring = repository.list_orders_expiring_before(
        reserved[0].created_at + timedelta(days=365 * 200)
    )
    assert sorted(order.order_id for order in expiring) == [f"order-{n:03d}" for n in range(ORDERS)]
