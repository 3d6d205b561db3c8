"""Captures a provider confirms later, settled by its webhook (Adyen's standard notifications).

Adyen answers a capture request with "received"; the capture stays ``pending`` (reserved) in
the ledger until a ``CAPTURE`` notification confirms it or a ``CAPTURE_FAILED`` (or a ``CAPTURE``
with ``success: false``) fails it and releases the reservation. A failure that arrives after the
success reverses the capture: it becomes ``failed`` and the order's captured amount shrinks.
Notifications may repeat and arrive in any order; each outcome is applied at most once by the
conditional writes behind ``record_capture``, ``record_failure`` and the reversal.

Meanwhile the confirmation workflow waits with a task token (``await_confirmation``). The
webhook settles the ledger first, then completes that wait (``apply_notification``), and the
workflow announces the outcome (``Payment Captured`` / ``Payment Capture Failed``). Whichever of
the two comes second completes the wait, so neither order of arrival leaves it waiting. When
nothing waits any more (the wait timed out, or a late failure reverses a capture), or nothing
ever waited (the answer to the capture request was lost, so the capture was left
``requires_action``), the webhook announces the change itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from order_capture.domain import capture_rules, service
from order_capture.domain.announcements import announce
from order_capture.errors import InvalidStateError, OrderChangedError, ProviderDeclinedError
from order_capture.models import (
    SETTLED_CAPTURE_STATUSES,
    Capture,
    CaptureStatus,
    FailureReason,
    Model,
    Refund,
    RefundStatus,
)
from order_capture.ports import (
    ConfirmationState,
    ConfirmationWaiters,
    EventPublisher,
    OrderRepository,
)

CAPTURE_EVENTS = frozenset({"CAPTURE", "CAPTURE_FAILED"})
REFUND_EVENTS = frozenset({"REFUND", "REFUND_FAILED"})
#: The events that report success (when ``success`` is true); the others report failure.
SUCCESS_EVENTS = frozenset({"CAPTURE", "REFUND"})


class ProviderNotification(Model):
    """What one notification item says about one of our captures or refunds."""

    event: Literal["CAPTURE", "CAPTURE_FAILED", "REFUND", "REFUND_FAILED"]
    succeeded: bool
    #: ``merchantReference``: the reference we sent, our capture or refund id (the
    #: idempotency key).
    reference: str
    #: ``pspReference``: the provider's reference of the capture or refund.
    provider_reference: str
    reason: str

    @property
    def about_refund(self) -> bool:
        return self.event in REFUND_EVENTS


def notification_of(item: dict[str, Any]) -> ProviderNotification | None:
    """The capture or refund outcome a ``NotificationRequestItem`` reports; None for other
    events."""
    event = item.get("eventCode")
    reference = item.get("merchantReference")
    if event not in CAPTURE_EVENTS | REFUND_EVENTS:
        return None
    if not isinstance(reference, str) or not reference:
        return None
    success = str(item.get("success", "")).lower() == "true"
    return ProviderNotification(
        event=event,
        succeeded=event in SUCCESS_EVENTS and success,
        reference=reference,
        provider_reference=str(item.get("pspReference") or ""),
        reason=str(item.get("reason") or event),
    )


def apply_notification(
    repository: OrderRepository,
    waiters: ConfirmationWaiters,
    publisher: EventPublisher,
    *,
    merchant_id: str,
    notification: ProviderNotification,
    now: datetime,
) -> Capture | Refund | None:
    """Settle the merchant's capture (or refund) as ``notification`` says; for a capture, then
    complete the workflow that waits for it, or announce the change if none waits. None if the
    ledger does not know it (one made outside this service, or not noted as awaiting the
    provider yet)."""
    if notification.about_refund:
        return settle_refund(repository, merchant_id, notification, now)
    capture = repository.find_capture(merchant_id, notification.reference)
    if capture is None:
        return None
    settled = settle_capture(repository, capture, notification, now)
    # Read after settling: a token noted before the settling write is seen here; one noted
    # after it cannot be (the capture is no longer pending), and its waiter completes itself.
    state = repository.confirmation_state(merchant_id, capture.capture_id)
    if state.task_token is None and capture.status_at_provider == "pending":
        return settled  # received, its wait not noted yet: the waiter completes itself
    make_known(repository, waiters, publisher, settled, state)
    return settled


def make_known(
    repository: OrderRepository,
    waiters: ConfirmationWaiters,
    publisher: EventPublisher,
    settled: Capture,
    state: ConfirmationState | None = None,
) -> None:
    """Make the outcome of ``settled`` known once, whoever settled it (a webhook,
    reconciliation): complete the confirmation workflow waiting for it, which announces it;
    or, when nothing waits any more (timed out, a late reversal) or nothing ever waited (the
    capture request's answer was lost), announce it here. The ``announced`` marker makes a
    second call (a repeated notification, a later run) announce nothing more."""
    if state is None:
        state = repository.confirmation_state(settled.merchant_id, settled.capture_id)
    if settled.status not in SETTLED_CAPTURE_STATUSES or state.announced == settled.status:
        return
    # Try the wait also for a repeated notification: the first delivery may have settled the
    # ledger and failed before completing it (the marker is written only after).
    if state.task_token is None or not complete_wait(waiters, state.task_token, settled):
        announce(publisher, settled)
    repository.mark_announced(settled.merchant_id, settled.capture_id, settled.status)


def await_confirmation(
    repository: OrderRepository, waiters: ConfirmationWaiters, capture: Capture, task_token: str
) -> Capture:
    """AwaitProviderConfirmation: note the task token beside the pending capture for the
    webhook; if the webhook settled the capture already, complete the wait at once."""
    if repository.await_confirmation(capture, task_token):
        return capture
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    if stored is None:
        raise InvalidStateError(f"capture {capture.capture_id} vanished from the ledger")
    # The webhook came first and left the announcing to this wait's workflow: marked before
    # the wait is completed, so a repeated notification meanwhile announces nothing (if this
    # function dies in between, the task is retried and completes the wait).
    if stored.status in SETTLED_CAPTURE_STATUSES:
        repository.mark_announced(stored.merchant_id, stored.capture_id, stored.status)
    complete_wait(waiters, task_token, stored)
    return stored


def complete_wait(waiters: ConfirmationWaiters, task_token: str, capture: Capture) -> bool:
    """Complete the confirmation wait with the settled ``capture``; False if nothing waits."""
    if capture.status is CaptureStatus.CAPTURED:
        return waiters.succeed(task_token, capture)
    if capture.status is CaptureStatus.FAILED:
        message = capture.failure.message if capture.failure else ProviderDeclinedError.reason
        return waiters.fail(task_token, ProviderDeclinedError.__name__, message)
    raise InvalidStateError(f"capture {capture.capture_id} is {capture.status}, not settled")


def settle_capture(
    repository: OrderRepository,
    capture: Capture,
    notification: ProviderNotification,
    now: datetime,
) -> Capture:
    """Apply ``notification`` to ``capture`` in the ledger; the capture as stored after."""
    if notification.succeeded:
        confirmed = capture.model_copy(
            update={
                "provider_reference": notification.provider_reference or capture.provider_reference,
                "status_at_provider": "succeeded",
            }
        )
        return service.record_capture(repository, confirmed, now)
    message = f"the provider reported {notification.event}: {notification.reason}"
    if capture.status is CaptureStatus.CAPTURED:
        return reverse_capture(repository, capture, message, now)
    if capture.status is CaptureStatus.FAILED:
        return capture
    service.record_failure(
        repository,
        request=capture.request(),
        error_type=ProviderDeclinedError.__name__,
        error_reason=ProviderDeclinedError.reason,
        message=message,
        execution_id=capture.execution_id,
        now=now,
        reopen_requires_action=True,
    )
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    if stored is not None and stored.status is CaptureStatus.CAPTURED:
        # A success notification confirmed it meanwhile: the failure is the provider's later
        # word, so it reverses the capture rather than being dropped.
        return reverse_capture(repository, stored, message, now)
    return stored or capture


def reverse_capture(
    repository: OrderRepository, capture: Capture, message: str, now: datetime
) -> Capture:
    """A confirmed capture the provider failed after all: captured -> failed, and the order's
    captured amount (and the units' claim) given back."""
    failure = FailureReason(
        reason=ProviderDeclinedError.reason, message=message, error=ProviderDeclinedError.__name__
    )
    failed = capture.model_copy(
        update={"status": CaptureStatus.FAILED, "failure": failure, "updated_at": now}
    )
    for _ in range(service.MAX_ORDER_WRITE_ATTEMPTS):
        order = repository.get_order(capture.merchant_id, capture.order_id)
        if order is None:
            break
        try:
            if repository.settle_failure(
                capture_rules.reverse(order, capture, now),
                order.version,
                failed,
                CaptureStatus.CAPTURED,
            ):
                return failed
        except OrderChangedError:
            continue
        break  # no longer captured: someone reversed it already
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    return stored or capture


def settle_refund(
    repository: OrderRepository,
    merchant_id: str,
    notification: ProviderNotification,
    now: datetime,
) -> Refund | None:
    """Apply a ``REFUND`` / ``REFUND_FAILED`` notification to the merchant's refund: a pending
    one becomes refunded (the capture's and order's refunded totals grow) or failed (its
    amount is refundable again); a refunded one that the provider fails after all is reversed.
    None if the ledger does not know it."""
    refund = repository.find_refund(merchant_id, notification.reference)
    if refund is None or refund.status is RefundStatus.FAILED:
        return refund
    if refund.status is RefundStatus.REFUNDED:
        if notification.succeeded:
            return refund
        return _reverse_refund(repository, refund, notification, now)
    provider_reference = notification.provider_reference or refund.provider_reference
    if notification.succeeded:
        refunded = refund.model_copy(
            update={
                "status": RefundStatus.REFUNDED,
                "provider_reference": provider_reference,
                "updated_at": now,
            }
        )
        settled = repository.confirm_refund(refunded)
        outcome = refunded
    else:
        failed = _failed(refund, notification, now)
        settled = repository.fail_refund(failed)
        outcome = failed
    if settled:
        return outcome
    # Settled meanwhile by another notification: what the ledger holds now; a failure that
    # lost the race to a success is the provider's later word and reverses it.
    stored = repository.find_refund(merchant_id, notification.reference) or refund
    if stored.status is RefundStatus.REFUNDED and not notification.succeeded:
        return _reverse_refund(repository, stored, notification, now)
    return stored


def _failed(refund: Refund, notification: ProviderNotification, now: datetime) -> Refund:
    failure = FailureReason(
        reason=ProviderDeclinedError.reason,
        message=f"the provider reported {notification.event}: {notification.reason}",
        error=ProviderDeclinedError.__name__,
    )
    return refund.model_copy(
        update={"status": RefundStatus.FAILED, "failure": failure, "updated_at": now}
    )


def _reverse_refund(
    repository: OrderRepository, refund: Refund, notification: ProviderNotification, now: datetime
) -> Refund:
    """A refund the provider failed after confirming it (Adyen ``REFUND_FAILED``: the money
    came back): refunded -> failed, and the refunded totals shrink again."""
    failed = _failed(refund, notification, now)
    if repository.reverse_refund(failed):
        return failed
    return repository.find_refund(refund.merchant_id, refund.refund_id) or refund
