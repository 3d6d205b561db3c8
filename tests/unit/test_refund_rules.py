"""The refund rules: what a capture may refund, and which refund a request stands for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from order_capture.domain import refunds
from order_capture.errors import InvalidEventError, InvalidStateError, OverRefundError
from order_capture.models import Capture, CaptureStatus, RefundStatus

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def a_capture(amount: int = 10050, **fields: object) -> Capture:
    values: dict[str, object] = {
        "capture_id": "c-1",
        "merchant_id": "m-1",
        "order_id": "o-1",
        "shipment_id": "s-1",
        "amount": amount,
        "currency": "EUR",
        "status": CaptureStatus.CAPTURED,
        "provider": "sandbox",
        "provider_reference": "cap_1",
        "trigger": "api",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Capture.model_validate(values | fields)


@given(
    amount=st.integers(1, 10**6),
    refunded=st.integers(0, 10**6),
    pending=st.integers(0, 10**6),
    asked=st.integers(1, 2 * 10**6),
)
def test_a_refund_fits_exactly_when_refunds_made_and_in_flight_leave_room(
    amount: int, refunded: int, pending: int, asked: int
) -> None:
    capture = a_capture(amount, refunded_amount=refunded, refund_pending_amount=pending)
    if asked <= amount - refunded - pending:
        refunds.check_refundable(capture, asked)
    else:
        with pytest.raises(OverRefundError) as refused:
            refunds.check_refundable(capture, asked)
        assert refused.value.field == "amount"


@pytest.mark.parametrize(
    "status", [CaptureStatus.PENDING, CaptureStatus.FAILED, CaptureStatus.REQUIRES_ACTION]
)
def test_only_captured_captures_refund(status: CaptureStatus) -> None:
    with pytest.raises(InvalidStateError) as refused:
        refunds.check_refundable(a_capture(status=status), 1)
    assert refused.value.field == "capture_id"


def test_the_refund_id_depends_on_merchant_capture_and_key() -> None:
    one = refunds.refund_id_for("m-1", "c-1", "key")
    assert one == refunds.refund_id_for("m-1", "c-1", "key")
    assert (
        len(
            {
                one,
                *(
                    refunds.refund_id_for(*ids)
                    for ids in [
                        ("m-2", "c-1", "key"),
                        ("m-1", "c-2", "key"),
                        ("m-1", "c-1", "other"),
                    ]
                ),
            }
        )
        == 4
    )


def test_an_earlier_refund_under_the_key_must_be_for_the_same_amount() -> None:
    earlier = refunds.new_refund(a_capture(), "r-1", 500, NOW)
    assert earlier.status is RefundStatus.PENDING
    assert refunds.same_request(earlier, 500) is earlier
    with pytest.raises(InvalidEventError) as refused:
        refunds.same_request(earlier, 501)
    assert refused.value.field == "Idempotency-Key"


@given(
    amounts_and_statuses=st.lists(
        st.tuples(st.integers(1, 1000), st.sampled_from(list(RefundStatus))), max_size=8
    ),
    stale_refunded=st.integers(0, 5000),
    stale_pending=st.integers(0, 5000),
)
def test_refund_totals_follow_the_refunds_listed_not_a_stale_capture_read(
    amounts_and_statuses: list[tuple[int, RefundStatus]], stale_refunded: int, stale_pending: int
) -> None:
    """A response shows totals that agree with the refunds it lists, even when the capture
    was read before (or after) a refund settled; without a listing, the capture's own."""
    listed = [
        refunds.new_refund(a_capture(), f"r-{index}", amount, NOW).model_copy(
            update={"status": status}
        )
        for index, (amount, status) in enumerate(amounts_and_statuses)
    ]
    stale = a_capture(10_000, refunded_amount=stale_refunded, refund_pending_amount=stale_pending)
    refunded, remaining = refunds.refund_totals(stale, listed)
    shown = [r for r in listed if r.status is not RefundStatus.FAILED]
    assert refunded == sum(r.amount for r in shown if r.status is RefundStatus.REFUNDED)
    assert remaining == 10_000 - sum(r.amount for r in shown)
    assert refunds.refund_totals(stale, None) == (stale_refunded, stale.refundable_amount)
