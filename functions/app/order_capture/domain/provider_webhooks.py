"""Captures a provider confirms later, settled by its webhook (Adyen's standard notifications,
read by the provider's adapter into a provider-neutral ``ports.ProviderNotification``).

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
no token is noted yet (the webhook came first: the waiter, if it runs at all, then ends its
wait announcing nothing), nothing waits any more (the wait timed out, or a late failure
reverses a capture), or nothing ever waited (the answer to the capture request was lost, so
the capture was left ``requires_action``), the webhook announces the change itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from order_capture.domain import capture_rules, failures, releases, service, state_log
from order_capture.domain.announcements import make_known
from order_capture.errors import (
    AnnouncedBySettlerError,
    InvalidStateError,
    OrderChangedError,
    ProviderDeclinedError,
    ProviderPartialCaptureRefusedError,
    ProviderRefundReversedError,
)
from order_capture.history import Actor, acting
from order_capture.models import (
    SETTLED_CAPTURE_STATUSES,
    AuthorizationRelease,
    Capture,
    CaptureStatus,
    FailureReason,
    Refund,
    RefundStatus,
)
from order_capture.observability import logger
from order_capture.ports import (
    CaptureConfirmations,
    CaptureLedger,
    ConfirmationWaiters,
    EventPublisher,
    OrderReads,
    ProviderNotification,
    RefundLedger,
    WebhookLedger,
)
from order_capture.provider_units import units_for


def apply_notification(
    repository: WebhookLedger,
    waiters: ConfirmationWaiters,
    publisher: EventPublisher,
    *,
    merchant_id: str,
    provider: str,
    notification: ProviderNotification,
    now: datetime,
    before_announcing: Callable[[Capture], object] | None = None,
) -> Capture | Refund | AuthorizationRelease | None:
    """``_apply_notification`` of a notification ``provider``'s webhook received, the
    webhook (and its event) the actor of the ledger's history, and the notification
    (``notification_identity``) the announcer of what it settles."""
    with acting(
        Actor(kind="webhook", reason=notification.event),
        notification=notification_identity(notification),
    ):
        return _apply_notification(
            repository,
            waiters,
            publisher,
            merchant_id=merchant_id,
            provider=provider,
            notification=notification,
            now=now,
            before_announcing=before_announcing,
        )


def notification_identity(notification: ProviderNotification) -> str:
    """The same for every copy the provider delivers of one notification (its event, outcome
    and reference), another for each other notification of the capture (a ``CAPTURE_FAILED``
    that reverses it): which copies are the retry of the note's holder."""
    return f"{notification.event} {notification.outcome} {notification.reference}"


def _made_at(made: Capture | AuthorizationRelease | None, provider: str) -> bool:
    """Whether ``made`` (a capture or a release, if the ledger has it) was made at
    ``provider``: one provider's signed word never settles what another holds (a leaked test
    key of one must not settle, or reverse, captures, refunds and releases at every other;
    release ids are derived from the order's, so anyone can name one)."""
    if made is None or made.provider == provider:
        return True
    reference = made.capture_id if isinstance(made, Capture) else made.release_id
    logger.warning(
        "provider notification about what another provider holds: ignored",
        extra={"provider": provider, "made_at": made.provider, "reference": reference},
    )
    return False


def _apply_notification(
    repository: WebhookLedger,
    waiters: ConfirmationWaiters,
    publisher: EventPublisher,
    *,
    merchant_id: str,
    provider: str,
    notification: ProviderNotification,
    now: datetime,
    before_announcing: Callable[[Capture], object] | None = None,
) -> Capture | Refund | AuthorizationRelease | None:
    """Settle the merchant's capture (or refund) as ``notification`` says; for a capture, then
    run ``before_announcing`` (the release of the authorization's rest: a provider call that
    can fail or take time, so before PutEvents) and complete the workflow that waits for it,
    or announce the change if none waits. None if the ledger does not know it (one made
    outside this service, or not noted as awaiting the provider yet).

    A copy of the notification that finds its note held by this notification (its first
    handler died after the settling write, before PutEvents answered, and the provider
    redelivers it) announces again once ``SETTLER_DEADLINE`` is past the note's moment; a
    copy inside it announces nothing (domain.announcements)."""
    if notification.about_refund:
        refund = repository.find_refund(merchant_id, notification.reference)
        of = repository.find_capture(merchant_id, refund.capture_id) if refund else None
        if not _made_at(of, provider):
            return None
        return settle_refund(repository, merchant_id, notification, now, found=refund)
    if notification.subject == "release":
        release = repository.find_release(merchant_id, notification.reference)
        if not _made_at(release, provider):
            return None
        return releases.settle_by_notification(
            repository, merchant_id, notification, now, found=release
        )
    capture = repository.find_capture(merchant_id, notification.reference)
    if capture is None or not _made_at(capture, provider):
        return None
    settled, settled_here = _settle_capture(repository, capture, notification, now)
    if before_announcing is not None:
        before_announcing(settled)
    # Read after settling: a token noted before the settling write is seen here (its workflow
    # announces); one noted after it cannot be (the capture is no longer pending). With no
    # token the settler announces here: a waiter that comes later completes its wait without
    # announcing, and one that never comes (its wait timed out first) leaves nothing unsaid.
    state = repository.confirmation_state(merchant_id, capture.order_id, capture.capture_id)
    make_known(
        repository,
        waiters,
        publisher,
        settled,
        claimed=settled_here,
        state=state,
        now=now,
        reannounce_own_once_over=True,
    )
    return settled


def await_confirmation(
    repository: CaptureConfirmations,
    waiters: ConfirmationWaiters,
    capture: Capture,
    task_token: str,
    *,
    publisher: EventPublisher,
) -> Capture:
    """AwaitProviderConfirmation: note the task token beside the pending capture for the
    webhook. If something settled the capture already, its settler announced it (noting it
    in its settling write, it found no token to complete): complete the wait without an
    announcement (``AnnouncedBySettlerError``). A settler that noted nothing (a bare
    ``record_capture``) leaves it to this call, which claims the note and hands it to the
    workflow (or announces it, if the wait timed out meanwhile)."""
    if repository.await_confirmation(capture, task_token):
        return capture
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    if stored is None:
        raise InvalidStateError(f"capture {capture.capture_id} vanished from the ledger")
    if stored.status not in SETTLED_CAPTURE_STATUSES:
        raise InvalidStateError(f"capture {capture.capture_id} is {stored.status}, not settled")
    state = repository.confirmation_state(stored.merchant_id, stored.order_id, stored.capture_id)
    if state.announced is stored.status:
        # False if the wait timed out meanwhile: then it is over, announced all the same.
        waiters.fail(
            task_token,
            AnnouncedBySettlerError.__name__,
            f"capture {stored.capture_id} is {stored.status}, announced by its settler",
        )
        return stored
    make_known(
        repository,
        waiters,
        publisher,
        stored,
        claimed=False,
        state=state.model_copy(update={"task_token": task_token}),
    )
    return stored


def settle_capture(
    repository: CaptureConfirmations,
    capture: Capture,
    notification: ProviderNotification,
    now: datetime,
) -> Capture:
    """Apply ``notification`` to ``capture`` in the ledger; the capture as stored after."""
    return _settle_capture(repository, capture, notification, now)[0]


def _settle_capture(
    repository: CaptureConfirmations,
    capture: Capture,
    notification: ProviderNotification,
    now: datetime,
) -> tuple[Capture, bool]:
    """``settle_capture``, and whether this call settled it (noting it as announced)."""
    if notification.succeeded:
        confirmed = capture.model_copy(
            update={
                "provider_reference": notification.provider_reference or capture.provider_reference,
                "status_at_provider": "succeeded",
            }
        )
        return service.confirm_capture(repository, confirmed, now)
    if capture.status is CaptureStatus.FAILED:
        return capture, False
    message = f"the provider reported {notification.event}: {notification.reason}"
    cause = _capture_failure_cause(repository, capture)
    if cause is ProviderPartialCaptureRefusedError:
        message = (
            f"{message}; another partial capture of the payment came first, and "
            f"{capture.provider} cancels what a partial capture leaves unless the merchant "
            "account allows multiple partial captures (docs/providers.md)"
        )
    if capture.status is CaptureStatus.CAPTURED:
        return _reverse_capture(repository, capture, message, now, cause)
    failure = FailureReason(reason=cause.reason, message=message, error=cause.__name__)
    stored, failed_here = failures.fail_capture(
        repository,
        request=capture.request(),
        failure=failure,
        execution_id=capture.execution_id,
        now=now,
        reopen_requires_action=True,
    )
    if stored.status is CaptureStatus.CAPTURED:
        # A success notification confirmed it meanwhile: the failure is the provider's later
        # word, so it reverses the capture rather than being dropped.
        return _reverse_capture(repository, stored, message, now, cause)
    return stored, failed_here


def _capture_failure_cause(repository: OrderReads, capture: Capture) -> type[ProviderDeclinedError]:
    """Why the provider failed ``capture``, as far as the ledger can tell: at a provider that
    cancels what a partial capture leaves (Adyen without multiple partial captures), a
    failure while another capture of the order was captured or in flight is most likely
    that (its own reason, for an operator); any other failure is a plain refusal."""
    if not units_for(capture.provider).partial_capture_releases_rest:
        return ProviderDeclinedError
    order = repository.get_order(capture.merchant_id, capture.order_id)
    if order is None:
        return ProviderDeclinedError
    # The capture itself counts in the order's reserved (pending) or captured amount.
    others = order.captured_amount + order.reserved_amount - capture.amount
    return ProviderPartialCaptureRefusedError if others > 0 else ProviderDeclinedError


def reverse_capture(
    repository: CaptureLedger,
    capture: Capture,
    message: str,
    now: datetime,
    cause: type[ProviderDeclinedError] = ProviderDeclinedError,
) -> Capture:
    """A confirmed capture the provider failed after all: captured -> failed, and the order's
    captured amount (and the units' claim) given back."""
    return _reverse_capture(repository, capture, message, now, cause)[0]


def _reverse_capture(
    repository: CaptureLedger,
    capture: Capture,
    message: str,
    now: datetime,
    cause: type[ProviderDeclinedError] = ProviderDeclinedError,
) -> tuple[Capture, bool]:
    """``reverse_capture``, and whether this call reversed it (noting it as announced)."""
    failure = FailureReason(reason=cause.reason, message=message, error=cause.__name__)
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
                announced=True,
            ):
                state_log.capture_changed(failed, CaptureStatus.CAPTURED, "reversed")
                return failed, True
        except OrderChangedError:
            continue
        break  # no longer captured: someone reversed it already
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    return stored or capture, False


def settle_refund(
    repository: RefundLedger,
    merchant_id: str,
    notification: ProviderNotification,
    now: datetime,
    *,
    found: Refund | None = None,
) -> Refund | None:
    """Apply a refund's notification to the merchant's refund: a pending one becomes refunded
    (the capture's and order's refunded totals grow) or failed (its amount is refundable
    again); a refunded one that the provider fails or reverses after all (Adyen
    ``REFUND_FAILED``, ``REFUNDED_REVERSED``) is reversed: counted back, refundable again,
    its failure naming why. None if the ledger does not know it. ``found``: the refund as the
    caller has just read it (not read again; every write below is conditional on its status,
    so a refund settled since is found by the refused write)."""
    refund = found or repository.find_refund(merchant_id, notification.reference)
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
        state_log.refund_changed(outcome, RefundStatus.PENDING, "settled by the provider")
        return outcome
    # Settled meanwhile by another notification: what the ledger holds now; a failure that
    # lost the race to a success is the provider's later word and reverses it.
    stored = repository.find_refund(merchant_id, notification.reference) or refund
    if stored.status is RefundStatus.REFUNDED and not notification.succeeded:
        return _reverse_refund(repository, stored, notification, now)
    return stored


def _failed(refund: Refund, notification: ProviderNotification, now: datetime) -> Refund:
    cause = (
        ProviderRefundReversedError if notification.outcome == "reversed" else ProviderDeclinedError
    )
    failure = FailureReason(
        reason=cause.reason,
        message=f"the provider reported {notification.event}: {notification.reason}",
        error=cause.__name__,
    )
    return refund.model_copy(
        update={"status": RefundStatus.FAILED, "failure": failure, "updated_at": now}
    )


def _reverse_refund(
    repository: RefundLedger, refund: Refund, notification: ProviderNotification, now: datetime
) -> Refund:
    """A refund the provider failed or reversed after confirming it (Adyen ``REFUND_FAILED``,
    ``REFUNDED_REVERSED``: the money came back): refunded -> failed, and the refunded totals
    shrink again."""
    failed = _failed(refund, notification, now)
    if repository.reverse_refund(failed):
        state_log.refund_changed(failed, RefundStatus.REFUNDED, "reversed")
        return failed
    return repository.find_refund(refund.merchant_id, refund.refund_id) or refund
