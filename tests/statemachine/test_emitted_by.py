"""The local runtime names who emitted each event (``emitted_by``): the fault campaign's
examples of a capture announced wrongly say which step, attempt or execution sent each."""

from __future__ import annotations

from typing import Any

from order_capture_local.runtime import LocalRuntime
from order_capture_local.sandbox import SandboxServer
from tests.statemachine.workflow_support import crash, ship_once


def emitted(runtime: LocalRuntime, detail_type: str) -> list[dict[str, Any]]:
    return [e for e in runtime.emitted_events if e["detail-type"] == detail_type]


def test_payment_captured_names_the_record_step_and_its_attempt(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    # Given a Record step that announced, then crashed, and was retried
    runtime.after_hooks["RecordFunction"] = crash(1)
    execution = ship_once(runtime)
    # Then each Payment Captured names the attempt of that execution's Record that sent it:
    # the retry found its own note and announced again (docs/guarantees.md: at least once),
    # the same announcement both times
    first, repeat = emitted(runtime, "Payment Captured")
    name = execution.arn.rsplit(":", 1)[-1]
    assert first["emitted_by"].endswith(f"RecordFunction exec ...{name[-16:]} attempt 1")
    assert repeat["emitted_by"].endswith(f"RecordFunction exec ...{name[-16:]} attempt 2")
    assert first["detail"]["announcement_id"] == repeat["detail"]["announcement_id"]


def test_payment_capture_failed_names_the_execution_whose_own_task_sent_it(
    runtime: LocalRuntime, sandbox: SandboxServer
) -> None:
    # Given a capture the provider declines (the workflow's EmitCaptureFailed announces it)
    sandbox.add_fault("decline", count=1, status=402)
    execution = ship_once(runtime)
    assert execution.status == "FAILED"
    (announced,) = emitted(runtime, "Payment Capture Failed")
    name = execution.arn.rsplit(":", 1)[-1]
    assert announced["emitted_by"].endswith(
        f"CaptureStateMachine execution ...{name[-16:]} (its own task)"
    )
