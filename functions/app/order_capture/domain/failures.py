"""RecordFailure's use case: whatever failed, the ledger says so and no reservation leaks.

Also the word of reconciliation, a provider's webhook and an operator when they settle a
capture as failed (``reopen_requires_action``).
"""

from __future__ import annotations

from datetime import datetime

from order_capture.domain import capture_rules, state_log
from order_capture.domain.service import MAX_ORDER_WRITE_ATTEMPTS
from order_capture.errors import OrderChangedError, proves_nothing_was_captured
from order_capture.models import (
    Capture,
    CaptureRequest,
    CaptureStatus,
    FailureReason,
    FailureRecord,
    Order,
)
from order_capture.ports import CaptureLedger


def record_failure(
    repository: CaptureLedger,
    *,
    request: CaptureRequest | None,
    error_type: str,
    error_reason: str,
    message: str,
    execution_id: str | None,
    now: datetime,
    reopen_requires_action: bool = False,
) -> tuple[FailureRecord, bool]:
    """RecordFailure step: whatever failed, the ledger says so and no reservation leaks.

    A reservation is released (its units become capturable again) only when the error proves
    the provider captured nothing; otherwise (an unknown outcome, a crash or timeout of the
    Capture step) the capture stays reserved as requires_action, which only reconciliation
    (``reopen_requires_action``) settles.

    Also whether this call settled what it records (true for a failure nobody's capture holds:
    nobody else records it); false when the capture was settled by somebody else (captured,
    failed by a webhook or reconciliation) or is another execution's; true again for a retry of
    the step that settled it.
    """
    failure = FailureReason(reason=error_reason, message=message, error=error_type)
    if request is None:
        record = FailureRecord(
            merchant_id=None,
            order_id=None,
            shipment_id=None,
            capture_id=None,
            amount=None,
            currency=None,
            status=None,
            reason=error_reason,
            error=error_type,
            message=message,
            execution_id=execution_id,
        )
        repository.record_orphan_failure(execution_id or "unknown", record)
        return record, True
    capture, settled_here = fail_capture(
        repository,
        request=request,
        failure=failure,
        execution_id=execution_id,
        now=now,
        reopen_requires_action=reopen_requires_action,
    )
    # An earlier try of this same step wrote this very failure (it timed out after its write and
    # is retried): nobody has announced it yet, since the workflow announces after the step.
    earlier_try = capture.execution_id == execution_id and capture.failure == failure
    return FailureRecord.of(capture, failure, execution_id), settled_here or earlier_try


def fail_capture(
    repository: CaptureLedger,
    *,
    request: CaptureRequest,
    failure: FailureReason,
    execution_id: str | None,
    now: datetime,
    reopen_requires_action: bool = False,
) -> tuple[Capture, bool]:
    """``record_failure`` of a request that names its capture: the capture as stored after,
    and whether this call settled it. A capture this call fails (not one it leaves
    requires_action) is noted as announced in the same write: its caller announces it
    (``announcements.make_known``, or the workflow's EmitCaptureFailed)."""
    outcome_unknown = not proves_nothing_was_captured(failure.error)
    status = CaptureStatus.REQUIRES_ACTION if outcome_unknown else CaptureStatus.FAILED
    settled_already = {CaptureStatus.CAPTURED, CaptureStatus.FAILED}
    if not reopen_requires_action:
        settled_already.add(CaptureStatus.REQUIRES_ACTION)
    for _ in range(MAX_ORDER_WRITE_ATTEMPTS):
        order, existing = repository.get_order_and_capture(
            request.merchant_id, request.order_id, request.capture_id
        )
        if existing is not None and existing.status in settled_already:
            return existing, False
        if (
            existing is not None
            and existing.status is CaptureStatus.PENDING
            and existing.execution_id != execution_id
        ):
            # Another execution of the same shipment reserved it and may be capturing right
            # now: its own Record or RecordFailure, or reconciliation, settles it.
            return existing, False
        if existing is None:
            # Nothing was reserved, so nothing was sent to the provider: a plain failure.
            settled = _failure_before_reservation(
                request,
                order=order,
                status=CaptureStatus.FAILED,
                failure=failure,
                execution_id=execution_id,
                now=now,
            )
            released = None
        else:
            settled = existing.model_copy(
                update={"status": status, "failure": failure, "updated_at": now}
            )
            # Outcome unknown keeps the reservation: the provider may hold the money.
            released = (
                capture_rules.release(order, existing, now)
                if status is CaptureStatus.FAILED and order is not None
                else None
            )
        try:
            if repository.settle_failure(
                released,
                order.version if released is not None and order is not None else None,
                settled,
                existing.status if existing is not None else None,
                announced=status is CaptureStatus.FAILED,
            ):
                state_log.capture_changed(
                    settled,
                    existing.status if existing is not None else None,
                    state_log.failure_change(status, released=released is not None),
                )
                return settled, True
        except OrderChangedError:
            continue
    raise OrderChangedError(f"order {request.order_id} kept changing while recording a failure")


def _failure_before_reservation(
    request: CaptureRequest,
    *,
    order: Order | None,
    status: CaptureStatus,
    failure: FailureReason,
    execution_id: str | None,
    now: datetime,
) -> Capture:
    """The ledger's record of a shipment that failed before anything was reserved."""
    return Capture(
        capture_id=request.capture_id,
        merchant_id=request.merchant_id,
        order_id=request.order_id,
        shipment_id=request.shipment_id,
        amount=0,
        currency=order.currency if order else "",
        status=status,
        provider=order.payment.provider if order else "",
        trigger=request.trigger,
        execution_id=execution_id,
        failure=failure,
        created_at=now,
        updated_at=now,
    )
