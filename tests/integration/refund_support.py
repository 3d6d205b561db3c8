"""A captured order to refund, and a refund through the domain (test_refund_ledger and the
operators' commands start from them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from order_capture.domain import capture_rules, refunds, service
from order_capture.models import Capture, CaptureRequest, OrderPlacedDetail, PlannedCapture
from tests.factories import order_placed
from tests.fake_providers import RecordingProvider
from tests.support import FixedClock

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def capture(repository: Any) -> Capture:
    """A captured 5000 of the example order."""
    detail = OrderPlacedDetail.model_validate(order_placed()["detail"])
    service.register_order(repository, detail, FixedClock(NOW))
    request = CaptureRequest(
        merchant_id=detail.merchant_id, order_id=detail.order_id, shipment_id="s-1", amount=5000
    )
    validated = service.load_for_capture(repository, request)
    plan = capture_rules.plan_capture(validated.order, request, NOW)
    pending = service.execute_capture(
        repository,
        RecordingProvider(),
        planned=PlannedCapture(request=request, plan=plan),
        execution_id=None,
        now=NOW,
    )
    return service.record_capture(repository, pending, NOW)


def refund(repository: Any, provider: Any, capture: Capture, amount: int, key: str) -> Any:
    return refunds.refund_capture(
        repository,
        provider,
        merchant_id=capture.merchant_id,
        order_id=capture.order_id,
        capture_id=capture.capture_id,
        amount=amount,
        idempotency_key=key,
        clock=FixedClock(NOW),
    )
