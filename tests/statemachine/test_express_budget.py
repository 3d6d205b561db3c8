"""Issue 15: an Express execution of the capture workflow provably ends within five minutes.

The bound (``asl_lint.worst_case_seconds``) walks the slowest path of the definition that
deploys, every retrier exhausted and every attempt lasting its function's ``Timeout`` (or
its ``TimeoutSeconds``), waits un-jittered. ``make validate-asl`` refuses an Express machine
over the limit; these tests hold the shipped template to it and the checker to catching it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from order_capture_local.asl_lint import (
    EXPRESS_LIMIT_SECONDS,
    check_state_machine,
    worst_case_seconds,
)
from order_capture_local.template import StateMachineSpec, load_template

ROOT = Path(__file__).resolve().parents[2]
#: What the Capture step needs besides the provider's answer: credentials, the ledger's
#: re-read and reserve, the provider client.
CAPTURE_MARGIN_SECONDS = 3


@pytest.mark.parametrize("machine_id", ["CaptureStateMachine", "CaptureApiStateMachine"])
def test_every_capture_workflow_deployed_express_fits_five_minutes(machine_id: str) -> None:
    # Given the template with events captured by an Express workflow too
    template = load_template(
        ROOT / "template.yaml", parameter_overrides={"EventCaptureWorkflowType": "EXPRESS"}
    )
    machine = template.state_machines[machine_id]
    assert machine.workflow_type == "EXPRESS"

    # When its worst case is summed
    seconds, path = worst_case_seconds(template, machine)

    # Then it ends within Express's limit, and the checker agrees
    assert seconds <= EXPRESS_LIMIT_SECONDS, path
    assert check_state_machine(template, machine) == []


def test_the_checker_refuses_an_express_machine_over_five_minutes(tmp_path: Path) -> None:
    # Given the shipped definition with Capture retried at the old budget (8 attempts)
    template = load_template(ROOT / "template.yaml")
    shipped = template.state_machines["CaptureApiStateMachine"]
    definition = json.loads(shipped.definition_path.read_text())
    definition["States"]["Capture"]["Retry"][0]["MaxAttempts"] = 8
    path = tmp_path / "capture.asl.json"
    path.write_text(json.dumps(definition))
    machine = StateMachineSpec(shipped.logical_id, path, shipped.substitutions, "EXPRESS")

    # Then the checker names the limit and the path
    (problem,) = check_state_machine(template, machine)
    assert f"> {EXPRESS_LIMIT_SECONDS} s" in problem
    assert "Capture" in problem


def test_capture_outlasts_the_providers_answer() -> None:
    # Capture's Timeout is part of the budget above: it must leave the provider its whole
    # ProviderTimeoutSeconds and the ledger its margin, or every slow answer is a timeout
    template = load_template(ROOT / "template.yaml")
    provider_timeout = float(template.parameters["ProviderTimeoutSeconds"])
    capture = template.functions["CaptureFunction"]
    assert capture.timeout >= provider_timeout + CAPTURE_MARGIN_SECONDS
