"""The state machine's step payloads built of ledger state: ComputeAmount's plan, what the
Capture step executes, and RecordFailure's output (the Step Functions inputs are step_payloads)."""

from order_capture.models.base import Model
from order_capture.models.capture_request import CaptureRequest
from order_capture.models.ledger import Capture, CaptureLine, CaptureStatus, FailureReason


class CapturePlan(Model):
    """ComputeAmount's output: what this shipment captures and the order version it assumed."""

    capture_id: str
    amount: int
    currency: str
    #: The order's payment provider, which the Capture step calls.
    provider: str
    lines: list[CaptureLine]
    shipping_amount: int
    expected_version: int
    #: Closes every unit of the order: captures exactly what remains.
    is_final: bool
    #: Also tells the provider this is the last capture (it may release the rest).
    releases_authorization: bool = False
    #: See ``Capture.may_finish_order``.
    may_finish_order: bool = False
    nothing_to_capture: bool


class PlannedCapture(Model):
    """What the Capture step executes: the request and its plan with their lines named
    (``workflow_state.StatePlanned.named``: the state carries them by position)."""

    request: CaptureRequest
    plan: CapturePlan


class FailureRecord(Model):
    """RecordFailure's output, the detail of `Payment Capture Failed`."""

    merchant_id: str | None
    order_id: str | None
    shipment_id: str | None
    capture_id: str | None
    amount: int | None
    currency: str | None
    status: CaptureStatus | None
    reason: str
    error: str
    message: str
    execution_id: str | None

    @classmethod
    def of(
        cls, capture: Capture, failure: FailureReason, execution_id: str | None
    ) -> "FailureRecord":
        """The record of ``failure`` for the capture (as stored after it)."""
        return cls(
            merchant_id=capture.merchant_id,
            order_id=capture.order_id,
            shipment_id=capture.shipment_id,
            capture_id=capture.capture_id,
            amount=capture.amount,
            currency=capture.currency,
            status=capture.status,
            reason=failure.reason,
            error=failure.error,
            message=failure.message,
            execution_id=execution_id,
        )
