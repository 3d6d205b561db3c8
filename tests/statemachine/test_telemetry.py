"""What a capture tells at INFO, run as the workflow runs it: every provider call once and
every change of the capture's state (tests/unit/test_provider_call_log.py: never a secret)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

# Imported at collection: the handlers' Logger binds its stream when first imported.
import order_capture.observability  # noqa: F401
from order_capture.models import capture_id_for
from order_capture_local.runtime import LocalRuntime
from order_capture_local.sandbox import SandboxServer
from tests.factories import order_placed, order_shipped


@pytest.fixture
def info_runtime(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> Iterator[LocalRuntime]:
    with (
        caplog.at_level(logging.INFO),
        LocalRuntime(sandbox=sandbox, retry_time_scale=0.02, log_level="INFO") as runtime,
    ):
        runtime.put_events([order_placed()])
        yield runtime


def logged(caplog: pytest.LogCaptureFixture, message: str) -> list[dict[str, Any]]:
    return [record.__dict__ for record in caplog.records if record.getMessage() == message]


def test_a_capture_logs_its_provider_call_once_and_each_change_of_its_state(
    info_runtime: LocalRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    (delivery,) = info_runtime.put_events([order_shipped("shipment-1")])
    assert delivery.executions[0].status == "SUCCEEDED"
    capture_id = capture_id_for("merchant-1", "order-1001", "shipment-1")

    (call,) = logged(caplog, "provider call")
    assert (call["provider"], call["idempotency_key"], call["http_status"], call["outcome"]) == (
        "sandbox",
        capture_id,
        201,
        "succeeded",
    )
    assert call["operation"].startswith("POST ")
    changes = [
        (change["change"], change["from_status"], change["to_status"])
        for change in logged(caplog, "capture state changed")
    ]
    assert changes == [("reserved", None, "pending"), ("confirmed", "pending", "captured")]
    for record in logged(caplog, "capture state changed"):
        assert record["levelno"] == logging.INFO
        assert record["capture_id"] == capture_id


def test_a_declined_capture_logs_the_call_as_declined_and_the_release(
    info_runtime: LocalRuntime, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    sandbox.add_fault("decline", count=1)
    (delivery,) = info_runtime.put_events([order_shipped("shipment-1")])
    assert delivery.executions[0].status == "FAILED"
    (call,) = logged(caplog, "provider call")
    assert (call["http_status"], call["outcome"]) == (402, "ProviderDeclinedError")
    changes = [
        (change["change"], change["from_status"], change["to_status"], change["reason"])
        for change in logged(caplog, "capture state changed")
    ]
    assert changes == [
        ("reserved", None, "pending", None),
        ("released", "pending", "failed", "provider_declined"),
    ]
