"""The order, provider and steps the release tests share (tests/unit/test_releases*.py): an
order registered on the in-memory ledger, shipped, canceled or reserved as the state machine
runs those steps, and a provider that keeps (or fails) the releases it is sent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from order_capture.domain import capture_rules, service
from order_capture.models import (
    Capture,
    CaptureRequest,
    ItemQuantity,
    OrderItemsCanceledDetail,
    OrderPlacedDetail,
    PlannedCapture,
)
from order_capture.ports import (
    ProviderCapture,
    ProviderCaptureRequest,
    ProviderRelease,
    ProviderReleaseRequest,
)
from order_capture_local.memory_ledger import MemoryLedger
from tests.factories import EXAMPLE_ORDER_TOTAL, order_placed
from tests.fake_providers import RecordingProvider
from tests.support import FixedClock

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
AUTHORIZED = EXAMPLE_ORDER_TOTAL + 1829
MERCHANT, ORDER = "merchant-1", "order-1001"


class ReleasingProvider(RecordingProvider):
    """Keeps every release request; fails the next ones with ``failures`` (errors to raise)."""

    def __init__(self, *failures: Exception, idempotent: bool = True) -> None:
        super().__init__()
        self.released: list[ProviderReleaseRequest] = []
        self.captures: list[ProviderCaptureRequest] = []
        self.failures = list(failures)
        self.idempotent_captures = idempotent

    def capture(self, request: ProviderCaptureRequest) -> ProviderCapture:
        self.captures.append(request)
        return super().capture(request)

    def release(self, request: ProviderReleaseRequest) -> ProviderRelease:
        self.released.append(request)
        if self.failures:
            raise self.failures.pop(0)
        return super().release(request)


def registered(ledger: MemoryLedger, authorized: int = AUTHORIZED, provider: str = "adyen") -> None:
    detail = OrderPlacedDetail.model_validate(
        order_placed(authorized_amount=authorized, provider=provider)["detail"]
    )
    service.register_order(ledger, detail, FixedClock(NOW))


def ship(
    ledger: MemoryLedger,
    provider: RecordingProvider,
    shipment: str,
    items: list[tuple[str, int]] | None = None,
) -> Capture:
    """One shipment through Capture and Record's confirmation (as the state machine runs)."""
    request = CaptureRequest(
        merchant_id=MERCHANT,
        order_id=ORDER,
        shipment_id=shipment,
        items=None if items is None else [ItemQuantity(item_id=i, quantity=q) for i, q in items],
    )
    plan = capture_rules.plan_capture(service.load_for_capture(ledger, request).order, request, NOW)
    pending = service.execute_capture(
        ledger,
        provider,
        planned=PlannedCapture(request=request, plan=plan),
        execution_id=f"exec-{shipment}",
        now=NOW,
    )
    return service.record_capture(ledger, pending, NOW)


def cancel(ledger: MemoryLedger, items: list[tuple[str, int]]) -> Any:
    detail = OrderItemsCanceledDetail(
        merchant_id=MERCHANT,
        order_id=ORDER,
        items=[ItemQuantity(item_id=i, quantity=q) for i, q in items],
    )
    return service.cancel_items(ledger, detail, FixedClock(NOW))


def reserve(
    ledger: MemoryLedger,
    provider: RecordingProvider,
    shipment: str,
    items: list[tuple[str, int]] | None = None,
    amount: int | None = None,
) -> Capture:
    """One shipment through the Capture step only: reserved and sent, not yet recorded (its
    Record runs later, as when two shipments are in flight together)."""
    request = CaptureRequest(
        merchant_id=MERCHANT,
        order_id=ORDER,
        shipment_id=shipment,
        items=None if items is None else [ItemQuantity(item_id=i, quantity=q) for i, q in items],
        amount=amount,
        trigger="api" if amount is not None else "event",
    )
    plan = capture_rules.plan_capture(service.load_for_capture(ledger, request).order, request, NOW)
    return service.execute_capture(
        ledger,
        provider,
        planned=PlannedCapture(request=request, plan=plan),
        execution_id=f"exec-{shipment}",
        now=NOW,
    )
