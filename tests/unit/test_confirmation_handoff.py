"""Record's share of the work two Choice states did (issue 15: four transitions a capture):
a shipment handed on passes through, and a capture the provider only received is handed to
the confirmation workflow by Record itself, through StartExecution."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from order_capture.adapters.stepfunctions import StepFunctionsConfirmationWorkflows
from order_capture.errors import ConfirmationNotAwaitedError
from order_capture.handlers import record
from order_capture.models import Capture, CaptureStatus, capture_id_for
from order_capture.workflow_state import PassedOn
from tests.support import FakeLambdaContext

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:ConfirmationStateMachine"


def received_capture(
    status_at_provider: str | None = "pending", status: CaptureStatus = CaptureStatus.PENDING
) -> Capture:
    return Capture(
        capture_id=capture_id_for("merchant-1", "order-1", "shipment-1"),
        merchant_id="merchant-1",
        order_id="order-1",
        shipment_id="shipment-1",
        amount=6442,
        currency="EUR",
        status=status,
        provider="adyen",
        trigger="event",
        provider_reference="psp-1",
        status_at_provider=status_at_provider,
        execution_id="execution-1",
        created_at=NOW,
        updated_at=NOW,
    )


class RecordingWorkflows:
    def __init__(self, started_before: bool = False) -> None:
        self.started: list[tuple[str, str | None]] = []
        self.started_before = started_before

    def start(self, capture: Capture, started_by: str | None) -> bool:
        self.started.append((capture.capture_id, started_by))
        return not self.started_before


class Untouchable:
    """A ledger or publisher a passed-through step must not use."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} called on a step that only hands on")


def run_record(event: dict[str, Any], workflows: RecordingWorkflows) -> dict[str, Any]:
    untouchable: Any = Untouchable()
    return record.handle_success(
        event,
        FakeLambdaContext(),
        repository=untouchable,
        publisher=untouchable,
        providers=untouchable,
        workflows=workflows,
    )


def stubbed_workflows() -> tuple[StepFunctionsConfirmationWorkflows, Stubber]:
    client = boto3.client("stepfunctions", region_name="eu-west-1")
    return StepFunctionsConfirmationWorkflows(MACHINE, 604800, client=client), Stubber(client)


def test_issue_15_record_hands_a_received_capture_to_the_confirmation_workflow() -> None:
    capture = received_capture()
    workflows = RecordingWorkflows()
    event = {"capture": capture.model_dump(mode="json"), "execution_id": "execution-1"}
    # When Record gets a capture the provider only received
    output = run_record(event, workflows)
    # Then it confirms nothing, announces nothing and starts the wait, named by the capture
    assert workflows.started == [(capture.capture_id, "execution-1")]
    assert output == capture.model_dump(mode="json")


def test_a_wait_started_before_is_not_an_error() -> None:
    capture = received_capture()
    workflows = RecordingWorkflows(started_before=True)
    event = {"capture": capture.model_dump(mode="json"), "execution_id": "execution-2"}
    output = run_record(event, workflows)
    assert output["status_at_provider"] == "pending"


@pytest.mark.parametrize(
    "passed_on",
    [
        PassedOn(duplicate_of=received_capture("succeeded", CaptureStatus.CAPTURED)),
        PassedOn(duplicate_of=received_capture()),
    ],
)
def test_issue_15_record_passes_a_duplicate_through_untouched(passed_on: PassedOn) -> None:
    workflows = RecordingWorkflows()
    event = {"capture": passed_on.model_dump(mode="json"), "execution_id": "execution-2"}
    output = run_record(event, workflows)
    # The execution's output is the earlier result, as a Succeed state used to give it
    assert passed_on.duplicate_of is not None
    assert output == passed_on.duplicate_of.model_dump(mode="json")
    assert workflows.started == []


def test_a_passed_on_shipment_holds_exactly_one_outcome() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        PassedOn()


def test_the_adapter_starts_the_wait_named_after_the_capture() -> None:
    workflows, stubber = stubbed_workflows()
    capture = received_capture()
    stubber.add_response(
        "start_execution",
        {"executionArn": f"{MACHINE}:{capture.capture_id}", "startDate": NOW},
        {
            "stateMachineArn": MACHINE,
            "name": capture.capture_id,
            "input": json.dumps(
                {
                    "capture": capture.model_dump(mode="json"),
                    "timeout_seconds": 604800,
                    "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "execution-1",
                }
            ),
        },
    )
    with stubber:
        assert workflows.start(capture, "execution-1") is True
    stubber.assert_no_pending_responses()


def test_the_adapter_answers_false_for_a_wait_started_before() -> None:
    workflows, stubber = stubbed_workflows()
    stubber.add_client_error("start_execution", service_error_code="ExecutionAlreadyExists")
    with stubber:
        assert workflows.start(received_capture(), "execution-1") is False


def test_the_adapter_raises_confirmation_not_awaited_when_it_cannot_start() -> None:
    workflows, stubber = stubbed_workflows()
    stubber.add_client_error("start_execution", service_error_code="ThrottlingException")
    with stubber, pytest.raises(ConfirmationNotAwaitedError, match="ThrottlingException"):
        workflows.start(received_capture(), "execution-1")
