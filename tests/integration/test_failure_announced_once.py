"""`Payment Capture Failed` is announced by whoever settled the capture, once (docs/guarantees.md):
RecordFailure says whether its execution announces (``announce``), and the capture workflow's
EmitCaptureFailed runs only then. Before, it ran after every RecordFailure: a capture a webhook
had failed (and announced) was announced again, a twin execution announced a failure of a
capture its twin was still making, and a redelivered shipment that was captured, whose Capture
step then failed at the Lambda service, was announced as failed."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.domain import failures
from order_capture.handlers import record
from order_capture.models import CaptureRequest
from order_capture.workflow_state import PassedOn
from order_capture_local.sandbox import SandboxServer
from tests.integration.capture_support import Shipped, register, until_capture
from tests.support import FixedClock, RecordingPublisher

__all__ = ["until_capture"]  # fixtures


@pytest.fixture
def registered(repository: Any, clock: FixedClock, sandbox: SandboxServer) -> Any:
    return register(repository, clock, sandbox)


def _record_failure(
    repository: Any, context: Any, clock: FixedClock, state: dict[str, Any], execution: str
) -> dict[str, Any]:
    return record.handle_failure(
        {"state": state, "execution_id": execution}, context, repository=repository, clock=clock
    )


def test_a_decline_is_announced_by_its_execution_and_again_by_a_retry_of_the_same_step(
    until_capture: Shipped,
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
) -> None:
    _, plan, _ = until_capture
    error = {"Error": "ProviderDeclinedError", "Cause": '{"errorMessage": "declined"}'}
    state = {"validated": plan, "error": error}
    first = _record_failure(repository, lambda_context, clock, state, "exec-1")
    assert (first["announce"], first["payment_capture_failed"]["status"]) == (True, "failed")
    # The step timed out after its write and is retried: EmitCaptureFailed has not run yet.
    again = _record_failure(repository, lambda_context, clock, state, "exec-1")
    assert again == first


def test_a_capture_a_webhook_failed_first_is_not_announced_again_by_the_workflow(
    until_capture: Shipped,
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
) -> None:
    _, plan, captured = until_capture
    request = CaptureRequest.model_validate(
        {key: captured[key] for key in ("merchant_id", "order_id", "shipment_id")}
    )
    # The provider's webhook fails the capture (and announces it) while the Capture step's
    # answer is lost: the step ends with an unknown outcome.
    failures.record_failure(
        repository,
        request=request,
        error_type="ProviderDeclinedError",
        error_reason="provider_declined",
        message="refused by the issuer (webhook)",
        execution_id="exec-1",
        now=clock.now(),
    )
    error = {"Error": "CaptureOutcomeUnknownError", "Cause": "timeout"}
    output = _record_failure(
        repository, lambda_context, clock, {"validated": plan, "error": error}, "exec-1"
    )
    assert output["announce"] is False
    assert output["payment_capture_failed"]["status"] == "failed"


def test_a_twin_execution_does_not_announce_a_failure_of_the_capture_its_twin_is_making(
    until_capture: Shipped,
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
) -> None:
    _, plan, _ = until_capture
    error = {"Error": "InvalidStateError", "Cause": '{"errorMessage": "units taken"}'}
    output = _record_failure(
        repository, lambda_context, clock, {"validated": plan, "error": error}, "exec-twin"
    )
    assert output["announce"] is False
    (capture,) = repository.list_captures("merchant-1", "order-1001")
    assert capture.status == "pending"


def test_a_captured_shipment_handed_on_as_a_duplicate_is_never_announced_as_failed(
    until_capture: Shipped,
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
) -> None:
    _, _, captured = until_capture
    recorded = record.handle_success(
        {"capture": captured, "execution_id": "exec-1"},
        lambda_context,
        repository=repository,
        clock=clock,
        publisher=RecordingPublisher(),
    )
    assert recorded["status"] == "captured"
    (capture,) = repository.list_captures("merchant-1", "order-1001")
    # The shipment redelivered: ComputeAmount hands it on as a duplicate; its Capture step
    # then fails at the Lambda service past its retries and the Catch runs RecordFailure.
    handed_on = PassedOn(duplicate_of=capture).model_dump(mode="json")
    error = {"Error": "Lambda.ServiceException", "Cause": "{}"}
    output = _record_failure(
        repository, lambda_context, clock, {"validated": handed_on, "error": error}, "exec-2"
    )
    assert output["announce"] is False
    assert (
        repository.get_capture("merchant-1", "order-1001", capture.capture_id).status == "captured"
    )
