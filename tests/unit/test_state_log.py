"""Every change of a refund's state the ledger takes is one INFO line (captures: see
tests/statemachine/test_telemetry.py), on the in-memory ledger."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from order_capture.domain import capture_rules, refunds, service
from order_capture.models import CaptureRequest, OrderPlacedDetail, PlannedCapture
from order_capture.observability import logger
from order_capture_local.memory_ledger import MemoryLedger
from tests.factories import order_placed
from tests.fake_providers import RecordingProvider
from tests.support import FixedClock

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def info_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    level = logger.log_level
    logger.setLevel("INFO")
    try:
        with caplog.at_level(logging.INFO):
            yield caplog
    finally:
        logger.setLevel(level)


def changes(caplog: pytest.LogCaptureFixture, message: str) -> list[tuple[object, ...]]:
    return [
        (getattr(r, "change"), getattr(r, "from_status"), getattr(r, "to_status"))  # noqa: B009
        for r in caplog.records
        if r.getMessage() == message
    ]


def test_a_capture_and_its_refund_log_each_change_once(
    info_logs: pytest.LogCaptureFixture,
) -> None:
    ledger = MemoryLedger()
    provider = RecordingProvider()
    detail = OrderPlacedDetail.model_validate(order_placed()["detail"])
    service.register_order(ledger, detail, FixedClock(NOW))
    request = CaptureRequest(
        merchant_id=detail.merchant_id, order_id=detail.order_id, shipment_id="s-1", amount=5000
    )
    plan = capture_rules.plan_capture(service.load_for_capture(ledger, request).order, request, NOW)
    pending = service.execute_capture(
        ledger,
        provider,
        planned=PlannedCapture(request=request, plan=plan),
        execution_id=None,
        now=NOW,
    )
    captured = service.record_capture(ledger, pending, NOW)
    # A second Record (a retry) changes nothing, and logs nothing.
    service.record_capture(ledger, pending, NOW)
    refunds.refund_capture(
        ledger,
        provider,
        merchant_id=captured.merchant_id,
        order_id=captured.order_id,
        capture_id=captured.capture_id,
        amount=1200,
        idempotency_key="refund-1",
        clock=FixedClock(NOW),
    )
    assert changes(info_logs, "capture state changed") == [
        ("reserved", None, "pending"),
        ("confirmed", "pending", "captured"),
    ]
    assert changes(info_logs, "refund state changed") == [
        ("reserved", None, "pending"),
        ("confirmed", "pending", "refunded"),
    ]
