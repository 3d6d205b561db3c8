"""Malformed events of every kind end in a named validation failure or succeed; never a crash,
never a half-written ledger (hypothesis generates the events)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from order_capture.errors import InvalidEventError, OrderCaptureError
from order_capture.handlers import order_events, record, validate
from tests.factories import items_canceled, order_placed, order_shipped
from tests.support import FakeLambdaContext, FixedClock

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event of one of the three kinds with some fields replaced, dropped or added."""
    event = draw(
        st.sampled_from(
            [
                order_placed(),
                order_shipped("s1", [{"item_id": "line-1", "quantity": 1}]),
                items_canceled([{"item_id": "line-2", "quantity": 1}]),
            ]
        )
    )
    detail = json.loads(json.dumps(event["detail"]))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        target = detail
        items = detail.get("items")
        if draw(st.booleans()) and isinstance(items, list) and items and isinstance(items[0], dict):
            target = items[0]
        key = draw(st.sampled_from([*target.keys(), "unexpected"]))
        action = draw(st.sampled_from(["replace", "drop"]))
        if action == "drop":
            target.pop(key, None)
        else:
            target[key] = draw(json_values)
    mutated: dict[str, Any] = event | {"detail": detail}
    return mutated


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(event=mutated_events())
def test_malformed_events_fail_by_name_and_write_nothing(
    event: dict[str, Any], repository: Any, clock: FixedClock
) -> None:
    context = FakeLambdaContext()
    before = _ledger(repository)
    try:
        if event["detail-type"] == "Order Shipped":
            validate.handle(event, context, repository=repository)
        else:
            order_events.handle(event, context, repository=repository, clock=clock)
    except InvalidEventError as error:
        assert error.field, "the error names the field"
        assert _ledger(repository) == before, "an invalid event wrote to the ledger"
    except OrderCaptureError as error:
        # A valid event about an unknown order, or a conflicting registration: named too.
        assert error.reason in {"order_not_found", "order_conflict", "invalid_state"}, error
    # Whatever happened, recording it as a failure works and names the reason.
    failure = record.handle_failure(
        {
            "state": event | {"error": {"Error": "InvalidEventError", "Cause": "{}"}},
            "execution_id": "arn:aws:states:us-east-1:123456789012:execution:m:fuzz",
        },
        context,
        repository=repository,
        clock=clock,
    )["payment_capture_failed"]
    assert failure["reason"] == "invalid_event"


def _ledger(repository: Any) -> list[Any]:
    response = repository.client.scan(TableName=repository.table_name)
    return sorted(json.dumps(item, sort_keys=True) for item in response["Items"])
