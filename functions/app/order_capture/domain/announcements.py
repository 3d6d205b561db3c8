"""The service's own events about captures, for outcomes no capture workflow announces (a
provider's webhook after the wait ended, reconciliation)."""

from __future__ import annotations

from order_capture.errors import ProviderDeclinedError
from order_capture.models import Capture, CaptureStatus, FailureReason, FailureRecord
from order_capture.ports import EventPublisher
from order_capture.public_events import (
    PaymentCaptured,
    PaymentCaptureFailed,
    payment_capture_failed,
    payment_captured,
)

PAYMENT_CAPTURED = PaymentCaptured.detail_type
PAYMENT_CAPTURE_FAILED = PaymentCaptureFailed.detail_type


def announce(publisher: EventPublisher, capture: Capture) -> None:
    """The event the capture workflows send for this settled capture."""
    if capture.status is CaptureStatus.CAPTURED:
        publisher.publish(PAYMENT_CAPTURED, [payment_captured(capture)])
        return
    failure = capture.failure or FailureReason(
        reason=ProviderDeclinedError.reason, message="", error=ProviderDeclinedError.__name__
    )
    announce_failure(publisher, FailureRecord.of(capture, failure, capture.execution_id))


def announce_failure(publisher: EventPublisher, record: FailureRecord) -> None:
    publisher.publish(PAYMENT_CAPTURE_FAILED, [payment_capture_failed(record)])
