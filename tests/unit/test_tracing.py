"""Traces without the X-Ray SDK: a handler subsegment annotated with the order's ids, and a
subsegment per provider call under it, sent to the daemon Lambda names; nothing unsampled."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from order_capture.adapters.provider_http import ProviderHttp
from order_capture.models import CaptureRequest, capture_id_for
from order_capture.wiring import lambda_entry, log_keys_of
from tests.support import FakeLambdaContext

TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled={}"


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A UDP socket on loopback standing in for Lambda's X-Ray daemon."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(2)
    host, port = listener.getsockname()
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", f"{host}:{port}")
    yield listener
    listener.close()


def received(daemon: socket.socket, count: int) -> list[dict[str, Any]]:
    documents = []
    for _ in range(count):
        datagram = daemon.recv(65536)
        header, _, body = datagram.partition(b"\n")
        assert json.loads(header) == {"format": "json", "version": 1}
        documents.append(json.loads(body))
    return documents


def provider_http() -> ProviderHttp:
    return ProviderHttp(
        "sandbox",
        "https://provider.test",
        headers={"Authorization": "Bearer secret-key"},
        timeout_seconds=1,
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json={"ok": True})),
    )


@lambda_entry
def capturing_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    log_keys_of(CaptureRequest.model_validate(event))
    return provider_http().request("POST", "/captures", idempotent=True, json={})


def test_a_sampled_invocation_sends_its_handler_and_provider_subsegments(
    daemon: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a sampled invocation
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE_HEADER.format(1))
    request = {"merchant_id": "m-1", "order_id": "o-1", "shipment_id": "s-1", "trigger": "api"}

    # When the handler calls the provider
    capturing_handler(request, FakeLambdaContext())

    # Then the provider call is a remote subsegment of the handler's, which hangs under
    # Lambda's function segment and carries the order's ids
    provider_call, handler = received(daemon, 2)
    assert handler["type"] == provider_call["type"] == "subsegment"
    assert handler["trace_id"] == provider_call["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert handler["parent_id"] == "53995c3f42cd8ad8"
    assert provider_call["parent_id"] == handler["id"]
    assert handler["annotations"] == {
        "merchant_id": "m-1",
        "order_id": "o-1",
        "shipment_id": "s-1",
        "capture_id": capture_id_for("m-1", "o-1", "s-1"),
    }
    assert provider_call["namespace"] == "remote"
    assert provider_call["annotations"] == {"provider": "sandbox", "operation": "POST /captures"}
    assert provider_call["http"] == {"response": {"status": 200}}
    assert handler["start_time"] <= provider_call["start_time"] <= provider_call["end_time"]
    assert provider_call["end_time"] <= handler["end_time"]
    # And no credential travels with the trace
    assert "secret-key" not in json.dumps([handler, provider_call])


def test_a_failed_call_is_marked_as_a_fault(
    daemon: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE_HEADER.format(1))

    # When the handler fails (here: an invalid request)
    with pytest.raises(ValueError):
        capturing_handler({"order_id": ""}, FakeLambdaContext())

    # Then its subsegment says so, with the error's type and not its message
    (handler,) = received(daemon, 1)
    assert handler["fault"] is True
    assert handler["cause"] == {"exceptions": [{"type": "ValidationError"}]}


@pytest.mark.parametrize("sampled", ["0", None])
def test_an_unsampled_or_untraced_invocation_sends_nothing(
    daemon: socket.socket, monkeypatch: pytest.MonkeyPatch, sampled: str | None
) -> None:
    if sampled is None:
        monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    else:
        monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE_HEADER.format(sampled))
    request = {"merchant_id": "m-1", "order_id": "o-1", "shipment_id": "s-1", "trigger": "api"}

    capturing_handler(request, FakeLambdaContext())

    daemon.settimeout(0.2)
    with pytest.raises(TimeoutError):
        daemon.recv(65536)
