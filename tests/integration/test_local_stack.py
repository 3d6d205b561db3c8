"""`order-capture local start`: one stack that the CLI, the API and any AWS client share.

The stack runs as a user runs it, in its own process (free ports, a stack file in a temporary
directory); the CLI commands run here and find it through that file.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import order_capture.observability  # noqa: F401 - its log handler binds the stream at import
from order_capture_local.cli import main
from order_capture_local.stack import STACK_FILE_ENV, StackInfo, running_stack
from order_capture_local.template import load_template
from tests.integration.stack_support import Stack

pytestmark = pytest.mark.slow(25)  # seconds of CPU: scheduled first (conftest.py)

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for the tests that only add to it (starting one takes seconds)."""
    running = Stack(tmp_path_factory.mktemp("stack"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def stack(shared_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.setenv(STACK_FILE_ENV, str(shared_stack.stack_file))
    return shared_stack


def _api(info: StackInfo, path: str, api_key: str) -> Any:
    request = urllib.request.Request(
        info.api_url + path, headers={"Authorization": f"Bearer {api_key}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_issue_13_events_put_on_the_stack_are_seen_through_its_api(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _cli(
        capsys,
        "local",
        "put-events",
        "--strict",
        "-e",
        str(EVENTS / "order-placed.json"),
        "-e",
        str(EVENTS / "order-shipped-1.json"),
    )
    assert code == 0, report
    assert "invoked OrderEventsFunction: ok" in report
    assert "states: Validate -> ComputeAmount" in report
    assert "-> Capture ->" in report
    assert ": SUCCEEDED" in report
    assert "== emitted Payment Captured" in report

    code, api_key = _cli(capsys, "keys", "create", "--merchant", "merchant-1")
    assert code == 0
    captures = _api(stack.info, "/orders/order-1001/captures", api_key.strip())["results"]
    assert [c["shipment_id"] for c in captures] == ["shipment-1"]
    assert captures[0]["status"] == "captured"
    # Another merchant's key sees nothing of it.
    _, other_key = _cli(capsys, "keys", "create", "--merchant", "merchant-2")
    with pytest.raises(urllib.error.HTTPError) as refused:
        _api(stack.info, "/orders/order-1001/captures", other_key.strip())
    assert refused.value.code == 404


def test_issue_13_invoke_finds_the_order_an_earlier_command_registered(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's first invoke failed with OrderNotFoundError: every command started from
    an empty ledger. Against the stack, the order put before is there."""
    code, _ = _cli(capsys, "local", "put-events", "-e", str(EVENTS / "order-placed.json"))
    assert code == 0
    code, output = _cli(
        capsys, "local", "invoke", "ValidateFunction", "-e", str(EVENTS / "order-shipped-1.json")
    )
    assert code == 0, output
    validated = json.loads(output)["validated"]
    assert validated["order"]["order_id"] == "order-1001"
    assert validated["request"]["shipment_id"] == "shipment-1"


def test_the_stack_serves_the_template_resources_to_any_aws_client(stack: Stack) -> None:
    import boto3

    make_client: Any = boto3.client  # one helper for five services

    def client(service: str) -> Any:
        return make_client(service, endpoint_url=stack.info.endpoint, region_name="us-east-1")

    assert client("dynamodb").list_tables()["TableNames"] == [stack.info.table_name]
    machines = client("stepfunctions").list_state_machines()["stateMachines"]
    assert {m["name"] for m in machines} == set(stack.info.state_machine_arns)
    rules = client("events").list_rules()["Rules"]
    assert {r["Name"] for r in rules} == {
        rule.name for rule in load_template(Path(stack.info.template)).rules
    }
    assert "CaptureStateMachine-OrderShipped" in {r["Name"] for r in rules}
    template = load_template(Path(stack.info.template))
    queues = client("sqs").list_queues()["QueueUrls"]
    assert {url.rsplit("/", 1)[-1] for url in queues} == set(template.queues)
    assert "OrderShippedDeadLetterQueue" in template.queues
    secret = client("secretsmanager").get_secret_value(
        SecretId="order-capture/providers/merchant-1/sandbox"
    )
    assert json.loads(secret["SecretString"])["webhook_hmac_key"]


def test_the_stack_prints_its_endpoint_api_and_a_key(stack: Stack) -> None:
    banner = "".join(stack.banner)
    assert stack.info.endpoint in banner
    assert stack.info.api_url in banner
    api_key = next(line.split(": ", 1)[1] for line in stack.banner if "API key" in line)
    with pytest.raises(urllib.error.HTTPError) as unknown_order:
        _api(stack.info, "/orders/order-none/captures", api_key.strip())
    assert unknown_order.value.code == 404  # authenticated: the key printed is a key
    with pytest.raises(urllib.error.HTTPError) as bad_key:
        _api(stack.info, "/orders/order-none/captures", "oc_not-a-key")
    assert bad_key.value.code == 401


def test_the_stack_keeps_its_state_in_a_file_across_restarts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    first = Stack(tmp_path, state)
    monkeypatch.setenv(STACK_FILE_ENV, str(first.stack_file))
    try:
        placed = str(EVENTS / "order-placed.json")
        shipped = str(EVENTS / "order-shipped-1.json")
        assert _cli(capsys, "local", "put-events", "--strict", "-e", placed, "-e", shipped)[0] == 0
    finally:
        assert first.stop() == 0
    assert running_stack() is None  # the stack file went with it
    second = Stack(tmp_path, state)
    try:
        code, report = _cli(
            capsys, "local", "put-events", "--strict", "-e", str(EVENTS / "order-shipped-2.json")
        )
        assert code == 0, report
        assert "captured 10171 of order total 10171" in report
    finally:
        second.stop()


def test_without_a_stack_commands_run_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(STACK_FILE_ENV, str(tmp_path / "no-stack.json"))
    code, output = _cli(
        capsys, "local", "invoke", "ComputeAmountFunction", "-e", str(EVENTS / "order-placed.json")
    )
    assert code == 1  # not a step input: the one-shot run answers with a function error
    assert json.loads(output)["errorType"] == "InvalidEventError"
