"""Reconciliation settles each open capture on its own: one odd answer (a status it did not
expect, an error of any kind) is counted and alarmed, and every other capture is still settled."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from order_capture import observability
from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.domain import capture_rules, service
from order_capture.domain.reconciliation import reconcile_open_captures
from order_capture.errors import ProviderDeclinedError
from order_capture.handlers import reconcile
from order_capture.models import CaptureRequest, CaptureStatus, PlannedCapture
from order_capture_local.sandbox import SandboxServer
from tests.integration.capture_support import NoProviders, captured_but_not_recorded
from tests.support import FakeLambdaContext, FixedClock, RecordingPublisher
from tests.template_support import alarms_on


def failed_at_the_provider_without_a_webhook(
    repository: Any, clock: FixedClock, sandbox: SandboxServer, order_id: str
) -> str:
    """The sandbox received the capture ("pending"), then failed it; its webhook never came
    (no webhook is configured)."""
    sandbox.add_fault("async_failed")
    capture_id = captured_but_not_recorded(repository, clock, sandbox, order_id)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with sandbox.state.lock:
            statuses = [reply[2].get("status") for reply in sandbox.state.replies.values()]
        if "failed" in statuses:
            return capture_id
        time.sleep(0.05)
    raise AssertionError("the sandbox never decided the asynchronous capture")


def test_defect_5_a_capture_the_provider_failed_is_released_and_the_others_still_settle(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    # Given a capture the provider failed without telling us, and a capture it made
    failed_id = failed_at_the_provider_without_a_webhook(repository, clock, sandbox, "order-a")
    captured_id = captured_but_not_recorded(repository, clock, sandbox, "order-b")
    publisher = RecordingPublisher()
    # When reconciliation runs
    report = reconcile_open_captures(
        repository,
        lambda _: SandboxProvider(sandbox.url),
        clock.now() + timedelta(hours=1),
        publisher=publisher,
    )
    # Then the failed one is failed and released, the other confirmed
    assert (report.examined, report.released, report.confirmed, report.errors) == (2, 1, 1, 0)
    failed = repository.get_capture("merchant-1", "order-a", failed_id)
    assert (failed.status, failed.failure.error) == (CaptureStatus.FAILED, "ProviderDeclinedError")
    order_a = repository.get_order("merchant-1", "order-a")
    assert (order_a.captured_amount, order_a.reserved_amount) == (0, 0)
    assert repository.get_capture("merchant-1", "order-b", captured_id).status is (
        CaptureStatus.CAPTURED
    )
    announced = sorted((kind, detail.capture_id) for kind, (detail,) in publisher.published)
    assert announced == sorted(
        [("Payment Capture Failed", failed_id), ("Payment Captured", captured_id)]
    )


def test_defect_5_one_capture_that_breaks_reconciliation_is_counted_and_the_rest_go_on(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    broken_id = captured_but_not_recorded(repository, clock, sandbox, "order-a")
    fine_id = captured_but_not_recorded(repository, clock, sandbox, "order-b")

    def provider_of(capture: Any) -> Any:
        if capture.capture_id == broken_id:
            raise ValueError("an answer nobody foresaw")
        return SandboxProvider(sandbox.url)

    failures: list[tuple[str, str]] = []
    report = reconcile_open_captures(
        repository,
        provider_of,
        clock.now() + timedelta(hours=1),
        publisher=RecordingPublisher(),
        on_error=lambda capture, error: failures.append((capture.capture_id, str(error))),
    )
    assert (report.examined, report.errors, report.confirmed) == (2, 1, 1)
    assert failures == [(broken_id, "an answer nobody foresaw")]
    assert repository.get_capture("merchant-1", "order-b", fine_id).status is (
        CaptureStatus.CAPTURED
    )
    # The broken one is left as it was, for the next run
    assert repository.get_capture("merchant-1", "order-a", broken_id).status is (
        CaptureStatus.PENDING
    )


def test_defect_5_the_handler_reports_errors_as_a_metric_and_survives_them(
    repository: Any, clock: FixedClock, sandbox: SandboxServer, monkeypatch: Any
) -> None:
    captured_but_not_recorded(repository, clock, sandbox, "order-a")
    published: list[tuple[str, float]] = []
    monkeypatch.setattr(
        observability.metrics,
        "add_metric",
        lambda name, unit, value: published.append((name, value)),
    )

    def unusable(capture: Any) -> Any:
        raise KeyError("no provider")

    monkeypatch.setattr(reconcile, "_provider_of", unusable)
    clock.current += timedelta(hours=1)
    result = reconcile.handle(
        {},
        FakeLambdaContext(),
        repository=repository,
        clock=clock,
        providers=NoProviders(),
        publisher=RecordingPublisher(),
    )
    assert result["errors"] == 1
    assert ("ReconciliationErrors", 1) in published


def test_defect_5_reconciliation_errors_and_silence_are_alarmed() -> None:
    # Items reconciliation could not settle for an error
    assert alarms_on("ReconciliationErrors"), "no alarm on ReconciliationErrors"
    # Reconcile's own failures
    assert any(
        alarm["Namespace"] == "AWS/Lambda"
        and {"Name": "FunctionName", "Value": {"Ref": "ReconcileFunction"}} in alarm["Dimensions"]
        for alarm in alarms_on("Errors")
    )
    # Metrics emitted on every run: no data means reconciliation is not running
    for metric in ("CapturesStillOpen", "RefundsStillOpen", "ReconciliationErrors"):
        assert {alarm["TreatMissingData"] for alarm in alarms_on(metric)} == {"breaching"}


def test_defect_5_a_repeated_capture_request_answered_failed_is_a_decline(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    # Given a capture the provider received, then failed
    failed_at_the_provider_without_a_webhook(repository, clock, sandbox, "order-a")
    order = repository.get_order("merchant-1", "order-a")
    request = CaptureRequest(merchant_id="merchant-1", order_id="order-a", shipment_id="s1")
    plan = capture_rules.plan_capture(order, request, clock.now())
    # When its execution's Capture step is tried again (the same key: the answer is replayed)
    with pytest.raises(ProviderDeclinedError):
        service.execute_capture(
            repository,
            SandboxProvider(sandbox.url),
            planned=PlannedCapture(request=request, plan=plan),
            execution_id="exec-order-a",
            now=clock.now(),
        )
