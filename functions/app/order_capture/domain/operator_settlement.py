"""An operator settles a capture reconciliation could not: captured at the provider (its
reference), or not captured (why). The same conditional writes as the automatic paths
(``service.record_capture`` / ``service.record_failure``) and the same announcement, once
(``provider_webhooks.make_known``): a capture settled meanwhile by its execution, a webhook or
reconciliation is refused, never overwritten."""

from __future__ import annotations

from datetime import datetime

from order_capture.domain import service
from order_capture.domain.provider_webhooks import make_known
from order_capture.errors import CaptureNotFoundAtProviderError, InvalidStateError
from order_capture.models import Capture, CaptureStatus
from order_capture.ports import ConfirmationWaiters, EventPublisher, OrderRepository

#: What an operator may settle: what no automatic path has settled yet.
SETTLEABLE = frozenset({CaptureStatus.PENDING, CaptureStatus.REQUIRES_ACTION})


class CaptureMovedOnError(InvalidStateError):
    """The capture is no longer open: someone (or something) settled it first."""

    reason = "capture_moved_on"


def settle_capture(
    repository: OrderRepository,
    waiters: ConfirmationWaiters,
    publisher: EventPublisher,
    capture: Capture,
    *,
    provider_reference: str | None,
    reason: str | None,
    operator: str,
    now: datetime,
) -> Capture:
    """Captured when ``provider_reference`` is given, else not captured for ``reason``.
    ``capture`` is what the operator looked at: if the ledger has moved on since, refused."""
    if capture.status not in SETTLEABLE:
        raise CaptureMovedOnError(
            f"capture {capture.capture_id} is {capture.status.value} already "
            f"(since {capture.updated_at.isoformat()}): nothing to settle"
        )
    if provider_reference is not None:
        settled = service.record_capture(
            repository,
            capture.model_copy(
                update={"provider_reference": provider_reference, "status_at_provider": "succeeded"}
            ),
            now,
        )
        expected = CaptureStatus.CAPTURED
    else:
        service.record_failure(
            repository,
            request=capture.request(),
            error_type=CaptureNotFoundAtProviderError.__name__,
            error_reason=CaptureNotFoundAtProviderError.reason,
            message=f"settled by operator {operator}: {reason or 'not captured'}",
            execution_id=capture.execution_id,
            now=now,
            reopen_requires_action=True,
        )
        stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
        if stored is None:
            raise InvalidStateError(f"capture {capture.capture_id} vanished from the ledger")
        settled = stored
        expected = CaptureStatus.FAILED
    if settled.status is not expected or (
        expected is CaptureStatus.CAPTURED and settled.provider_reference != provider_reference
    ):
        raise CaptureMovedOnError(
            f"capture {capture.capture_id} moved on while settling: it is "
            f"{settled.status.value} (provider reference {settled.provider_reference}); "
            "nothing was changed"
        )
    make_known(repository, waiters, publisher, settled)
    return settled
