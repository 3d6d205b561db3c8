"""A refund asks its provider with the amounts of the capture's earlier refunds that moved or
hold money, oldest first (a refused one moved none), so that Adyen's refund lines can leave
out the lines they took (tests/unit/test_adyen_refund_lines.py)."""

from __future__ import annotations

from datetime import timedelta

from order_capture.domain import capture_rules, refunds, service
from order_capture.errors import ProviderDeclinedError
from order_capture.models import (
    Capture,
    CaptureRequest,
    ItemQuantity,
    OrderPlacedDetail,
    PlannedCapture,
)
from order_capture.ports import ProviderRefund, ProviderRefundRequest
from order_capture_local.memory_ledger import MemoryLedger
from tests.factories import order_placed
from tests.fake_providers import RecordingProvider
from tests.integration.refund_support import NOW
from tests.support import FixedClock


class KeepingProvider(RecordingProvider):
    """Refunds what it is asked, keeping each request; refuses the amounts in ``refused``."""

    def __init__(self, refused: frozenset[int] = frozenset()) -> None:
        super().__init__()
        self.requests: list[ProviderRefundRequest] = []
        self.refused = refused

    def refund(self, request: ProviderRefundRequest) -> ProviderRefund:
        self.requests.append(request)
        if request.amount in self.refused:
            raise ProviderDeclinedError("refused")
        return super().refund(request)


def shipped_whole(repository: MemoryLedger) -> Capture:
    detail = OrderPlacedDetail.model_validate(order_placed()["detail"])
    service.register_order(repository, detail, FixedClock(NOW))
    items = [ItemQuantity(item_id="line-1", quantity=3), ItemQuantity(item_id="line-2", quantity=2)]
    request = CaptureRequest(
        merchant_id=detail.merchant_id, order_id=detail.order_id, shipment_id="s-1", items=items
    )
    order = service.load_for_capture(repository, request).order
    planned = PlannedCapture(request=request, plan=capture_rules.plan_capture(order, request, NOW))
    pending = service.execute_capture(
        repository, RecordingProvider(), planned=planned, execution_id=None, now=NOW
    )
    return service.record_capture(repository, pending, NOW)


def test_defect_11_each_refund_is_sent_with_the_earlier_refunds_amounts_oldest_first() -> None:
    repository = MemoryLedger()
    capture = shipped_whole(repository)
    assert capture.lines
    provider = KeepingProvider(refused=frozenset({700}))
    for minutes, amount in enumerate((2500, 700, 1000, 300)):
        clock = FixedClock(NOW + timedelta(minutes=minutes))
        try:
            refunds.refund_capture(
                repository, provider, merchant_id=capture.merchant_id,
                order_id=capture.order_id, capture_id=capture.capture_id, amount=amount,
                idempotency_key=f"k-{amount}", clock=clock,
            )  # fmt: skip
        except ProviderDeclinedError:
            assert amount == 700
    sent = [(r.amount, r.earlier_refund_amounts) for r in provider.requests]
    assert sent == [(2500, []), (700, [2500]), (1000, [2500]), (300, [2500, 1000])]
