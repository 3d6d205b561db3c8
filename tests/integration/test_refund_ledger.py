"""Refunds in the ledger: reservations race safely, totals add up once (on the in-memory
ledger; its contract with the DynamoDB adapter is test_ledger_contract.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from order_capture.adapters.aplazame import AplazameProvider
from order_capture.adapters.credentials import ProviderCredentials
from order_capture.api.common import status_for
from order_capture.api.problems import STATUS_BY_ERROR
from order_capture.domain import refund_reconciliation, refunds
from order_capture.errors import (
    OutcomeUnknownNotRetryableError,
    OverRefundError,
    ProviderUnavailableError,
)
from order_capture.models import (
    Capture,
    Refund,
)
from order_capture.ports import (
    ProviderRefund,
    ProviderRefundRequest,
)
from order_capture_local.memory_ledger import MemoryLedger
from tests.fake_providers import ReceivingProvider, RecordingProvider
from tests.integration.refund_support import capture, refund
from tests.support import ROOT, FixedClock

__all__ = ["capture"]  # fixture

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class RefundRacingRepository:
    """The ledger, with another refund of ``amount`` reserved and confirmed just before the
    first reservation of this one: what a concurrent request does between read and write."""

    def __init__(self, repository: Any, provider: RecordingProvider, amount: int) -> None:
        self.repository = repository
        self.provider = provider
        self.amount = amount
        self.raced = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.repository, name)

    def reserve_refund(self, capture: Capture, refund: Refund) -> Refund | None:
        if not self.raced:
            self.raced = True
            refunds.refund_capture(
                self.repository,
                self.provider,
                merchant_id=capture.merchant_id,
                order_id=capture.order_id,
                capture_id=capture.capture_id,
                amount=self.amount,
                idempotency_key="the-other-request",
                clock=FixedClock(NOW),
            )
        result: Refund | None = self.repository.reserve_refund(capture, refund)
        return result


@pytest.fixture
def repository() -> MemoryLedger:
    """The in-memory ledger: these are rules of the domain, and the DynamoDB adapter's writes
    they rely on are held to the same contract in test_ledger_contract.py (on moto)."""
    return MemoryLedger()


def test_a_refund_that_lost_the_race_is_checked_again_and_refused(
    repository: Any, capture: Capture
) -> None:
    # Given another request refunds 3000 between this request's read and its write
    provider = RecordingProvider()
    racing = RefundRacingRepository(repository, provider, amount=3000)
    # When this request tries 3000 too (fine against what it read: 5000 left)
    with pytest.raises(OverRefundError) as refused:
        refund(racing, provider, capture, 3000, "this-request")
    # Then its conditional write failed, it read again, and only 2000 was left
    assert refused.value.field == "amount" and "2000" in refused.value.message
    assert list(provider.refunds.values()) == [3000]
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    assert (stored.refunded_amount, stored.refund_pending_amount) == (3000, 0)


def test_a_lost_race_that_still_fits_is_reserved_on_the_new_totals(
    repository: Any, capture: Capture
) -> None:
    provider = RecordingProvider()
    racing = RefundRacingRepository(repository, provider, amount=3000)
    _, after, made = refund(racing, provider, capture, 2000, "this-request")
    assert made.status.value == "refunded"
    assert (after.refunded_amount, after.refund_pending_amount, after.refundable_amount) == (
        5000,
        0,
        0,
    )
    order = repository.get_order(capture.merchant_id, capture.order_id)
    assert order.refunded_amount == 5000
    assert sorted(provider.refunds.values()) == [2000, 3000]
    stored = repository.list_refunds(capture.merchant_id, capture.order_id)
    assert sorted(r.amount for r in stored) == [2000, 3000]


def test_confirming_a_refund_twice_counts_it_once(repository: Any, capture: Capture) -> None:
    provider = RecordingProvider()
    _, _, made = refund(repository, provider, capture, 1200, "k")
    assert repository.confirm_refund(made) is False
    order = repository.get_order(capture.merchant_id, capture.order_id)
    assert order.refunded_amount == 1200


class UnreachableProvider(RecordingProvider):
    def refund(self, request: ProviderRefundRequest) -> ProviderRefund:
        raise ProviderUnavailableError("connection refused")


def reconcile_refunds(
    repository: Any, provider: Any
) -> refund_reconciliation.RefundReconciliationReport:
    return refund_reconciliation.reconcile_open_refunds(
        repository, provider, NOW + timedelta(hours=1), timedelta(minutes=15)
    )


def test_reconciliation_sends_a_pending_refund_again_only_with_idempotency_keys(
    repository: Any, capture: Capture
) -> None:
    with pytest.raises(ProviderUnavailableError):
        refund(repository, UnreachableProvider(), capture, 2000, "k-1")
    # A provider without idempotency keys might have refunded: never sent again
    without_keys = RecordingProvider()
    without_keys.idempotent_captures = False
    report = reconcile_refunds(repository, without_keys)
    assert report == refund_reconciliation.RefundReconciliationReport(examined=1, still_open=1)
    assert without_keys.refunds == {}
    # With keys it is sent again, once, and the ledger settles
    with_keys = RecordingProvider()
    report = reconcile_refunds(repository, with_keys)
    assert report == refund_reconciliation.RefundReconciliationReport(examined=1, refunded=1)
    assert list(with_keys.refunds.values()) == [2000]
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    assert (stored.refunded_amount, stored.refund_pending_amount) == (2000, 0)
    assert reconcile_refunds(repository, with_keys).examined == 0


def test_a_refund_the_provider_received_waits_for_its_webhook(
    repository: Any, capture: Capture
) -> None:
    receiving = ReceivingProvider()
    _, _, received = refund(repository, receiving, capture, 1500, "k-2")
    assert (received.status.value, received.provider_reference) == (
        "pending",
        f"re-{received.refund_id}",
    )
    assert repository.find_refund(capture.merchant_id, received.refund_id) == received
    report = reconcile_refunds(repository, receiving)
    assert report == refund_reconciliation.RefundReconciliationReport(examined=1, still_open=1)
    assert list(receiving.refunds.values()) == [1500]


class FakeAplazameRefunds:
    """Aplazame's refunds over httpx.MockTransport: every refund is made, and the answer of
    refund number ``lost`` is lost (a read timeout after Aplazame refunded).
    ``GET /orders/{id}/captures`` lists the capture with its refunds (503 if not ``lists``)."""

    def __init__(self, capture_reference: str, lists: bool = True, lost: int = 1) -> None:
        self.capture_reference = capture_reference
        self.lists = lists
        self.lost = lost
        self.refunds: list[int] = []

    def made(self) -> list[dict[str, Any]]:
        return [
            {"id": f"re-{n}", "amount": amount, "created": f"2026-11-24T12:00:0{n}"}
            for n, amount in enumerate(self.refunds)
        ]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            if not self.lists:
                return httpx.Response(503, json={"error": {"type": "unavailable"}})
            listed = {"id": self.capture_reference, "amount": 5000, "refunds": self.made()}
            return httpx.Response(200, json={"results": [listed]})
        self.refunds.append(json.loads(request.content)["amount"])
        if len(self.refunds) == self.lost:
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(200, json={"id": self.capture_reference, "refunds": self.made()})

    def provider(self, name: str, merchant_id: str) -> AplazameProvider:
        credentials = ProviderCredentials(api_key="test-key")
        return AplazameProvider(credentials, 5, httpx.MockTransport(self))


def test_defect_1_an_aplazame_refund_whose_answer_was_lost_is_never_sent_again(
    repository: Any, capture: Capture
) -> None:
    """Aplazame takes no idempotency key: a retry of a refund whose answer was lost must not
    refund again (it stays pending, reserved, for an operator), and says so."""
    # The refund is sent (the captures list read before it), its answer lost; from then on
    # Aplazame cannot be asked (its captures list is unavailable)
    aplazame = FakeAplazameRefunds(str(capture.provider_reference))
    with pytest.raises(OutcomeUnknownNotRetryableError):
        refund(repository, aplazame, capture, 1000, "k-lost")
    aplazame.lists = False
    # The client retries with the same key, as it is told to
    with pytest.raises(OutcomeUnknownNotRetryableError) as retried:
        refund(repository, aplazame, capture, 1000, "k-lost")
    assert "not sent again" in retried.value.message
    assert aplazame.refunds == [1000]
    (pending,) = repository.list_refunds(capture.merchant_id, capture.order_id)
    assert (pending.status.value, pending.amount) == ("pending", 1000)
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    assert (stored.refunded_amount, stored.refund_pending_amount) == (0, 1000)
    # Reconciliation leaves it for an operator too
    report = reconcile_refunds(repository, aplazame)
    assert report == refund_reconciliation.RefundReconciliationReport(examined=1, still_open=1)
    assert aplazame.refunds == [1000]
    # The API tells the client the outcome is unknown and not retried (502, as docs/api.md says)
    assert status_for(retried.value, STATUS_BY_ERROR) == 502
    readme = " ".join((ROOT / "docs" / "api.md").read_text().split())
    assert "502 outcome unknown and not repeatable" in readme


def test_defect_1_a_lost_aplazame_refund_is_found_by_lookup_never_sent_again(
    repository: Any, capture: Capture
) -> None:
    """Aplazame lists a capture's refunds: the retry (or reconciliation) finds the refund whose
    answer was lost, as the one the ledger does not know, and confirms it without sending."""
    # An earlier refund of the capture, answered; the next one's answer is lost
    aplazame = FakeAplazameRefunds(str(capture.provider_reference), lost=2)
    _, _, earlier = refund(repository, aplazame, capture, 700, "k-earlier")
    with pytest.raises(OutcomeUnknownNotRetryableError):
        refund(repository, aplazame, capture, 1000, "k-lost")
    _, after, found = refund(repository, aplazame, capture, 1000, "k-lost")
    assert (found.status.value, found.provider_reference) == ("refunded", "re-1")
    assert aplazame.refunds == [700, 1000]
    assert (after.refunded_amount, after.refund_pending_amount) == (1700, 0)
    assert earlier.provider_reference != found.provider_reference
    assert reconcile_refunds(repository, aplazame).examined == 0


def test_defect_1_reconciliation_finds_a_lost_aplazame_refund(
    repository: Any, capture: Capture
) -> None:
    aplazame = FakeAplazameRefunds(str(capture.provider_reference))
    with pytest.raises(OutcomeUnknownNotRetryableError):
        refund(repository, aplazame, capture, 1000, "k-lost")
    report = reconcile_refunds(repository, aplazame)
    assert report == refund_reconciliation.RefundReconciliationReport(examined=1, refunded=1)
    assert aplazame.refunds == [1000]
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    assert (stored.refunded_amount, stored.refund_pending_amount) == (1000, 0)
