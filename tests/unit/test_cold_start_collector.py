"""Lambda's Init and first invocation run without the cyclic garbage collector
(order_capture/__init__.py): it resumes, with all they made frozen, after the first
invocation. Each check runs in a fresh interpreter, as a container starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support import ROOT

_COLD_CONTAINER = """
import gc, json
from order_capture.handlers import compute_amount
after_init = (gc.isenabled(), gc.get_freeze_count())

class Context:
    function_name = "compute-amount"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:compute-amount"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/compute-amount"
    log_stream_name = "test"
    def get_remaining_time_in_millis(self):
        return 30000

try:
    compute_amount.lambda_handler({"not": "a step payload"}, Context())
except Exception:
    pass  # a refused payload ends the first invocation as well as a good one
after_first_invoke = (gc.isenabled(), gc.get_freeze_count())
print(json.dumps({"init": after_init, "first_invoke": after_first_invoke}))
"""


def _collector_in_a_container(execution_env: str | None) -> dict[str, list[object]]:
    environment = {key: value for key, value in os.environ.items() if key != "AWS_EXECUTION_ENV"}
    environment.update(
        {
            "PYTHONPATH": str(ROOT / "functions" / "app"),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    if execution_env is not None:
        environment["AWS_EXECUTION_ENV"] = execution_env
    completed = subprocess.run(
        [sys.executable, "-c", _COLD_CONTAINER],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, list[object]] = json.loads(completed.stdout.splitlines()[-1])
    return result


def test_on_lambda_the_collector_waits_for_the_end_of_the_first_invocation() -> None:
    # Given a container of Lambda's Python runtime
    # When its handler is imported (Init), then invoked once
    states = _collector_in_a_container("AWS_Lambda_python3.13")

    # Then the collector is off through Init, and back on after the first invocation with
    # what Init and the invocation made frozen (never scanned again)
    assert states["init"] == [False, 0]
    enabled, frozen = states["first_invoke"]
    assert enabled is True
    assert isinstance(frozen, int)
    assert frozen > 10_000


def test_outside_lambda_the_collector_is_left_alone() -> None:
    # Given an interpreter that is not Lambda's (tests, the local runtime, the CLI)
    # When a handler is imported and invoked
    states = _collector_in_a_container(None)

    # Then the collector was never paused and nothing is frozen
    assert states["init"] == [True, 0]
    assert states["first_invoke"] == [True, 0]
