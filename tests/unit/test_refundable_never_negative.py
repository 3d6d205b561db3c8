"""A refund made elsewhere (Stripe's Dashboard) while one of ours is reserved but not yet at
the provider is a fact, recorded whole (domain.external_refunds): the capture's refunds made
and in flight can then add up to more than it captured, until the provider refuses ours and
its amount comes back. What is left to refund is never shown, nor checked, below zero: every
API answer and refund check reads ``Capture.refundable_amount`` / ``refunds.refund_totals``,
which say zero there (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from order_capture.api.native import capture_out
from order_capture.domain import refunds
from order_capture.domain.external_refunds import record_external_refunds
from order_capture.errors import OverRefundError
from order_capture.models import CaptureStatus, RefundStatus
from order_capture.ports import IntentRefunds, ProviderRefundState
from order_capture_local.memory_ledger import MemoryLedger
from tests.integration.ledger_contract_support import (
    new_order,
    new_refund,
    pending_capture,
    reserved,
)

NOW = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)


@given(
    amount=st.integers(1, 10_000),
    refunded_pct=st.integers(0, 100),
    ours_pct=st.integers(0, 100),
    elsewhere_pct=st.integers(1, 100),
)
def test_defect_11_property_what_is_left_to_refund_is_never_shown_below_zero(
    amount: int, refunded_pct: int, ours_pct: int, elsewhere_pct: int
) -> None:
    # Given a capture, part of it refunded by us, and one of ours reserved (not yet at Stripe)
    ledger = MemoryLedger()
    order = new_order()
    assert ledger.create_order(order) is None
    capture = pending_capture(order, amount=amount)
    assert ledger.reserve(reserved(order, capture), order.version, capture) is None
    done = capture.model_copy(
        update={"status": CaptureStatus.CAPTURED, "provider_reference": "pi_1"}
    )
    assert ledger.confirm(done)
    refunded = amount * refunded_pct // 100
    if refunded:
        made = new_refund(done, "ours-done", refunded)
        assert ledger.reserve_refund(done, made) is None
        assert ledger.confirm_refund(made.model_copy(update={"status": RefundStatus.REFUNDED}))
    now_stored = ledger.get_capture(order.merchant_id, order.order_id, capture.capture_id)
    assert now_stored is not None
    in_flight = (amount - refunded) * ours_pct // 100
    if in_flight:
        assert ledger.reserve_refund(now_stored, new_refund(now_stored, "ours", in_flight)) is None

    # When the merchant refunds in the Dashboard what Stripe has left (ours never reached it)
    elsewhere = max(1, (amount - refunded) * elsewhere_pct // 100)
    if refunded == amount:
        return  # Stripe has nothing left to refund: no Dashboard refund can be made
    record_external_refunds(
        ledger,
        order.merchant_id,
        IntentRefunds(
            authorization_reference=order.payment.reference,
            capture_keys=[capture.capture_id],
            refunds=[
                ProviderRefundState(
                    provider_reference="re_dashboard",
                    status="succeeded",
                    amount=elsewhere,
                    currency=order.currency,
                )
            ],
        ),
        NOW,
        "charge.refunded",
    )

    # Then it is recorded whole, and what is left to refund is never below zero: in the
    # capture, in the API's answer (from the capture alone, or with its refunds), and a refund
    # of more than that is refused
    stored = ledger.get_capture(order.merchant_id, order.order_id, capture.capture_id)
    assert stored is not None
    assert stored.refunded_amount == refunded + elsewhere
    listed = ledger.list_refunds(order.merchant_id, order.order_id)
    left = amount - refunded - elsewhere - in_flight
    for answer in (capture_out(stored), capture_out(stored, listed)):
        assert answer.remaining_amount == max(0, left)
        assert answer.refunded_amount == refunded + elsewhere
    assert stored.refundable_amount == max(0, left)
    try:
        refunds.check_refundable(stored, max(0, left) + 1)
    except OverRefundError:
        pass
    else:
        raise AssertionError("a refund over what is left was not refused")
