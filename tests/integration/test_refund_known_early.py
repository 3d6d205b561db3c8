"""Our refunds are in the ledger from their reservation on: a provider's webhook that comes
before the provider's answer to the refund request finds the refund and settles it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from order_capture.domain import provider_webhooks, refunds, service
from order_capture.models import (
    Capture,
    RefundStatus,
)
from order_capture.ports import ProviderNotification, ProviderRefund, ProviderRefundRequest
from order_capture_local.memory_ledger import MemoryLedger
from tests.fake_providers import ReceivingProvider, RecordingProvider
from tests.integration.capture_support import capture_of_5000
from tests.support import FixedClock

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def repository() -> MemoryLedger:
    """The in-memory ledger: these are rules of the domain, and the DynamoDB adapter's writes
    they rely on are held to the same contract in test_ledger_contract.py (on moto)."""
    return MemoryLedger()


@pytest.fixture
def capture(repository: Any) -> Capture:
    """A captured 5000 of the example order."""
    pending = capture_of_5000(repository, RecordingProvider(), NOW)
    return service.record_capture(repository, pending, NOW)


class WebhookFasterThanTheAnswer(ReceivingProvider):
    """Receives the refund, and its webhook reports it refunded before the answer is back."""

    def __init__(self, repository: Any) -> None:
        super().__init__()
        self.repository = repository
        self.settled: Any = None

    def refund(self, request: ProviderRefundRequest) -> ProviderRefund:
        answer = super().refund(request)
        notification = ProviderNotification(
            subject="refund",
            outcome="succeeded",
            reference=request.idempotency_key,
            provider_reference=answer.provider_reference,
            event="REFUND",
        )
        self.settled = provider_webhooks.apply_notification(
            self.repository,
            waiters=None,  # type: ignore[arg-type]  # a refund completes no wait
            publisher=None,  # type: ignore[arg-type]  # nor is it announced
            merchant_id=request.merchant_id,
            provider="sandbox",  # where capture_of_5000 captured
            notification=notification,
            now=NOW,
        )
        return answer


def test_defect_10_our_refund_is_known_before_the_provider_answers(
    repository: Any, capture: Capture
) -> None:
    provider = WebhookFasterThanTheAnswer(repository)
    refunds.refund_capture(
        repository,
        provider,
        merchant_id=capture.merchant_id,
        order_id=capture.order_id,
        capture_id=capture.capture_id,
        amount=1200,
        idempotency_key="k-early-webhook",
        clock=FixedClock(NOW),
    )
    # The webhook found the refund (it is ours) and settled it
    assert provider.settled is not None
    assert provider.settled.status is RefundStatus.REFUNDED
    (stored,) = repository.list_refunds(capture.merchant_id, capture.order_id)
    assert stored.status is RefundStatus.REFUNDED
    after = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    assert (after.refunded_amount, after.refund_pending_amount) == (1200, 0)


def test_a_refund_webhook_reads_the_refund_once(
    repository: Any, capture: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a refund the provider received, its outcome to come by webhook
    refunds.refund_capture(
        repository,
        ReceivingProvider(),
        merchant_id=capture.merchant_id,
        order_id=capture.order_id,
        capture_id=capture.capture_id,
        amount=1200,
        idempotency_key="k-read-once",
        clock=FixedClock(NOW),
    )
    (pending,) = repository.list_refunds(capture.merchant_id, capture.order_id)
    assert pending.status is RefundStatus.PENDING
    lookups: list[str] = []
    find_refund = repository.find_refund

    def counted(merchant_id: str, refund_id: str) -> Any:
        lookups.append(refund_id)
        return find_refund(merchant_id, refund_id)

    monkeypatch.setattr(repository, "find_refund", counted)

    # When its webhook says refunded
    settled = provider_webhooks.apply_notification(
        repository,
        waiters=None,  # type: ignore[arg-type]  # a refund completes no wait
        publisher=None,  # type: ignore[arg-type]  # nor is it announced
        merchant_id=capture.merchant_id,
        provider="sandbox",
        notification=ProviderNotification(
            subject="refund",
            outcome="succeeded",
            reference=pending.refund_id,
            provider_reference="psp-refund-1",
            event="REFUND",
        ),
        now=NOW,
    )

    # Then it is settled, on one lookup of the refund (it looked it up twice)
    assert settled is not None and settled.status is RefundStatus.REFUNDED
    assert lookups == [pending.refund_id]
