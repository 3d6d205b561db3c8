"""The ledger writes one timestamp format (UTC, six fractional digits, ``Z``) for every
attribute and index sort key, so that the sparse indexes compare instants in time order; items
written in the earlier formats still decode."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from order_capture.adapters.dynamodb import codec
from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.domain import capture_rules, service
from order_capture.models import (
    Capture,
    CaptureRequest,
    CaptureStatus,
    OrderPlacedDetail,
    PlannedCapture,
    Refund,
    RefundStatus,
)
from order_capture_local.sandbox import SandboxServer
from tests.factories import order_placed
from tests.support import FixedClock

WHOLE_SECOND = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
HALF_PAST = WHOLE_SECOND + timedelta(milliseconds=500)
ONE_FORMAT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
ISO_LIKE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def register(repository: Any, clock: FixedClock, **overrides: Any) -> OrderPlacedDetail:
    """The example order (``overrides`` as factories.order_placed takes them), registered."""
    detail = OrderPlacedDetail.model_validate(order_placed(**overrides)["detail"])
    service.register_order(repository, detail, clock)
    return detail


def open_capture(shipment_id: str, updated_at: datetime) -> Capture:
    return Capture(
        capture_id=f"cap-{shipment_id}",
        merchant_id="merchant-1",
        order_id="order-1001",
        shipment_id=shipment_id,
        amount=100,
        currency="EUR",
        status=CaptureStatus.REQUIRES_ACTION,
        provider="sandbox",
        trigger="event",
        created_at=updated_at,
        updated_at=updated_at,
    )


def test_defect_16_1_open_captures_index_orders_whole_and_sub_second_instants_in_time(
    repository: Any,
) -> None:
    """``...:00Z`` (a whole second, as pydantic writes it) sorted after ``...:00.5Z``: a
    capture touched at 10:00:00 was not "touched before 10:00:00.25"."""
    for capture in (open_capture("whole", WHOLE_SECOND), open_capture("half", HALF_PAST)):
        assert repository.settle_failure(None, None, capture, None)

    def open_before(moment: datetime) -> list[str]:
        return [capture.shipment_id for capture in repository.list_open_captures(moment)]

    assert open_before(WHOLE_SECOND) == []
    assert open_before(WHOLE_SECOND + timedelta(milliseconds=250)) == ["whole"]
    assert open_before(HALF_PAST) == ["whole"]
    assert open_before(HALF_PAST + timedelta(microseconds=1)) == ["whole", "half"]


def test_the_expiry_index_orders_whole_and_sub_second_instants_in_time(
    repository: Any, clock: FixedClock
) -> None:
    register(repository, clock, order_id="whole", expires_at=WHOLE_SECOND.isoformat())
    register(repository, clock, order_id="half", expires_at=HALF_PAST.isoformat())

    def expiring_before(moment: datetime) -> list[str]:
        return [order.order_id for order in repository.list_orders_expiring_before(moment)]

    assert expiring_before(WHOLE_SECOND) == []
    assert expiring_before(WHOLE_SECOND + timedelta(milliseconds=250)) == ["whole"]
    assert expiring_before(HALF_PAST + timedelta(microseconds=1)) == ["whole", "half"]


OFFSETS = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
instants = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from(OFFSETS),
)


@given(instants, instants)
def test_the_timestamp_format_sorts_as_the_instants_and_reads_back(
    a: datetime, b: datetime
) -> None:
    first, second = codec.timestamp(a), codec.timestamp(b)
    assert ONE_FORMAT.match(first)
    assert len(first) == len(second)
    assert (first < second) == (a < b)
    assert (first == second) == (a == b)
    assert codec.parse_timestamp(first) == a


def _full_life(repository: Any, clock: FixedClock, sandbox: SandboxServer) -> None:
    """An order registered, a shipment captured and recorded, a refund reserved and confirmed,
    and an open capture: every kind of item the ledger writes with a timestamp."""
    payment = register(repository, clock).payment
    sandbox.authorize(payment.reference, payment.authorized_amount, "EUR")
    order = repository.get_order("merchant-1", "order-1001")
    request = CaptureRequest(merchant_id="merchant-1", order_id="order-1001", shipment_id="s1")
    pending = service.execute_capture(
        repository,
        SandboxProvider(sandbox.url),
        planned=PlannedCapture(
            request=request, plan=capture_rules.plan_capture(order, request, clock.now())
        ),
        execution_id="exec-1",
        now=clock.now(),
    )
    clock.current = HALF_PAST
    captured = service.record_capture(repository, pending, clock.now())
    refund = Refund(
        refund_id="refund-1",
        merchant_id="merchant-1",
        order_id="order-1001",
        capture_id=captured.capture_id,
        amount=100,
        currency=captured.currency,
        status=RefundStatus.PENDING,
        created_at=WHOLE_SECOND,
        updated_at=WHOLE_SECOND,
    )
    assert repository.reserve_refund(captured, refund) is None
    settled = refund.model_copy(update={"status": RefundStatus.REFUNDED, "updated_at": HALF_PAST})
    assert repository.confirm_refund(settled)
    assert repository.settle_failure(None, None, open_capture("open", WHOLE_SECOND), None)
    register(repository, clock, order_id="order-open")  # in the expiry index


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def test_every_timestamp_the_ledger_writes_has_the_one_format(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    _full_life(repository, clock, sandbox)
    items = repository.client.scan(TableName=repository.table_name)["Items"]
    timestamps = {
        (item["PK"]["S"], item["SK"]["S"], name): text
        for item in items
        for name, attribute in codec.plain(item).items()
        for text in _strings(attribute)
        if ISO_LIKE.match(text)
    }
    attributes = {name for _, _, name in timestamps}
    assert {"created_at", "updated_at", "authorization_expires_at", "payment"} <= attributes
    assert {key: text for key, text in timestamps.items() if not ONE_FORMAT.match(text)} == {}


def _rewrite_timestamps(item: dict[str, Any], old_format: Any) -> dict[str, Any]:
    """``item`` with every timestamp attribute (nested too) in ``old_format``."""

    def rewrite(value: Any) -> Any:
        if "S" in value and ONE_FORMAT.match(value["S"]):
            return {"S": old_format(codec.parse_timestamp(value["S"]))}
        if "M" in value:
            return {"M": {name: rewrite(inner) for name, inner in value["M"].items()}}
        if "L" in value:
            return {"L": [rewrite(inner) for inner in value["L"]]}
        return value

    return {name: rewrite(value) for name, value in item.items()}


def test_items_written_in_the_earlier_timestamp_formats_still_decode(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    _full_life(repository, clock, sandbox)
    order = repository.get_order("merchant-1", "order-1001")
    captures = repository.list_captures("merchant-1", "order-1001")
    refunds = repository.list_refunds("merchant-1", "order-1001")
    earlier_formats = [
        datetime.isoformat,  # 2026-12-01T10:00:00.500000+00:00, or without fraction
        lambda moment: moment.isoformat().replace("+00:00", "Z"),  # pydantic's
    ]
    for old_format in earlier_formats:
        for item in repository.client.scan(TableName=repository.table_name)["Items"]:
            repository.client.put_item(
                TableName=repository.table_name, Item=_rewrite_timestamps(item, old_format)
            )
        assert repository.get_order("merchant-1", "order-1001") == order
        assert repository.list_captures("merchant-1", "order-1001") == captures
        assert repository.list_refunds("merchant-1", "order-1001") == refunds
