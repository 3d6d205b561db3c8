"""What the handover tests share (on moto): the confirmation workflow's side of the task
tokens (``Workflow``), a publisher that lists what it announced, a capture the provider
received, its webhook and its waiter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from order_capture.domain import provider_webhooks
from order_capture.errors import ProviderDeclinedError
from order_capture.models import (
    Capture,
    CaptureStatus,
)
from tests.fake_providers import ReceivingProvider
from tests.integration.capture_support import capture_notification, capture_of_5000

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=1)

#: What the confirmation workflow emits after its wait completes with this error (or success).
EMITTING = {"success": "Payment Captured", ProviderDeclinedError.__name__: "Payment Capture Failed"}


class Workflow:
    """The confirmation workflow's side of the task tokens: ``waiting`` until its wait timed
    out; what it announces (``EmitCaptured`` / ``EmitCaptureFailed``) when completed."""

    def __init__(self, announced: list[str]) -> None:
        self.announced = announced
        self.waiting = True
        #: How the wait was completed, as its execution's history tells (CompletedWaits).
        self.completed: CaptureStatus | None = None

    def completed_as(self, capture_id: str) -> CaptureStatus | None:
        return self.completed

    def succeed(self, task_token: str, capture: Capture) -> bool:
        return self._complete("success")

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        return self._complete(error)

    def _complete(self, outcome: str) -> bool:
        if not self.waiting:
            return False
        self.waiting = False  # a completed task refuses its token from now on
        self.completed = CaptureStatus.CAPTURED if outcome == "success" else CaptureStatus.FAILED
        if outcome in EMITTING:
            self.announced.append(EMITTING[outcome])
        return True


class Publisher:
    def __init__(self, announced: list[str]) -> None:
        self.announced = announced

    def publish(self, detail_type: str, details: list[Any]) -> None:
        self.announced.extend(detail_type for _ in details)


def received_capture(repository: Any) -> Capture:
    """A capture the provider received (confirms later by webhook), its wait not noted yet."""
    pending = capture_of_5000(
        repository, ReceivingProvider(), NOW, paid_with="adyen", execution_id="exec-1"
    )
    assert (pending.status, pending.status_at_provider) == (CaptureStatus.PENDING, "pending")
    return pending


def webhook(
    repository: Any,
    workflow: Workflow,
    publisher: Publisher,
    capture: Capture,
    succeeded: bool,
    now: datetime = LATER,
) -> Any:
    """The provider's CAPTURE (or CAPTURE_FAILED) notification of ``capture``, at ``now``."""
    return provider_webhooks.apply_notification(
        repository,
        workflow,
        publisher,
        merchant_id=capture.merchant_id,
        provider=capture.provider,
        notification=capture_notification(capture, succeeded),
        now=now,
    )


def wait_noting_its_token(
    repository: Any, workflow: Workflow, publisher: Publisher, capture: Capture
) -> Capture:
    return provider_webhooks.await_confirmation(
        repository, workflow, capture, "token-1", publisher=publisher
    )
