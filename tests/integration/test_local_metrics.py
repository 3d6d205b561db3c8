"""Locally the functions' EMF metrics are hidden, and ORDER_CAPTURE_SHOW_METRICS=1 shows
them on stderr (stdout stays the local commands' report)."""

from __future__ import annotations

import json
from typing import Any

import pytest

# Imported at collection: the handlers' Logger binds its stream to stdout as it is when first
# imported, which must not be a test's capture (closed after that test).
import order_capture.observability  # noqa: F401
from order_capture_local.emf import SHOW_METRICS_ENV
from order_capture_local.runtime import LocalRuntime
from tests.factories import order_placed, order_shipped


def capture_once(sandbox: Any) -> None:
    with LocalRuntime(sandbox=sandbox, retry_time_scale=0.02) as runtime:
        runtime.put_events([order_placed()])
        (delivery,) = runtime.put_events([order_shipped("shipment-1")])
        assert delivery.executions[0].status == "SUCCEEDED"


def metric_names(text: str) -> set[str]:
    documents = [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]
    return {
        metric["Name"]
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }


def test_show_metrics_prints_each_invocations_emf_on_stderr(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SHOW_METRICS_ENV, "1")
    capture_once(sandbox)
    out, err = capsys.readouterr()
    assert {"Captures", "CapturedAmount"} <= metric_names(err)
    assert metric_names(out) == set()


def test_without_the_flag_no_metrics_are_printed(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(SHOW_METRICS_ENV, raising=False)
    capture_once(sandbox)
    out, err = capsys.readouterr()
    assert metric_names(out) == metric_names(err) == set()
