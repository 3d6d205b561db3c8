"""``order-capture dlq list|redrive``: the template's dead-letter queues, and the events in them
put back on the bus.

Two kinds of message reach them (docs/operations.md, "Dead letters"):

* an EventBridge rule's dead-letter queue (``OrderShippedDeadLetterQueue``,
  ``OrderEventsDeadLetterQueue``) holds the event itself, as the target would have received it,
  with the rule's ``ERROR_CODE`` / ``ERROR_MESSAGE`` as message attributes: it was never
  handed to the workflow or function;
* the failure destination of the asynchronously invoked functions (``FailedInvocationsQueue``)
  holds Lambda's invocation record: the event under ``requestPayload``, the error under
  ``responsePayload``. The handler ran (and failed, three times).

A redrive puts the original event (source, detail-type, detail, resources, time) back on the
bus it came from, and deletes the message only after PutEvents accepted the event: a failed
put leaves the message where it was. It is bounded (``--max``) and takes each message out of
sight while it works (the visibility timeout), so two operators do not redrive one message
twice. A put event gets a new event id: what dedupes it is the ledger (a shipment captures
once whatever the event id). A cancellation is the exception: its handler may have canceled
before it failed, and canceling twice is not harmless, so a cancellation from the failure queue
is redriven only with ``--allow-cancellations`` (after checking the order's canceled units).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from order_capture_local.lambda_service import patched_environ
from order_capture_local.stack import running_stack
from order_capture_local.stack_client import pointed_at, stack_template
from order_capture_local.template import LOCAL_REGION

#: The largest ``--max``: a redrive is a bounded, attended operation.
MOST_MESSAGES = 100
#: Seconds a message being redriven stays out of other readers' sight.
REDRIVE_VISIBILITY_SECONDS = 60
CANCELLATION = "Order Items Canceled"


@dataclass(frozen=True)
class DeadLetter:
    """One message of a dead-letter queue, read."""

    queue: str
    message_id: str
    receipt_handle: str
    #: The original EventBridge event, or None when the message holds none (a scheduled run).
    event: dict[str, Any] | None
    #: Why it is here: the rule's error, or the function's error.
    error: str
    #: ``rule`` (never delivered) or ``invocation`` (the handler ran and failed).
    kind: str
    received: int


def read_dead_letter(queue: str, message: dict[str, Any]) -> DeadLetter:
    """What a queue message holds: the event and why it failed, whichever kind it is."""
    attributes = message.get("MessageAttributes", {})
    count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
    try:
        body = json.loads(message.get("Body", ""))
    except ValueError:
        body = None
    common = {
        "queue": queue,
        "message_id": message["MessageId"],
        "receipt_handle": message["ReceiptHandle"],
        "received": count,
    }
    if isinstance(body, dict) and "requestPayload" in body:
        payload = body.get("requestPayload")
        response = body.get("responsePayload") or {}
        condition = body.get("requestContext", {}).get("condition", "")
        error = f"{response.get('errorType', condition)}: {response.get('errorMessage', '')}"
        return DeadLetter(
            **common,
            event=payload if _is_event(payload) else None,
            error=error.strip(": "),
            kind="invocation",
        )
    code = attributes.get("ERROR_CODE", {}).get("StringValue", "")
    text = attributes.get("ERROR_MESSAGE", {}).get("StringValue", "")
    return DeadLetter(
        **common,
        event=body if _is_event(body) else None,
        error=f"{code}: {text}".strip(": ") or "no error attribute",
        kind="rule",
    )


def _is_event(value: Any) -> bool:
    return isinstance(value, dict) and {"source", "detail-type", "detail"} <= value.keys()


def describe(letter: DeadLetter) -> str:
    event = letter.event
    if event is None:
        what = "not an event (a scheduled run: it runs again on its schedule)"
    else:
        detail = event.get("detail") or {}
        names = "/".join(
            str(detail[key]) for key in ("merchant_id", "order_id", "shipment_id") if key in detail
        )
        what = f"{event['detail-type']} {names} (event {event.get('id', '?')})"
    return f"{letter.queue}  {letter.message_id}  {letter.kind:<10} {what}  {letter.error}"


# --- where the queues are -------------------------------------------------------------------


@dataclass
class Queues:
    sqs: Any
    events: Any
    #: Queue name (as listed) -> URL.
    urls: dict[str, str]
    event_bus: str


@contextmanager
def queues_of(args: argparse.Namespace) -> Iterator[Queues]:
    """The queues of ``--queue-url`` (AWS with the operator's credentials, or whatever
    AWS_ENDPOINT_URL points at), else the template's queues on the running local stack."""
    import boto3  # noqa: PLC0415

    if args.queue_url:
        urls = {url.rsplit("/", 1)[-1]: url for url in args.queue_url}
        yield Queues(boto3.client("sqs"), boto3.client("events"), urls, args.event_bus)
        return
    info = running_stack()
    if info is None:
        raise SystemExit(
            f"order-capture: dlq {args.dlq_command} needs --queue-url (the stack outputs "
            "*DeadLetterQueueUrl, FailedInvocationsQueueUrl) or a running "
            "`order-capture local start`"
        )
    print(f"(local stack at {info.endpoint})", file=sys.stderr)
    names = stack_template(info).queues
    with patched_environ(info.aws_environment()), pointed_at(info):
        sqs = boto3.client("sqs", region_name=LOCAL_REGION)
        urls = {name: sqs.get_queue_url(QueueName=name)["QueueUrl"] for name in names}
        yield Queues(sqs, boto3.client("events", region_name=LOCAL_REGION), urls, args.event_bus)


def _receive(queues: Queues, url: str, count: int, visibility: int) -> list[dict[str, Any]]:
    answer = queues.sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=min(10, count),
        VisibilityTimeout=visibility,
        MessageAttributeNames=["All"],
        AttributeNames=["ApproximateReceiveCount"],
        WaitTimeSeconds=0,
    )
    return list(answer.get("Messages", []))


def peek(queues: Queues, name: str, most: int) -> list[DeadLetter]:
    """Up to ``most`` messages of queue ``name``, left in the queue (visible again at once)."""
    seen: dict[str, DeadLetter] = {}
    for _ in range(most // 10 + 2):  # bounded: a round that brings nothing new ends it
        batch = _receive(queues, queues.urls[name], most - len(seen), 0)
        fresh = [m for m in batch if m["MessageId"] not in seen]
        for message in fresh:
            seen[message["MessageId"]] = read_dead_letter(name, message)
        if not fresh or len(seen) >= most:
            break
    return list(seen.values())


def redrive(
    queues: Queues, name: str, most: int, *, allow_cancellations: bool = False
) -> tuple[list[tuple[DeadLetter, str]], list[tuple[DeadLetter, str]]]:
    """Put up to ``most`` events of queue ``name`` back on the bus: (redriven, left), each with
    what happened. A message is deleted only after its event was accepted; what is left stays
    out of sight until the redrive ends (so it is not read twice), then is visible again."""
    done: list[tuple[DeadLetter, str]] = []
    left: list[tuple[DeadLetter, str]] = []
    url = queues.urls[name]
    try:
        while len(done) + len(left) < most:
            batch = _receive(queues, url, most - len(done) - len(left), REDRIVE_VISIBILITY_SECONDS)
            if not batch:
                break
            for message in batch:
                letter = read_dead_letter(name, message)
                why = _redrive_one(queues, url, letter, allow_cancellations)
                (left if why.startswith(LEFT) else done).append((letter, why))
    finally:
        for letter, _ in left:
            # Visible again at once, for the next reader (or operator) to see.
            queues.sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0
            )
    return done, left


#: How the outcome of a message left in its queue begins.
LEFT = "left in the queue: "


def _redrive_one(queues: Queues, url: str, letter: DeadLetter, allow_cancellations: bool) -> str:
    event = letter.event
    if event is None:
        return LEFT + "not an event"
    if (
        event["detail-type"] == CANCELLATION
        and letter.kind == "invocation"
        and not allow_cancellations
    ):
        return LEFT + (
            "a cancellation whose handler ran may have canceled already; check the order's "
            "canceled units, then redrive with --allow-cancellations"
        )
    entry: dict[str, Any] = {
        "Source": str(event["source"]),
        "DetailType": str(event["detail-type"]),
        "Detail": json.dumps(event["detail"]),
        "Resources": list(event.get("resources") or []),
        "EventBusName": queues.event_bus,
    }
    if event.get("time"):
        entry["Time"] = event["time"]
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        answer = queues.events.put_events(Entries=[entry])
    except (BotoCoreError, ClientError) as error:
        return LEFT + f"PutEvents failed: {error}"
    accepted = answer.get("Entries", [{}])[0]
    if answer.get("FailedEntryCount") or "EventId" not in accepted:
        why = f"{accepted.get('ErrorCode', '')} {accepted.get('ErrorMessage', '')}".strip()
        return LEFT + f"PutEvents refused it: {why}"
    queues.sqs.delete_message(QueueUrl=url, ReceiptHandle=letter.receipt_handle)
    return f"put on {queues.event_bus} as event {accepted['EventId']}"


# --- the commands ---------------------------------------------------------------------------


def _chosen(queues: Queues, args: argparse.Namespace) -> list[str]:
    if args.queue is None:
        return sorted(queues.urls)
    if args.queue not in queues.urls:
        raise SystemExit(
            f"order-capture: no queue {args.queue!r} (known: {', '.join(sorted(queues.urls))})"
        )
    return [args.queue]


def _cmd_dlq_list(args: argparse.Namespace) -> int:
    with queues_of(args) as queues:
        letters = [
            letter for name in _chosen(queues, args) for letter in peek(queues, name, args.max)
        ]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "queue": letter.queue,
                        "message_id": letter.message_id,
                        "kind": letter.kind,
                        "error": letter.error,
                        "received": letter.received,
                        "event": letter.event,
                    }
                    for letter in letters
                ],
                indent=2,
            )
        )
    else:
        for letter in letters:
            print(describe(letter))
    print(f"{len(letters)} dead letter(s)", file=sys.stderr)
    return 0


def _cmd_dlq_redrive(args: argparse.Namespace) -> int:
    with queues_of(args) as queues:
        results = [
            redrive(queues, name, args.max, allow_cancellations=args.allow_cancellations)
            for name in _chosen(queues, args)
        ]
    done = [pair for redriven, _ in results for pair in redriven]
    left = [pair for _, kept in results for pair in kept]
    for letter, why in done:
        print(f"redriven  {describe(letter)}  -> {why}")
    for letter, why in left:
        print(f"left      {describe(letter)}  -> {why.removeprefix(LEFT)}")
    print(f"{len(done)} redriven, {len(left)} left in the queue", file=sys.stderr)
    return 1 if left else 0


def add_parsers(commands: Any) -> None:
    """``dlq list|redrive``, on the CLI's top-level subparsers."""
    dlq = commands.add_parser("dlq", help="dead-letter queues: list, redrive to the bus")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--queue-url",
            action="append",
            help="a queue (the stack outputs *QueueUrl); repeatable; default: the local stack's",
        )
        sub.add_argument("--queue", help="only this queue (its name)")
        sub.add_argument("--event-bus", default="default", help="the bus events go back to")
        sub.add_argument(
            "--max",
            type=_bounded,
            default=10,
            help=f"at most this many messages per queue (1-{MOST_MESSAGES}, default 10)",
        )

    listing = dlq_commands.add_parser("list", help="the messages, left in their queues")
    common(listing)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_cmd_dlq_list)

    again = dlq_commands.add_parser(
        "redrive", help="put each message's event back on the bus, then delete the message"
    )
    common(again)
    again.add_argument(
        "--allow-cancellations",
        action="store_true",
        help="also redrive cancellations whose handler ran (it may have canceled already)",
    )
    again.set_defaults(run=_cmd_dlq_redrive)


def _bounded(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MOST_MESSAGES:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 1 to {MOST_MESSAGES}")
    return int(text)
