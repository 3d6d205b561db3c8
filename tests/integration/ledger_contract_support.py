"""The ledger fixture (DynamoDB on moto and the in-memory ledger) and builders of ledger items for
the ledger's contract tests (test_ledger_contract.py, test_refund_ledger_contract.py,
test_release_ledger_contract.py, test_ledger_differential.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from order_capture.domain import capture_rules, refunds
from order_capture.models import (
    Capture,
    CaptureStatus,
    Order,
    OrderPlacedDetail,
    Refund,
)
from order_capture.ports import OrderRepository
from order_capture_local.memory_ledger import MemoryLedger
from tests.factories import order_placed

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def new_order(order_id: str = "order-1001") -> Order:
    detail = OrderPlacedDetail.model_validate(order_placed(order_id=order_id)["detail"])
    return capture_rules.register_order(detail, T0)


def pending_capture(
    order: Order, shipment: str = "s1", amount: int = 1000, **fields: Any
) -> Capture:
    return Capture.model_validate(
        {
            "capture_id": f"cap-{order.order_id}-{shipment}",
            "merchant_id": order.merchant_id,
            "order_id": order.order_id,
            "shipment_id": shipment,
            "amount": amount,
            "currency": order.currency,
            "status": CaptureStatus.PENDING,
            "provider": "sandbox",
            "trigger": "event",
            "created_at": T0,
            "updated_at": T0,
        }
        | fields
    )


def reserved(order: Order, capture: Capture) -> Order:
    """``order`` as the domain writes it when reserving ``capture``."""
    return order.model_copy(
        update={
            "reserved_amount": order.reserved_amount + capture.amount,
            "version": order.version + 1,
        }
    )


def new_refund(capture: Capture, refund_id: str = "refund-1", amount: int = 300) -> Refund:
    return refunds.new_refund(capture, refund_id, amount, T0)


@pytest.fixture(params=["dynamodb", "memory"])
def ledger(request: pytest.FixtureRequest) -> OrderRepository:
    if request.param == "memory":
        return MemoryLedger()
    repository: OrderRepository = request.getfixturevalue("repository")
    return repository


def stored_with_capture(ledger: OrderRepository, **fields: Any) -> tuple[Order, Capture]:
    """A registered order with one pending capture reserved on it."""
    order = new_order()
    assert ledger.create_order(order) is None
    capture = pending_capture(order, **fields)
    assert ledger.reserve(reserved(order, capture), order.version, capture) is None
    stored = ledger.get_order(order.merchant_id, order.order_id)
    assert stored is not None
    return stored, capture


def captured(ledger: OrderRepository, **fields: Any) -> Capture:
    order, capture = stored_with_capture(ledger, **fields)
    done = capture.model_copy(
        update={"status": CaptureStatus.CAPTURED, "provider_reference": "cap_1", "updated_at": T0}
    )
    assert ledger.confirm(done)
    stored = ledger.get_capture(order.merchant_id, order.order_id, capture.capture_id)
    assert stored is not None
    return stored
