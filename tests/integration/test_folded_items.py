"""Fewer items per capture (issue 15): a small order's line counters live on its header, a
small capture's lines, its own history and its announced note on its ``CAPTURE#`` item, so that
a 2-line capture's reserve writes 3 items (header, capture, ``CAPTURE_REF``) and its confirm 2
(capture with its announced note, header). Larger orders and captures keep them apart
(``layout.FOLDED_LINES``), and items of the former layouts (everything apart, history as items;
the announced note on ``CAPTURE_REF``) still read, and are written on correctly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from order_capture.adapters.dynamodb import codec, layout
from order_capture.adapters.dynamodb.history import history_put
from order_capture.domain import capture_rules, service
from order_capture.history import capture_change
from order_capture.models import (
    CaptureRequest,
    CaptureStatus,
    ItemQuantity,
    OrderPlacedDetail,
    PlannedCapture,
)
from order_capture_local.bench.sizes import dynamodb_item_size
from tests.factories import order_placed
from tests.fake_providers import RecordingProvider
from tests.support import FixedClock


@pytest.fixture
def written(repository: Any) -> Iterator[list[list[str]]]:
    """The sort keys each TransactWriteItems request of the repository writes."""
    made: list[list[str]] = []

    def kind(key: dict[str, Any]) -> str:
        """``CAPTURE_REF`` (its own partition), else what the sort key starts with."""
        pk, sk = str(key["PK"]["S"]), str(key["SK"]["S"])
        return (sk if pk.startswith("ORDER#") else pk).split("#")[0]

    def record(params: dict[str, Any], **_: Any) -> None:
        made.append(
            [
                kind(operation.get("Item") or operation.get("Key"))
                for each in params["TransactItems"]
                for operation in each.values()
            ]
        )

    events = repository.client.meta.events
    events.register("provide-client-params.dynamodb.TransactWriteItems", record)
    try:
        yield made
    finally:
        events.unregister("provide-client-params.dynamodb.TransactWriteItems", record)


def _order(lines: int) -> OrderPlacedDetail:
    items = [
        {"item_id": f"line-{n}", "sku": f"SKU-{n}", "quantity": 2, "unit_amount": 1000}
        for n in range(lines)
    ]
    total = lines * 2000 + 495
    event = order_placed(items=items, authorized_amount=total)
    return OrderPlacedDetail.model_validate(event["detail"])


#: An execution ARN as long as AWS's (stack-named state machine, event-derived name).
EXECUTION = (
    "arn:aws:states:us-east-1:123456789012:execution:order-capture-CaptureStateMachine-"
    "AbCdEf123456:order-shipped-00001-2ad4e25e"
)


def _capture(
    repository: Any, clock: FixedClock, lines: int, shipment: str = "s-1", execution: str = "exec-1"
) -> Any:
    """Capture one unit of each of the first ``lines`` lines, then confirm it (announced)."""
    sent = _send(repository, clock, lines, shipment, execution)
    captured = sent.model_copy(update={"status": CaptureStatus.CAPTURED})
    assert repository.confirm(captured, announced=True)
    return captured


def _send(repository: Any, clock: FixedClock, lines: int, shipment: str, execution: str) -> Any:
    """Reserve a capture of one unit of each of the first ``lines`` lines and send it."""
    request = CaptureRequest(
        merchant_id="merchant-1",
        order_id="order-1001",
        shipment_id=shipment,
        items=[ItemQuantity(item_id=f"line-{n}", quantity=1) for n in range(lines)],
    )
    order = repository.get_order("merchant-1", "order-1001")
    plan = capture_rules.plan_capture(order, request, clock.now())
    return service.execute_capture(
        repository,
        RecordingProvider(),
        planned=PlannedCapture(request=request, plan=plan),
        execution_id=execution,
        now=clock.now(),
    )


def test_defect_15_a_small_capture_writes_three_items_to_reserve_and_two_to_confirm(
    repository: Any, clock: FixedClock, written: list[list[str]]
) -> None:
    # Given a 2-line order
    service.register_order(repository, _order(2), clock)
    # When a shipment of both lines is captured and confirmed by the execution announcing it
    captured = _capture(repository, clock, lines=2, execution=EXECUTION)

    # Then registration wrote the header and the catalog; the reserve its header, capture
    # and pointer; the confirm the capture (its announced note in it) and the header
    assert written == [
        ["ORDER", "LINES"],
        ["ORDER", "CAPTURE", "CAPTURE_REF"],
        ["CAPTURE", "ORDER"],
    ]
    state = repository.confirmation_state("merchant-1", "order-1001", captured.capture_id)
    assert state.announced is CaptureStatus.CAPTURED
    # And everything reads back as written: lines, counters, history
    order, stored = repository.get_order_and_capture(
        "merchant-1", "order-1001", captured.capture_id
    )
    assert stored.lines == captured.lines and len(stored.lines) == 2
    assert [line.shipped_quantity for line in order.lines] == [1, 1]
    assert order.captured_amount == captured.amount and order.reserved_amount == 0
    history = repository.capture_history("merchant-1", "order-1001", captured.capture_id)
    assert [(e.change, e.to_status, e.by.kind, e.by.name) for e in history] == [
        ("reserved", "pending", "execution", EXECUTION),
        ("confirmed", "captured", "execution", EXECUTION),
    ]
    # And the capture item, its lines and both entries in it, stays within one write unit
    # (1 KB: 2 WRU per transactional write), whose confirm it costs
    item = repository.client.get_item(
        TableName=repository.table_name,
        Key=codec.capture_key("merchant-1", "order-1001", captured.capture_id),
    )["Item"]
    plain = {name: TypeDeserializer().deserialize(held) for name, held in item.items()}
    assert dynamodb_item_size(plain) <= 1024


def test_a_capture_of_more_lines_than_fold_keeps_its_lines_and_counters_apart(
    repository: Any, clock: FixedClock, written: list[list[str]]
) -> None:
    lines = layout.FOLDED_LINES + 1
    service.register_order(repository, _order(lines), clock)
    captured = _capture(repository, clock, lines=lines)

    assert written[0] == ["ORDER", "LINES", "LINE_COUNTERS"]
    assert written[1] == ["ORDER", "CAPTURE", "CAPTURE_REF", "LINE_COUNTERS", "CAPTURE_LINES"]
    order, stored = repository.get_order_and_capture(
        "merchant-1", "order-1001", captured.capture_id
    )
    assert stored.lines == captured.lines and len(stored.lines) == lines
    assert all(line.shipped_quantity == 1 for line in order.lines)


def test_items_of_the_former_layout_still_read_and_take_new_writes(
    repository: Any, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an order and a capture written as before the fold: counters and lines apart,
    # the capture's history as items of their own
    monkeypatch.setattr(layout, "FOLDED_LINES", 0)
    service.register_order(repository, _order(2), clock)
    first = _capture(repository, clock, lines=1)
    entry = capture_change(first, "sent", CaptureStatus.PENDING)
    put = history_put(repository.table_name, "merchant-1", "order-1001", entry)["Put"]
    repository.client.put_item(**put)
    monkeypatch.undo()

    # When the order takes a capture in today's layout (its header now holds the counters;
    # the former LINE_COUNTERS item stays behind, stale)
    second = _capture(repository, clock, lines=2, shipment="s-2")

    # Then the order reads with both captures' units, whichever item holds them
    order, old = repository.get_order_and_capture("merchant-1", "order-1001", first.capture_id)
    _, new = repository.get_order_and_capture("merchant-1", "order-1001", second.capture_id)
    assert [line.shipped_quantity for line in order.lines] == [2, 1]
    assert order.captured_amount == first.amount + second.amount
    assert old.lines == first.lines and new.lines == second.lines
    # And the former capture's history merges its items and its item's own entries, in order
    history = repository.capture_history("merchant-1", "order-1001", first.capture_id)
    assert [e.change for e in history] == ["reserved", "sent", "confirmed"]


def _former_note(repository: Any, capture_id: str, note: str | None) -> None:
    """Rewrite the capture's announced note as before it moved to ``CAPTURE#``: none on the
    capture item, ``note`` (if any) on its ``CAPTURE_REF``."""
    client, table = repository.client, repository.table_name
    client.update_item(
        TableName=table,
        Key=codec.capture_key("merchant-1", "order-1001", capture_id),
        UpdateExpression="REMOVE announced",
    )
    pointer = codec.capture_ref_key("merchant-1", capture_id)
    if note is None:
        client.update_item(TableName=table, Key=pointer, UpdateExpression="REMOVE announced")
    else:
        client.update_item(
            TableName=table,
            Key=pointer,
            UpdateExpression="SET announced = :note",
            ExpressionAttributeValues={":note": {"S": note}},
        )


def test_an_announced_note_of_the_former_layout_on_capture_ref_still_holds(
    repository: Any, clock: FixedClock
) -> None:
    # Given a capture confirmed and announced before the note moved to its capture item
    service.register_order(repository, _order(2), clock)
    captured = _capture(repository, clock, lines=2)
    _former_note(repository, captured.capture_id, "captured")
    ids = ("merchant-1", "order-1001", captured.capture_id)

    # Then its note reads from CAPTURE_REF, and is claimed and withdrawn there
    assert repository.confirmation_state(*ids).announced is CaptureStatus.CAPTURED
    assert not repository.claim_announcement(*ids, CaptureStatus.CAPTURED)
    assert repository.withdraw_announcement(*ids, CaptureStatus.CAPTURED)
    assert repository.confirmation_state(*ids).announced is None
    assert repository.claim_announcement(*ids, CaptureStatus.CAPTURED)
    assert not repository.claim_announcement(*ids, CaptureStatus.CAPTURED)

    # When a settling write notes a later outcome (a reversal), on the capture item
    failed = captured.model_copy(update={"status": CaptureStatus.FAILED})
    assert repository.settle_failure(None, None, failed, CaptureStatus.CAPTURED, announced=True)

    # Then the capture item's note wins over the stale one on CAPTURE_REF, withdrawn or not
    assert repository.confirmation_state(*ids).announced is CaptureStatus.FAILED
    assert not repository.claim_announcement(*ids, CaptureStatus.CAPTURED)
    assert repository.withdraw_announcement(*ids, CaptureStatus.FAILED)
    assert repository.confirmation_state(*ids).announced is None
    assert not repository.withdraw_announcement(*ids, CaptureStatus.CAPTURED)


def test_a_capture_reserved_before_the_note_moved_is_noted_by_its_settling_write(
    repository: Any, clock: FixedClock
) -> None:
    # Given a pending capture reserved before the note moved (none on either item)
    service.register_order(repository, _order(2), clock)
    sent = _send(repository, clock, lines=1, shipment="s-1", execution="exec-1")
    _former_note(repository, sent.capture_id, None)
    ids = ("merchant-1", "order-1001", sent.capture_id)
    assert repository.confirmation_state(*ids).announced is None

    # When its confirmer confirms it, announcing
    assert repository.confirm(
        sent.model_copy(update={"status": CaptureStatus.CAPTURED}), announced=True
    )

    # Then the note is on the capture item, and nobody claims it on CAPTURE_REF after
    assert repository.confirmation_state(*ids).announced is CaptureStatus.CAPTURED
    assert not repository.claim_announcement(*ids, CaptureStatus.CAPTURED)
    pointer = repository.client.get_item(
        TableName=repository.table_name, Key=codec.capture_ref_key("merchant-1", sent.capture_id)
    )["Item"]
    assert "announced" not in pointer


def test_a_refused_claim_in_todays_layout_is_one_conditional_update(
    repository: Any, clock: FixedClock
) -> None:
    # Given a capture confirmed and announced by its confirmer (the note on its item)
    service.register_order(repository, _order(2), clock)
    captured = _capture(repository, clock, lines=2)
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    events = repository.client.meta.events
    events.register("before-call.dynamodb", record)
    try:
        # When another caller tries to claim it
        claimed = repository.claim_announcement(
            "merchant-1", "order-1001", captured.capture_id, CaptureStatus.CAPTURED
        )
    finally:
        events.unregister("before-call.dynamodb", record)

    # Then it is refused by one UpdateItem, which the settlers' roles allow: no transaction
    # (its ConditionCheck would need dynamodb:ConditionCheckItem, which they lack)
    assert not claimed
    assert calls == ["UpdateItem"]
