"""What a shipment capture writes to CloudWatch Logs on the happy path (issue 15, logs priced
as measured): the lines an audit needs and nothing else, each without the Lambda context keys
its log group already says."""

from __future__ import annotations

import json

from order_capture_local.bench.cost import deployed
from order_capture_local.bench.recording import Bench
from order_capture_local.bench.scenarios import load_event
from order_capture_local.runtime import LocalRuntime


def test_a_capture_logs_its_two_state_changes_and_its_provider_call(
    runtime: LocalRuntime,
) -> None:
    bench = Bench(runtime)
    bench.logs.keep = True
    with bench.logs.metering(deployed().log_level):
        bench.register(load_event("order-placed"))
        bench.logs.texts.clear()

        # When a shipment is captured
        run = bench.deliver(load_event("order-shipped-1"))

    assert run.report.status == "SUCCEEDED"
    documents = {
        function_id: [json.loads(line) for line in "".join(texts).splitlines()]
        for function_id, texts in bench.logs.texts.items()
    }
    # Then Validate and ComputeAmount write nothing, Capture its reservation and the provider
    # call, Record the confirmation and its two metrics (EMF documents)
    messages = {
        function_id: [document.get("message") for document in lines if "_aws" not in document]
        for function_id, lines in documents.items()
    }
    assert messages == {
        "CaptureFunction": ["capture state changed", "provider call"],
        "RecordFunction": ["capture state changed"],
    }
    metrics = [
        name
        for document in documents["RecordFunction"]
        if "_aws" in document
        for directive in document["_aws"]["CloudWatchMetrics"]
        for name in (metric["Name"] for metric in directive["Metrics"])
    ]
    assert sorted(metrics) == ["CapturedAmount", "Captures"]
    # And no line repeats what its log group and REPORT say; each joins its REPORT
    for lines in documents.values():
        for document in lines:
            if "_aws" in document:
                continue
            assert not {"function_name", "function_arn", "function_memory_size"} & set(document)
            assert document["function_request_id"]
    # And the bytes priced are those lines' bytes
    assert run.log_bytes == {
        function_id: len("".join(texts).encode()) for function_id, texts in bench.logs.texts.items()
    }
