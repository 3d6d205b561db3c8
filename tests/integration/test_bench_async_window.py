"""The bench's asynchronous-capture row (issue 15): the confirmation workflow its capture hands
over to runs on Step Functions' own thread, after the capture workflow has ended. The row must
count that workflow's step every run, however late the step runs, and nothing of it may spill
into the next row's window."""

from __future__ import annotations

import time
from typing import Any

from order_capture_local.bench.cost import deployed
from order_capture_local.bench.recording import Bench
from order_capture_local.bench.scenarios import ASYNC_PATH, measure_paths
from order_capture_local.deliveries import CONFIRMATION_MACHINE
from order_capture_local.runtime import LocalRuntime


def test_defect_15_the_async_row_counts_the_confirmation_step_however_late(
    runtime: LocalRuntime,
) -> None:
    bench = Bench(runtime)

    # Given a confirmation step that runs well after the capture workflow has ended
    def late(_: Any) -> None:
        time.sleep(1.0)

    runtime.fault_hooks["AwaitConfirmationFunction"] = late

    # When every path is measured, logs metered as `make bench` meters them
    with bench.logs.metering(deployed().log_level):
        rows = {result.name: result.run for result in measure_paths(bench)}

    # Then the asynchronous row holds the confirmation step: its invocation, its transaction
    # (the task token noted beside the capture) and its log lines
    asynchronous = rows[ASYNC_PATH]
    assert asynchronous.report.status == "SUCCEEDED"
    assert asynchronous.requests["Lambda.Invoke"] == 5
    assert asynchronous.requests["DynamoDB.TransactWriteItems"] == 2
    assert asynchronous.log_bytes["AwaitConfirmationFunction"] > 0
    # And the confirmation workflow had ended when the window closed: nothing of it runs later
    confirmation = runtime.execution_arn(
        CONFIRMATION_MACHINE, asynchronous.report.output["capture_id"]
    )
    assert runtime.wait_for(confirmation, timeout_seconds=0).status != "RUNNING"
    # And the next row counts nothing of it
    after = rows["API-shaped capture (workflow only)"]
    assert "AwaitConfirmationFunction" not in after.log_bytes
    assert after.requests["Lambda.Invoke"] == 4
