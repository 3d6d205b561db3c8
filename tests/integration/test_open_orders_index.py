"""An order that can capture nothing more leaves the sparse OpenOrdersByExpiry index, so the
hourly expiry sweep reads only orders with money still to capture, not every order placed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.domain import capture_rules, service
from order_capture.models import CaptureRequest, PlannedCapture
from order_capture_local.sandbox import SandboxServer
from tests.integration.capture_support import register
from tests.support import FixedClock


def test_defect_13_a_fully_captured_order_leaves_the_open_orders_index(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    register(repository, clock, sandbox)
    far_future = clock.now() + timedelta(days=365 * 100)
    assert [o.order_id for o in repository.list_orders_expiring_before(far_future)] == [
        "order-1001"
    ]
    order = repository.get_order("merchant-1", "order-1001")
    request = CaptureRequest(merchant_id="merchant-1", order_id="order-1001", shipment_id="s1")
    plan = capture_rules.plan_capture(order, request, clock.now())
    pending = service.execute_capture(
        repository,
        SandboxProvider(sandbox.url),
        planned=PlannedCapture(request=request, plan=plan),
        execution_id="exec-1",
        now=clock.now(),
    )
    service.record_capture(repository, pending, clock.now())
    assert repository.list_orders_expiring_before(far_future) == []
