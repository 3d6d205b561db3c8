"""CloudWatch Logs as the bench prices them (issue 15): the bytes each handler writes while it
is invoked, measured per function, and Lambda's own START/END/REPORT lines per invocation."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from order_capture.observability import logger
from order_capture_local.bench.cost import DAYS_PER_MONTH, PRICES, cost_per_million, deployed
from order_capture_local.bench.logs import (
    PLATFORM_LINES,
    LogMeter,
    platform_bytes_per_invocation,
    since,
)
from tests.unit.bench_cost_support import STEPS, run_of_steps

ROOT = Path(__file__).resolve().parents[2]


class _Invoking:
    def __init__(self) -> None:
        self.current: str | None = None

    def invoking_function(self) -> str | None:
        return self.current


def test_the_meter_counts_what_a_function_writes_while_invoked_in_bytes() -> None:
    invoking = _Invoking()
    meter = LogMeter(invoking, keep=True)

    with meter.metering("INFO"):
        # Given a handler's INFO line (a non-ASCII value), a DEBUG one and an EMF document
        invoking.current = "RecordFunction"
        logger.info("capture state changed", extra={"currency": "€"})
        logger.debug("not at the template's level")
        with single_metric(
            name="Captures", unit=MetricUnit.Count, value=1, namespace="OrderCapture"
        ):
            pass
        # And a line written outside any invocation
        invoking.current = None
        logger.info("the bench's own")

    # Then the function's bytes are what it wrote, UTF-8 encoded
    texts = "".join(meter.texts["RecordFunction"])
    assert meter.bytes_by_function == Counter({"RecordFunction": len(texts.encode())})
    assert len(texts.encode()) == len(texts) + 2  # "€" is 3 bytes
    line, emf = (json.loads(text) for text in texts.splitlines())
    assert line["message"] == "capture state changed"
    # With Lambda's trace header, as every line on AWS carries it
    assert line["xray_trace_id"] == "1-5e34a614-10bd4b5f1fb44f07bc535a10"
    assert emf["Captures"] == [1.0]
    assert "not at the template's level" not in texts
    assert "the bench's own" not in texts


def test_the_bytes_of_a_measured_action_are_the_difference_of_two_snapshots() -> None:
    before = Counter({"CaptureFunction": 700, "RecordFunction": 10})
    now = Counter({"CaptureFunction": 1500, "RecordFunction": 10, "ValidateFunction": 5})
    assert since(now, before) == Counter({"CaptureFunction": 800, "ValidateFunction": 5})


def test_lambdas_own_lines_are_the_documented_start_end_and_report() -> None:
    start, end, report = PLATFORM_LINES
    request_id = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert re.fullmatch(rf"START RequestId: {request_id} Version: \$LATEST\n", start)
    assert re.fullmatch(rf"END RequestId: {request_id}\n", end)
    fields = report.split("\n")[0].split("\t")
    assert re.fullmatch(rf"REPORT RequestId: {request_id}", fields[0])
    assert [field.split(":")[0] for field in fields[1:-1]] == [
        "Duration",
        "Billed Duration",
        "Memory Size",
        "Max Memory Used",
    ]
    # With active tracing (the template's Globals), REPORT carries the trace's ids
    assert re.search(r"\nXRAY TraceId: 1-[0-9a-f]{8}-[0-9a-f]{24}\tSegmentId: [0-9a-f]{16}", report)
    assert platform_bytes_per_invocation() == 360


def test_logs_are_priced_from_the_measured_bytes_and_lambdas_lines() -> None:
    measured = {"CaptureFunction": 1_600, "RecordFunction": 900, "ApiAuthorizerFunction": 5_000}
    stack = deployed(ROOT / "template.yaml")

    event = cost_per_million(run_of_steps(measured), STEPS, template=stack)
    api = cost_per_million(
        run_of_steps({**measured, "ApiFunction": 300}), STEPS, api=True, template=stack
    )

    # The steps' bytes and four invocations' platform lines; the authorizer (cached per key)
    # is not priced per capture
    assert event.log_bytes == 2_500 + 4 * platform_bytes_per_invocation()
    assert event.handler_log_bytes == {"CaptureFunction": 1_600, "RecordFunction": 900}
    per_gb = PRICES.logs_per_gb + stack.log_retention_days / DAYS_PER_MONTH * (
        PRICES.logs_storage_per_gb_month
    )
    assert abs(event.logs - event.log_bytes / 1024**3 * per_gb * 1_000_000) < 1e-9
    # The API request adds ApiFunction's lines and its invocation
    assert api.log_bytes == 2_800 + 5 * platform_bytes_per_invocation()
