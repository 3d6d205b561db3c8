"""The definition that deploys is checked structurally, and the checker itself catches breakage."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from order_capture_local.asl_lint import check_state_machine, check_states, main
from order_capture_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def definition() -> dict[str, Any]:
    return dict(json.loads((ROOT / "statemachine" / "capture.asl.json").read_text()))


def test_the_shipped_definition_has_no_problems() -> None:
    template = load_template(ROOT / "template.yaml")
    assert template.state_machines, "the template deploys a state machine"
    for machine in template.state_machines.values():
        assert check_state_machine(template, machine) == []
    assert main([str(ROOT / "template.yaml")]) == 0


@pytest.mark.parametrize(
    ("breakage", "problem"),
    [
        (lambda d: d["States"]["Validate"].update(Next="Nowhere"), "goes to 'Nowhere'"),
        (lambda d: d["States"].update(Orphan={"Type": "Succeed"}), "Orphan: unreachable"),
        (lambda d: d["States"]["Capture"].pop("Next"), "neither Next nor End"),
        (
            lambda d: d["States"]["Capture"]["Retry"][1]["ErrorEquals"].append("TypoError"),
            "'TypoError' is neither",
        ),
        (lambda d: d.update(StartAt="Missing"), "StartAt 'Missing'"),
        (
            lambda d: (
                d["States"]["Capture"].update(Next="Sort"),
                d["States"].update(Sort={"Type": "Choice", "Choices": [], "Default": "Record"}),
            ),
            "needs Choices",
        ),
        (
            lambda d: d["States"]["Capture"]["Retry"][1]["ErrorEquals"].append("Lambda.Unknown"),
            "Retry[1] lists 'Lambda.Unknown', which an earlier retrier already matches",
        ),
        (
            lambda d: d["States"]["Capture"]["Retry"][0]["ErrorEquals"].append("States.Timeout"),
            "retries States.Timeout without TimeoutSeconds",
        ),
        (
            lambda d: d["States"]["ComputeAmount"]["Retry"][0]["ErrorEquals"].remove(
                "Sandbox.Timedout"
            ),
            "does not retry Sandbox.Timedout",
        ),
    ],
)
def test_checker_catches_broken_definitions(breakage: Any, problem: str) -> None:
    broken = copy.deepcopy(definition())
    breakage(broken)
    problems = check_states(broken["States"], broken["StartAt"], "Capture")
    assert any(problem in found for found in problems), problems


def test_defect_16_6_dead_retrier_entries_and_an_untimed_states_timeout_are_gone() -> None:
    """Capture's second retrier repeated three Lambda errors the first one matches, and
    retried States.Timeout although Capture sets no TimeoutSeconds."""
    capture = definition()["States"]["Capture"]
    first, *later = capture["Retry"]
    assert "TimeoutSeconds" not in capture
    for retrier in later:
        assert not set(retrier["ErrorEquals"]) & set(first["ErrorEquals"])
        assert "States.Timeout" not in retrier["ErrorEquals"]


def test_a_timed_task_may_retry_states_timeout() -> None:
    timed = copy.deepcopy(definition())
    capture = timed["States"]["Capture"]
    capture["TimeoutSeconds"] = 40
    capture["Retry"][1]["ErrorEquals"].append("States.Timeout")
    assert check_states(timed["States"], timed["StartAt"], "Capture") == []


def test_every_failure_of_a_lambda_step_is_caught_or_retried() -> None:
    """No Lambda task can fail the execution without the ledger hearing of it."""
    states = definition()["States"]
    for name, state in states.items():
        if state["Type"] == "Task" and state["Resource"].startswith("${"):
            catches = [error for c in state.get("Catch", []) for error in c["ErrorEquals"]]
            retries = [error for r in state.get("Retry", []) for error in r["ErrorEquals"]]
            if name == "RecordFailure":
                # The recorder of failures retries everything; past that the execution fails
                # and the failed-executions alarm speaks.
                assert "States.ALL" in retries
            else:
                assert "States.ALL" in catches, f"{name} does not catch every error"


def test_every_retryable_error_class_is_retried_somewhere() -> None:
    from order_capture import errors

    retried = {
        error
        for state in definition()["States"].values()
        for rule in state.get("Retry", [])
        for error in rule["ErrorEquals"]
    }
    retryable = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type)
        and issubclass(value, errors.OrderCaptureError)
        and value.retryable
        and name != "OrderChangedError"
    }
    assert retryable <= retried, retryable - retried


def test_the_worst_case_sums_every_attempt_and_wait_along_the_slowest_path(
    tmp_path: Path,
) -> None:
    from order_capture_local.asl_lint import worst_case_seconds
    from order_capture_local.template import StateMachineSpec, Template

    # Given a task retried twice (1 s then 2 s apart), each attempt up to 5 s, then a 10 s
    # wait, and a faster branch; and a catch that loops back
    slow = {
        "Type": "Task",
        "Resource": "arn:aws:states:::events:putEvents",
        "TimeoutSeconds": 5,
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Start"}],
        "Next": "Pause",
    }
    definition = {
        "StartAt": "Start",
        "States": {
            "Start": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Slow"}],
                "Default": "Done",
            },
            "Slow": slow,
            "Pause": {"Type": "Wait", "Seconds": 10, "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    path = tmp_path / "machine.asl.json"
    path.write_text(json.dumps(definition))
    machine = StateMachineSpec("Machine", path, {}, "EXPRESS")

    seconds, states = worst_case_seconds(Template(root=tmp_path), machine)

    # Then: 5 + (1 + 5) + (2 + 5) for the task, 10 for the wait; the loop is named
    assert seconds == 28
    assert states == ["Start", "Slow", "Pause", "Done", "loop Slow -> Start"]
