"""One INFO log line per change of a capture's or a refund's state, written once the ledger
took it (a write that lost its condition changed nothing and logs nothing). With the ids the
handler put on every line (``wiring.log_keys_of``) and the function's name, it says who did
it: an execution, a webhook, reconciliation, an operator."""

from __future__ import annotations

from order_capture.models import Capture, CaptureStatus, Refund, RefundStatus
from order_capture.observability import logger


def capture_changed(capture: Capture, previous: CaptureStatus | None, what: str) -> None:
    """``capture`` as the ledger now holds it, which was ``previous`` (None: new)."""
    logger.info(
        "capture state changed",
        extra={
            "capture_id": capture.capture_id,
            "merchant_id": capture.merchant_id,
            "order_id": capture.order_id,
            "change": what,
            "from_status": previous.value if previous is not None else None,
            "to_status": capture.status.value,
            "amount": capture.amount,
            "currency": capture.currency,
            "provider": capture.provider,
            "provider_reference": capture.provider_reference,
            "status_at_provider": capture.status_at_provider,
            "reason": capture.failure.reason if capture.failure else None,
        },
    )


def failure_change(status: CaptureStatus, *, released: bool) -> str:
    """How a recorded failure changed a capture (``failures.record_failure``)."""
    if status is CaptureStatus.REQUIRES_ACTION:
        return "outcome unknown, kept reserved"
    return "released" if released else "failed"


def refund_changed(refund: Refund, previous: RefundStatus | None, what: str) -> None:
    """``refund`` as the ledger now holds it, which was ``previous`` (None: new)."""
    logger.info(
        "refund state changed",
        extra={
            "refund_id": refund.refund_id,
            "capture_id": refund.capture_id,
            "merchant_id": refund.merchant_id,
            "order_id": refund.order_id,
            "change": what,
            "from_status": previous.value if previous is not None else None,
            "to_status": refund.status.value,
            "amount": refund.amount,
            "currency": refund.currency,
            "provider_reference": refund.provider_reference,
            "reason": refund.failure.reason if refund.failure else None,
        },
    )
