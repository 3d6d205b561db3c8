"""Ports of the services besides the ledger and the providers: the clock, the capture
workflow, API keys, the confirmation waits, the event bus."""

from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from order_capture.models import (
    Capture,
    CaptureStatus,
    Model,
)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class WorkflowResult(Model):
    """How a synchronous run of the capture state machine ended (StartSyncExecution)."""

    status: Literal["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
    output: Any = None
    error: str | None = None
    cause: str | None = None


class WorkflowStarter(Protocol):
    """Runs the capture state machine to its end and returns how it ended. On AWS an Express
    workflow started with StartSyncExecution; locally the runtime emulates that."""

    def run(self, execution_input: dict[str, Any], name: str) -> WorkflowResult: ...


class ApiKeyStore(Protocol):
    """API keys of merchants, stored only as SHA-256 digests (a leak of the table leaks no key)."""

    def merchant_for(self, key_digest: str) -> str | None: ...

    def add(self, key_digest: str, merchant_id: str, created_at: datetime) -> None: ...


class ConfirmationWaiters(Protocol):
    """Completes the workflow task that waits for a provider's confirmation (Step Functions
    SendTaskSuccess / SendTaskFailure with the task token)."""

    def succeed(self, task_token: str, capture: Capture) -> bool:
        """Complete the wait with the captured ``capture`` (the workflow emits its Payment
        Captured detail, ``public_events.payment_captured``). False if nothing waits on the
        token any more (the wait timed out or was completed before)."""
        ...

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        """Fail the wait with ``error`` (an exception class name of ``errors``). False if
        nothing waits on the token any more."""
        ...


@runtime_checkable
class CompletedWaits(Protocol):
    """Tells how a capture's confirmation wait was completed, for a completer whose token was
    refused: its own earlier SendTaskSuccess whose answer was lost, or another completer's,
    took the wait (the workflow announces that outcome), or the wait timed out (nobody will
    announce it unless the completer does)."""

    def completed_as(self, capture_id: str) -> CaptureStatus | None:
        """CAPTURED if the wait of ``capture_id``'s confirmation workflow was completed with
        SendTaskSuccess, FAILED if with ProviderDeclinedError; None if it was not completed
        (timed out, stopped, never started) or that cannot be told."""
        ...


class ConfirmationWorkflows(Protocol):
    """Starts the confirmation workflow (statemachine/confirmation.asl.json) that waits for
    the provider's word on a capture it only received."""

    def start(self, capture: Capture, started_by: str | None) -> bool:
        """Start the wait for ``capture``, named after it (``started_by``: the execution
        handing it over). False if it was started before, by this shipment's first
        execution."""
        ...


class EventPublisher(Protocol):
    """Publishes the service's own events (source ``order-capture``) on the bus."""

    def publish(self, detail_type: str, details: list[Model]) -> None: ...
