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
