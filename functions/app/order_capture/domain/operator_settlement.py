"""An operator settles a capture (or refund) reconciliation could not: captured at the
provider (its reference), or not captured (why); or retries it under its own idempotency key.
The same conditional writes as the automatic paths (``service.record_capture`` /
``failures.record_failure``) and the same announcement, once (``announcements.make_known``):
a capture settled meanwhile by its execution, a webhook or reconciliation is refused, never
overwritten. A capture settled captured may finish its order: what the authorization has left
is then released as Record would (``releases.release_after_capture``), once."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

from order_capture.domain import failures, releases, service, state_log
from order_capture.domain.announcements import make_known_unretried
from order_capture.domain.reconciliation import DEFAULT_GRACE
from order_capture.errors import (
    CaptureNotFoundAtProviderError,
    InvalidStateError,
    ProviderDeclinedError,
    ProviderError,
)
from order_capture.history import Actor, acting
from order_capture.models import Capture, CaptureStatus, FailureReason, Refund, RefundStatus
from order_capture.observability import log_release_error
from order_capture.ports import (
    CaptureConfirmations,
    ConfirmationWaiters,
    EventPublisher,
    PaymentProviders,
    RecordLedger,
    RefundLedger,
)


def as_operator[**P, T](function: Callable[P, T]) -> Callable[P, T]:
    """Ledger writes of ``function`` are its ``operator``'s, with its ``reason`` (history)."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        operator, reason = kwargs.get("operator"), kwargs.get("reason")
        actor = Actor(
            kind="operator",
            name=str(operator) if operator is not None else None,
            reason=str(reason) if reason is not None else function.__name__.replace("_", " "),
        )
        with acting(actor):
            return function(*args, **kwargs)

    return run


#: What an operator may settle: what no automatic path has settled yet.
SETTLEABLE = frozenset({CaptureStatus.PENDING, CaptureStatus.REQUIRES_ACTION})


class CaptureMovedOnError(InvalidStateError):
    """The capture is no longer open: someone (or something) settled it first."""

    reason = "capture_moved_on"


class CaptureInFlightError(InvalidStateError):
    """The capture is pending and recent: its execution may be capturing it right now."""

    reason = "capture_in_flight"


#: A pending capture younger than this may still be at its provider (reconciliation waits
#: as long before asking): an operator settling it "not captured" would free units whose
#: money the provider is taking.
IN_FLIGHT_GRACE = DEFAULT_GRACE


def check_not_in_flight(capture: Capture, now: datetime) -> None:
    """Refuse to settle or retry ``capture`` while its own execution may still be at it."""
    settle_after = capture.updated_at + IN_FLIGHT_GRACE
    if capture.status is CaptureStatus.PENDING and now < settle_after:
        raise CaptureInFlightError(
            f"capture {capture.capture_id} is pending since {capture.updated_at.isoformat()}: "
            "its execution may still be capturing it; settle or retry it from "
            f"{settle_after.isoformat()} on, or leave it to reconciliation"
        )


@as_operator
def settle_capture(
    repository: RecordLedger,
    waiters: ConfirmationWaiters,
    publisher: EventPublisher,
    capture: Capture,
    *,
    providers: PaymentProviders,
    provider_reference: str | None,
    reason: str | None,
    operator: str,
    now: datetime,
    captured: bool | None = None,
) -> Capture:
    """Captured when ``provider_reference`` is given (or ``captured``: a capture of 0, never
    sent, has no reference), else not captured for ``reason``.
    ``capture`` is what the operator looked at: if the ledger has moved on since, refused.
    Captured, it may have finished its order: the remainder is released (at ``providers``)
    as after Record; a release that fails is logged and retried by reconciliation, the
    settlement stands."""
    if capture.status not in SETTLEABLE:
        raise CaptureMovedOnError(
            f"capture {capture.capture_id} is {capture.status.value} already "
            f"(since {capture.updated_at.isoformat()}): nothing to settle"
        )
    check_not_in_flight(capture, now)
    if captured is None:
        captured = provider_reference is not None
    if captured:
        settled, settled_here = service.confirm_capture(
            repository,
            capture.model_copy(
                update={"provider_reference": provider_reference, "status_at_provider": "succeeded"}
            ),
            now,
        )
        expected = CaptureStatus.CAPTURED
    else:
        settled, settled_here = failures.fail_capture(
            repository,
            request=capture.request(),
            failure=FailureReason(
                reason=CaptureNotFoundAtProviderError.reason,
                message=f"settled by operator {operator}: {reason or 'not captured'}",
                error=CaptureNotFoundAtProviderError.__name__,
            ),
            execution_id=capture.execution_id,
            now=now,
            reopen_requires_action=True,
        )
        expected = CaptureStatus.FAILED
    if settled.status is not expected or (
        expected is CaptureStatus.CAPTURED and settled.provider_reference != provider_reference
    ):
        raise CaptureMovedOnError(
            f"capture {capture.capture_id} moved on while settling: it is "
            f"{settled.status.value} (provider reference {settled.provider_reference}); "
            "nothing was changed"
        )
    make_known_unretried(
        repository, waiters, publisher, settled, settled_here=settled_here, now=now
    )
    if not settled_here:
        # Settled the same way meanwhile by another path (its execution, a webhook,
        # reconciliation): announced once (above), but not the operator's settlement.
        raise CaptureMovedOnError(
            f"capture {capture.capture_id} was settled {settled.status.value} meanwhile by "
            "another path (see `captures show`); nothing was changed"
        )
    if settled.status is CaptureStatus.CAPTURED:
        releases.release_quietly(
            lambda: releases.release_after_capture(repository, providers, settled, now),
            log_release_error,
        )
    return settled


class RetryNotSafeError(InvalidStateError):
    """The provider takes no idempotency key: sending again could capture (or refund) twice."""

    reason = "retry_not_safe"


@as_operator
def retry_capture(
    repository: RecordLedger,
    waiters: ConfirmationWaiters,
    publisher: EventPublisher,
    providers: PaymentProviders,
    capture: Capture,
    *,
    operator: str,
    now: datetime,
) -> tuple[Capture, str]:
    """Send open ``capture`` to its provider again under its own idempotency key (the provider
    answers with the first capture if it made one), and settle the ledger with the answer as
    the automatic paths do (``settle_capture``: captured, the remainder released if it
    finished the order). Refused where the provider takes no idempotency key. Returns the
    capture as the ledger now holds it and what happened."""
    if capture.status not in SETTLEABLE:
        raise CaptureMovedOnError(
            f"capture {capture.capture_id} is {capture.status.value} already "
            f"(since {capture.updated_at.isoformat()}): nothing to retry"
        )
    check_not_in_flight(capture, now)
    if service.captures_nothing(capture):
        reference, said = None, "a capture of 0 (its units held nothing left to capture): not sent"
    else:
        answered = _send_again(
            repository, waiters, publisher, providers, capture, operator=operator, now=now
        )
        if not isinstance(answered, str):
            return answered
        reference, said = answered, f"captured at the provider as {answered}"
    settled = settle_capture(
        repository,
        waiters,
        publisher,
        capture,
        providers=providers,
        provider_reference=reference,
        captured=True,
        reason=None,
        operator=operator,
        now=now,
    )
    return settled, said


def _send_again(
    repository: RecordLedger,
    waiters: ConfirmationWaiters,
    publisher: EventPublisher,
    providers: PaymentProviders,
    capture: Capture,
    *,
    operator: str,
    now: datetime,
) -> tuple[Capture, str] | str:
    """``capture`` sent again: the provider's reference of the capture it made, else (it
    failed it, gave no answer, only received it, or captured another amount) the capture as
    the ledger now holds it and what happened."""
    provider = providers.provider(capture.provider, capture.merchant_id)
    if not provider.idempotent_captures:
        raise RetryNotSafeError(
            f"{provider.name} takes no idempotency key: capture {capture.capture_id} may have "
            "been captured already and a retry could capture it twice. Look it up at the "
            "provider (captures show), then captures settle --captured or --not-captured"
        )
    order = repository.get_order(capture.merchant_id, capture.order_id)
    if order is None:
        raise InvalidStateError(f"the order of capture {capture.capture_id} is not in the ledger")
    try:
        answer = provider.capture(service.provider_capture_request(order, capture))
    except ProviderDeclinedError as error:
        failed = _fail(repository, waiters, publisher, capture, error, operator=operator, now=now)
        return failed, f"declined: {error.reason}: {error.message}"
    except ProviderError as error:
        return capture, f"no answer, left {capture.status.value}: {error.reason}: {error}"
    if answer.status == "failed":
        refused = ProviderDeclinedError(
            f"{provider.name} failed capture {capture.capture_id} ({answer.provider_reference})"
        )
        failed = _fail(repository, waiters, publisher, capture, refused, operator=operator, now=now)
        return failed, f"failed at the provider ({answer.provider_reference})"
    if answer.status == "pending":
        repository.await_provider(
            capture.model_copy(
                update={
                    "provider_reference": answer.provider_reference,
                    "status_at_provider": "pending",
                }
            )
        )
        return capture, (
            f"received by the provider ({answer.provider_reference}): its webhook or "
            "reconciliation settles it"
        )
    if answer.amount != capture.amount:
        return capture, (
            f"the provider captured {answer.amount} ({answer.provider_reference}), the ledger "
            f"reserved {capture.amount}: left {capture.status.value} for a person"
        )
    return answer.provider_reference


def _fail(
    repository: CaptureConfirmations,
    waiters: ConfirmationWaiters,
    publisher: EventPublisher,
    capture: Capture,
    error: ProviderError,
    *,
    operator: str,
    now: datetime,
) -> Capture:
    """Record the provider's refusal of an operator's retry, as RecordFailure would."""
    stored, settled_here = failures.fail_capture(
        repository,
        request=capture.request(),
        failure=FailureReason(
            reason=error.reason,
            message=f"retried by operator {operator}: {error.message}",
            error=type(error).__name__,
        ),
        execution_id=capture.execution_id,
        now=now,
        reopen_requires_action=True,
    )
    make_known_unretried(repository, waiters, publisher, stored, settled_here=settled_here, now=now)
    return stored


# --- refunds -------------------------------------------------------------------------------


class RefundMovedOnError(InvalidStateError):
    """The refund is no longer pending: a webhook or reconciliation settled it first."""

    reason = "refund_moved_on"


@as_operator
def settle_refund(
    repository: RefundLedger,
    refund: Refund,
    *,
    provider_reference: str | None,
    reason: str | None,
    operator: str,
    now: datetime,
) -> Refund:
    """Refunded when ``provider_reference`` is given (its amount moves to the capture's and
    the order's refunded totals), else not refunded for ``reason`` (refundable again): the
    same conditional writes as a provider's webhook; refused once the refund moved on."""
    if refund.status is not RefundStatus.PENDING:
        raise RefundMovedOnError(
            f"refund {refund.refund_id} is {refund.status.value} already "
            f"(since {refund.updated_at.isoformat()}): nothing to settle"
        )
    if provider_reference is not None:
        settled = refund.model_copy(
            update={
                "status": RefundStatus.REFUNDED,
                "provider_reference": provider_reference,
                "updated_at": now,
            }
        )
        written = repository.confirm_refund(settled)
    else:
        settled = refund.model_copy(
            update={
                "status": RefundStatus.FAILED,
                "failure": FailureReason(
                    reason="not_refunded",
                    message=f"settled by operator {operator}: {reason or 'not refunded'}",
                    error="OperatorSettlement",
                ),
                "updated_at": now,
            }
        )
        written = repository.fail_refund(settled)
    if not written:
        raise RefundMovedOnError(
            f"refund {refund.refund_id} moved on while settling (a webhook or reconciliation "
            "settled it): nothing was changed"
        )
    state_log.refund_changed(settled, RefundStatus.PENDING, f"settled by operator {operator}")
    return settled
