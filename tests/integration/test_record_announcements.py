"""Who announces a capture, on moto's DynamoDB and the sandbox provider over HTTP: Record once
(and again after a failed send), never a twin execution, once when reconciliation or a timed-out
confirmation wait races it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.domain import service
from order_capture.domain.reconciliation import reconcile_open_captures
from order_capture.errors import (
    AnnouncementFailedError,
)
from order_capture.handlers import (
    await_confirmation,
    record,
)
from order_capture.models import Capture
from order_capture.public_events import payment_captured
from order_capture_local.sandbox import SandboxServer
from tests.factories import EXAMPLE_ORDER_TOTAL, order_shipped
from tests.integration.capture_support import Shipped, run_until_capture, until_capture
from tests.support import FixedClock, NothingWaits, RecordingPublisher

__all__ = ["until_capture"]  # fixtures


def test_record_announces_the_capture_it_confirms_once_and_again_after_a_failed_send(
    until_capture: Shipped,
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
) -> None:
    _, _, captured = until_capture
    # Given EventBridge failing once
    publisher = RecordingPublisher(failures=1)

    # When Record confirms and the announcement fails
    with pytest.raises(AnnouncementFailedError, match="is recorded"):
        record.handle_success(
            {"capture": captured}, lambda_context, repository, clock, publisher=publisher
        )

    # Then the ledger holds the capture confirmed, once
    order = repository.get_order("merchant-1", "order-1001")
    assert (order.reserved_amount, order.captured_amount) == (0, EXAMPLE_ORDER_TOTAL)
    # And Step Functions' retry confirms nothing twice and announces it
    recorded = record.handle_success(
        {"capture": captured}, lambda_context, repository, clock, publisher=publisher
    )
    assert repository.get_order("merchant-1", "order-1001").captured_amount == EXAMPLE_ORDER_TOTAL
    ((detail_type, (announced,)),) = publisher.published
    assert detail_type == "Payment Captured"
    assert announced.model_dump(mode="json") == payment_captured(
        Capture.model_validate(recorded)
    ).model_dump(mode="json")
    assert recorded["status"] == "captured"


def test_record_of_another_executions_capture_announces_nothing(
    until_capture: Shipped,
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
) -> None:
    _, _, captured = until_capture
    record.handle_success(
        {"capture": captured}, lambda_context, repository, clock, publisher=RecordingPublisher()
    )
    # A twin execution (the same shipment delivered twice) reaching Record for it
    twin = RecordingPublisher()
    record.handle_success(
        {"capture": {**captured, "execution_id": "exec-twin"}},
        lambda_context,
        repository,
        clock,
        publisher=twin,
    )
    assert twin.published == []


class RecordsWhileListed:
    """The ledger, with Record finishing right after reconciliation listed the open captures
    (a live execution slower than reconciliation's grace)."""

    def __init__(self, repository: Any, record_now: Any) -> None:
        self._repository = repository
        self._record_now = record_now

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repository, name)

    def list_open_captures(self, updated_before: Any) -> Any:
        listed = self._repository.list_open_captures(updated_before)
        self._record_now()
        return listed


def test_campaign_reconciliation_racing_record_for_the_same_capture_announces_once(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    # Given a capture the provider made, still pending in the ledger
    _, _, captured = run_until_capture(
        repository, lambda_context, clock, sandbox, order_shipped("s1")
    )
    publisher = RecordingPublisher()

    def record_now() -> None:
        record.handle_success(
            {"capture": captured}, lambda_context, repository, clock, publisher=publisher
        )

    # When reconciliation lists it, its execution's Record confirms and announces it, and
    # reconciliation then finds it at the provider
    report = reconcile_open_captures(
        RecordsWhileListed(repository, record_now),
        lambda _: SandboxProvider(sandbox.url),
        clock.now() + timedelta(seconds=3),
        timedelta(seconds=2),
        publisher=publisher,
    )

    # Then it is captured once and announced once (the make chaos campaign, whose
    # reconciliation runs with a 2-second grace, saw it announced twice)
    assert report.examined == 1
    order = repository.get_order("merchant-1", "order-1001")
    assert (order.reserved_amount, order.captured_amount) == (0, EXAMPLE_ORDER_TOTAL)
    assert [detail_type for detail_type, _ in publisher.published] == ["Payment Captured"]


def test_campaign_a_wait_that_timed_out_before_it_was_noted_announces_the_webhooks_outcome(
    until_capture: Shipped,
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
) -> None:
    # Given a capture the provider received ("pending" there), whose webhook then confirmed
    # it before the confirmation wait was noted (the webhook leaves the announcing to it)
    _, _, captured = until_capture
    received = Capture.model_validate(captured | {"status_at_provider": "pending"})
    repository.await_provider(received)
    service.record_capture(
        repository, received.model_copy(update={"status_at_provider": "succeeded"}), clock.now()
    )
    publisher = RecordingPublisher()

    # When the AwaitConfirmation step, slower than the wait's timeout, notes it only after
    # the wait timed out (the make chaos campaign: a capture captured and never announced)
    await_confirmation.handle(
        {"capture": received.model_dump(mode="json"), "task_token": "token-1"},
        lambda_context,
        repository,
        waiters=NothingWaits(),  # Step Functions answering TaskTimedOut
        publisher=publisher,
    )

    # Then it announces the capture itself, once
    ((detail_type, (announced,)),) = publisher.published
    assert (detail_type, announced.capture_id, announced.status) == (
        "Payment Captured",
        received.capture_id,
        "captured",
    )


def test_a_twin_given_the_settled_capture_by_its_capture_step_announces_nothing(
    until_capture: Shipped,
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
) -> None:
    """Found by the fault campaign: a twin execution whose Capture step found the first
    execution's capture already settled gets that capture back (execution id and all), so
    Record must tell the executions apart by the one running it, not by the capture."""
    _, _, captured = until_capture
    first = RecordingPublisher()
    record.handle_success(
        {"capture": captured, "execution_id": captured["execution_id"]},
        lambda_context,
        repository,
        clock,
        publisher=first,
    )
    twin = RecordingPublisher()
    settled = repository.get_capture("merchant-1", "order-1001", captured["capture_id"])
    record.handle_success(
        {"capture": settled.model_dump(mode="json"), "execution_id": "exec-twin"},
        lambda_context,
        repository,
        clock,
        publisher=twin,
    )
    assert [detail_type for detail_type, _ in first.published] == ["Payment Captured"]
    assert twin.published == []
