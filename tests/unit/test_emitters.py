"""Who emitted an event, as the local runtime names it (``order_capture_local.emitters``)."""

from __future__ import annotations

from order_capture_local.emitters import Emitters, emitter

MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:ConfirmationStateMachine"
EXECUTION_ARN = (
    "arn:aws:states:us-east-1:123456789012:execution:ConfirmationStateMachine:"
    "5b08addf56ff5cd4a645613111d165ce"
)


def test_a_step_is_named_by_its_execution_and_attempt() -> None:
    emitters = Emitters()
    event = {"capture": {}, "execution_id": "arn:aws:states:x:execution:Capture:run-1"}
    assert emitters.invoked("RecordFunction", event) == "RecordFunction exec run-1 attempt 1"
    assert emitters.invoked("RecordFunction", event) == "RecordFunction exec run-1 attempt 2"


def test_a_webhook_is_named_by_its_body_and_copy() -> None:
    emitters = Emitters()
    event = {"httpMethod": "POST", "path": "/webhooks/sandbox/m-1", "body": '{"a": 1}'}
    first, second = (emitters.invoked("ApiFunction", event) for _ in range(2))
    assert first.endswith("copy 1") and second.endswith("copy 2")
    assert first.removesuffix("copy 1") == second.removesuffix("copy 2")
    other = emitters.invoked("ApiFunction", {**event, "body": '{"a": 2}'})
    assert other.endswith("copy 1") and other != first


def test_a_state_machine_task_is_named_by_its_execution() -> None:
    # Step Functions' own PutEvents task adds the machine's and the execution's ARNs
    said = emitter(None, {"Resources": [MACHINE_ARN, EXECUTION_ARN]})
    assert said.split(" ", 1)[1] == (
        "ConfirmationStateMachine execution ...a645613111d165ce (its own task)"
    )


def test_an_invocation_is_named_with_the_moment() -> None:
    said = emitter("RecordFunction exec run-1 attempt 1", {})
    moment, name = said.split(" ", 1)
    assert name == "RecordFunction exec run-1 attempt 1"
    assert len(moment) == len("12:00:01.000") and moment[2] == moment[5] == ":"
