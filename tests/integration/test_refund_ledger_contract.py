"""The ledger's contract for refunds, run against the DynamoDB adapter (on moto) and the
in-memory ledger: a refund is reserved once on the capture totals it read, settled once, and a
failed or reversed one gives its amount back once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from order_capture.errors import OrderChangedError
from order_capture.models import (
    Capture,
    FailureReason,
    Refund,
    RefundStatus,
)
from order_capture.ports import OrderRepository
from tests.integration import ledger_contract_support
from tests.integration.ledger_contract_support import (
    T0,
    captured,
    new_refund,
    stored_with_capture,
)

ledger = ledger_contract_support.ledger  # the fixture: each test runs on both ledgers


def test_a_refund_is_reserved_once_on_the_capture_totals_read(ledger: OrderRepository) -> None:
    capture = captured(ledger)
    refund = new_refund(capture)
    assert ledger.reserve_refund(capture, refund) is None
    assert ledger.reserve_refund(capture, refund.model_copy(update={"amount": 1})) == refund
    after = ledger.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    assert after is not None
    assert after.refund_pending_amount == refund.amount
    # Planned on the totals before the first refund: the capture changed meanwhile.
    with pytest.raises(OrderChangedError):
        ledger.reserve_refund(capture, new_refund(capture, "refund-2"))
    assert ledger.reserve_refund(after, new_refund(after, "refund-2")) is None
    assert ledger.find_refund(capture.merchant_id, refund.refund_id) == refund
    assert [r.refund_id for r in ledger.list_refunds(capture.merchant_id, capture.order_id)] == [
        "refund-1",
        "refund-2",
    ]


def test_a_refund_of_a_capture_not_captured_is_refused(ledger: OrderRepository) -> None:
    _, capture = stored_with_capture(ledger)
    with pytest.raises(OrderChangedError):
        ledger.reserve_refund(capture, new_refund(capture))
    assert ledger.list_refunds(capture.merchant_id, capture.order_id) == []


def _settled(refund: Refund, status: RefundStatus, **fields: Any) -> Refund:
    return refund.model_copy(
        update={"status": status, "updated_at": T0 + timedelta(minutes=1)} | fields
    )


def _totals(ledger: OrderRepository, capture: Capture) -> tuple[int, int, int]:
    order, stored = ledger.get_order_and_capture(
        capture.merchant_id, capture.order_id, capture.capture_id
    )
    assert order is not None and stored is not None
    return stored.refunded_amount, stored.refund_pending_amount, order.refunded_amount


def test_confirm_then_reverse_moves_the_refund_totals_once_each(ledger: OrderRepository) -> None:
    capture = captured(ledger)
    refund = new_refund(capture)
    ledger.reserve_refund(capture, refund)
    ledger.await_refund(refund.model_copy(update={"provider_reference": "re_1"}))
    assert ledger.list_open_refunds(T0 + timedelta(seconds=1)) == [
        refund.model_copy(update={"provider_reference": "re_1"})
    ]
    refunded = _settled(refund, RefundStatus.REFUNDED, provider_reference="re_1")
    assert not ledger.reverse_refund(refunded)  # not refunded yet
    assert ledger.confirm_refund(refunded)
    assert not ledger.confirm_refund(refunded)
    assert _totals(ledger, capture) == (300, 0, 300)
    assert ledger.list_open_refunds(T0 + timedelta(days=1)) == []
    failure = FailureReason(reason="failed", message="bank said no", error="ProviderDeclinedError")
    reversed_ = _settled(refunded, RefundStatus.FAILED, failure=failure)
    assert ledger.reverse_refund(reversed_)
    assert not ledger.reverse_refund(reversed_)
    assert _totals(ledger, capture) == (0, 0, 0)
    assert ledger.find_refund(capture.merchant_id, refund.refund_id) == reversed_


def test_a_failed_refund_gives_its_amount_back_once(ledger: OrderRepository) -> None:
    capture = captured(ledger)
    refund = new_refund(capture)
    ledger.reserve_refund(capture, refund)
    failure = FailureReason(reason="failed", message="no", error="ProviderDeclinedError")
    failed = _settled(refund, RefundStatus.FAILED, failure=failure)
    assert ledger.fail_refund(failed)
    assert not ledger.fail_refund(failed)
    assert not ledger.confirm_refund(_settled(refund, RefundStatus.REFUNDED))
    assert _totals(ledger, capture) == (0, 0, 0)
    # A settled refund is not noted again (nor made findable by a late answer).
    ledger.await_refund(failed.model_copy(update={"provider_reference": "re_late"}))
    assert ledger.list_refunds(capture.merchant_id, capture.order_id, capture.capture_id) == [
        failed
    ]
