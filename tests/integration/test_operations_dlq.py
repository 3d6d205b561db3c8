"""`order-capture dlq list|redrive` on the local stack: a dead letter is listed, its event put
back on the bus (the capture happens), and the message deleted only then; what cannot be
redriven safely stays in its queue, said why."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import order_capture.observability  # noqa: F401 - its log handler binds the stream at import
from order_capture_local import stack_client
from order_capture_local.cli import main
from order_capture_local.dead_letters import read_dead_letter
from order_capture_local.stack import STACK_FILE_ENV
from tests.integration.stack_support import Stack

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture(scope="module")
def module_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("stack"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def stack(module_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.setenv(STACK_FILE_ENV, str(module_stack.stack_file))
    return module_stack


def sqs(stack: Stack) -> Any:
    import boto3

    make_client: Any = boto3.client
    return make_client("sqs", endpoint_url=stack.info.endpoint, region_name="us-east-1")


def dead_letter(stack: Stack, queue: str, body: dict[str, Any], **attributes: str) -> str:
    """A message as EventBridge (rule attributes) or Lambda (an invocation record) leaves it."""
    client = sqs(stack)
    url = client.get_queue_url(QueueName=queue)["QueueUrl"]
    sent = client.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(body),
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        },
    )
    return str(sent["MessageId"])


def invocation_record(event: dict[str, Any], error_type: str) -> dict[str, Any]:
    return {
        "version": "1.0",
        "timestamp": "2026-11-21T10:00:00.000Z",
        "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "responsePayload": {"errorType": error_type, "errorMessage": "the ledger was away"},
    }


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def captures_of(stack: Stack, order_id: str) -> list[dict[str, Any]]:
    return [
        item
        for item in stack_client.ledger(stack.info)
        if item["PK"].endswith(f"#{order_id}") and item["SK"].startswith("CAPTURE#")
    ]


def test_an_undelivered_shipment_is_listed_redriven_captured_and_gone(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = cli(capsys, "local", "put-events", "-e", str(EVENTS / "order-placed.json"))
    assert code == 0
    shipped = json.loads((EVENTS / "order-shipped-1.json").read_text())
    message_id = dead_letter(
        stack,
        "OrderShippedDeadLetterQueue",
        shipped,
        ERROR_CODE="SDK_CLIENT_ERROR",
        ERROR_MESSAGE="Throttled",
    )
    assert captures_of(stack, "order-1001") == []

    code, out, _ = cli(capsys, "dlq", "list", "--queue", "OrderShippedDeadLetterQueue")
    assert code == 0
    assert message_id in out and "Order Shipped merchant-1/order-1001/shipment-1" in out
    assert "SDK_CLIENT_ERROR: Throttled" in out
    # Listing leaves it there
    code, out, _ = cli(capsys, "dlq", "list", "--queue", "OrderShippedDeadLetterQueue")
    assert message_id in out

    code, out, err = cli(capsys, "dlq", "redrive", "--queue", "OrderShippedDeadLetterQueue")
    assert code == 0, out + err
    assert "redriven" in out and message_id in out and "1 redriven, 0 left" in err

    deadline = time.monotonic() + 60
    while not [c for c in captures_of(stack, "order-1001") if c["status"] == "captured"]:
        assert time.monotonic() < deadline, "the redriven shipment was not captured"
        time.sleep(0.2)
    assert [c["shipment_id"] for c in captures_of(stack, "order-1001")] == ["shipment-1"]
    code, out, err = cli(capsys, "dlq", "list", "--queue", "OrderShippedDeadLetterQueue")
    assert message_id not in out and "0 dead letter(s)" in err


def test_what_cannot_be_redriven_safely_stays_in_the_queue_said_why(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    scheduled = dead_letter(
        stack, "FailedInvocationsQueue", invocation_record({}, "LedgerUnavailableError")
    )
    canceled_event = json.loads((EVENTS / "order-items-canceled.json").read_text())
    cancellation = dead_letter(
        stack,
        "FailedInvocationsQueue",
        invocation_record(canceled_event, "LedgerUnavailableError"),
    )
    code, out, err = cli(capsys, "dlq", "redrive", "--queue", "FailedInvocationsQueue")
    assert code == 1
    assert "0 redriven, 2 left" in err
    assert f"{scheduled}  invocation not an event" in out
    assert cancellation in out and "--allow-cancellations" in out
    code, out, _ = cli(capsys, "dlq", "list", "--queue", "FailedInvocationsQueue")
    assert scheduled in out and cancellation in out
    assert "LedgerUnavailableError: the ledger was away" in out


def test_a_redrive_is_bounded_and_names_unknown_queues(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["dlq", "redrive", "--max", "0"])
    assert "not a number from 1 to 100" in capsys.readouterr().err
    with pytest.raises(SystemExit, match=r"no queue 'Nope'.*OrderShippedDeadLetterQueue"):
        main(["dlq", "list", "--queue", "Nope"])


def test_a_message_that_is_not_json_is_read_as_no_event() -> None:
    letter = read_dead_letter(
        "Q", {"MessageId": "m", "ReceiptHandle": "r", "Body": "<html>", "MessageAttributes": {}}
    )
    assert letter.event is None and letter.error == "no error attribute"


class _Queue:
    """An SQS queue and a bus that refuses every event (what a redrive must survive)."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.messages = [{"MessageId": "m1", "ReceiptHandle": "r1", "Body": json.dumps(body)}]
        self.deleted: list[str] = []
        self.visible_again: list[str] = []
        self.received = 0

    def receive_message(self, **_: Any) -> dict[str, Any]:
        self.received += 1
        return {"Messages": self.messages if self.received == 1 else []}

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> None:  # noqa: N803
        self.deleted.append(ReceiptHandle)

    def change_message_visibility(self, ReceiptHandle: str, **_: Any) -> None:  # noqa: N803
        self.visible_again.append(ReceiptHandle)

    def put_events(self, Entries: list[Any]) -> dict[str, Any]:  # noqa: N803
        return {
            "FailedEntryCount": 1,
            "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try later"}],
        }


def test_a_message_whose_event_the_bus_refused_is_not_deleted() -> None:
    from order_capture_local.dead_letters import Queues, redrive

    queue = _Queue(json.loads((EVENTS / "order-shipped-1.json").read_text()))
    done, left = redrive(Queues(queue, queue, {"Q": "url"}, "default"), "Q", 10)
    assert done == [] and "InternalFailure try later" in left[0][1]
    assert queue.deleted == [] and queue.visible_again == ["r1"]
