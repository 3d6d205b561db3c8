"""Writes of a capture's ``CAPTURE#`` item, which holds the capture's own history (and, when
small, its lines: ``layout``), so that a change of the capture writes this one item and its
history entry costs no item of its own (issue 15; docs/ledger.md "Folded items").

Every write of an existing capture is therefore an Update, never a Put: a Put would drop the
history and the lines written before it. ``capture_update`` sets every field of the model (so
it replaces the capture as a Put did), sets or removes the ``OpenCaptures`` index key, and
appends the change to ``history`` in the same write, under the write's own condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from order_capture import history
from order_capture.adapters.dynamodb import codec, layout
from order_capture.adapters.dynamodb.codec import (
    ANNOUNCED,
    ANNOUNCED_BY,
    HISTORY_ATTRIBUTE,
    NOT_ANNOUNCED,
    OPEN_CAPTURE_STATUSES,
    OPEN_STATUS,
    UNANNOUNCED,
    string,
)
from order_capture.adapters.dynamodb.table import update_op
from order_capture.history import Actor, HistoryEntry
from order_capture.models import Capture

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

    from order_capture.adapters.dynamodb.codec import Values

#: The ``CAPTURE#`` attribute holding the capture's own changes, oldest first.
HISTORY = HISTORY_ATTRIBUTE
#: ``SET`` clause appending ``:entry`` to the history (``:no_history`` for the first entry).
APPEND_HISTORY = "#history = list_append(if_not_exists(#history, :no_history), :entry)"


def history_values(
    entry: HistoryEntry, reserved_by: str | None = None
) -> dict[str, AttributeValueTypeDef]:
    """The values of ``APPEND_HISTORY`` for ``entry``: absent fields left out, and its capture
    id (the item's own), so that the item stays small. ``reserved_by``: the execution that
    reserved the capture (its ``execution_id``, which no write changes once it is reserved);
    an entry of that execution's leaves out ``by`` (an execution ARN is about 100 bytes; with
    it twice, a 2-line capture's item outgrew 1 KB, and its confirm cost 4 WRU instead of 2)."""
    body = {
        name: held
        for name, held in codec.storable(entry).items()
        if held is not None and name != "capture_id"
    }
    body["by"] = {name: held for name, held in body["by"].items() if held is not None}
    if reserved_by is not None and entry.by == Actor(kind="execution", name=reserved_by):
        del body["by"]
    return {":entry": codec.value([body]), ":no_history": {"L": []}}


def folded_history(item: Mapping[str, Any]) -> list[HistoryEntry]:
    """The entries a ``CAPTURE#`` item holds (plain values), oldest first; an entry without
    ``by`` is the reserving execution's (``history_values``)."""
    capture_id = item["capture_id"]
    reserved_by = {"kind": "execution", "name": item.get("execution_id")}
    return [
        HistoryEntry.model_validate({"by": reserved_by, **entry, "capture_id": capture_id})
        for entry in item.get(HISTORY, [])
    ]


def capture_update(
    table_name: str,
    capture: Capture,
    entry: HistoryEntry,
    condition: str | None = None,
    *,
    names: Mapping[str, str] | None = None,
    values: Values | None = None,
    lines: Mapping[str, AttributeValueTypeDef] | None = None,
    return_old: bool = False,
    reserving: bool = False,
    announced: bool = False,
) -> TransactWriteItemTypeDef:
    """The Update writing every field of ``capture`` and appending ``entry`` to its history,
    if ``condition`` holds. ``lines``: the line attributes a reservation writes (folded lines,
    or the count of lines kept apart: ``layout.capture_line_attributes``); the other line
    attributes are then removed. Without ``lines`` the item's lines stay as they are.
    ``reserving``: the reservation itself, which sets the capture's execution for good and
    starts its announced note (``NOT_ANNOUNCED``). ``announced``: note ``capture``'s status as
    announced (its settler announces it); otherwise the note stays as it is."""
    fields: dict[str, AttributeValueTypeDef] = dict(codec.encode({}, capture))
    if announced:
        fields[ANNOUNCED] = string(capture.status.value)
        fields[ANNOUNCED_BY] = string(history.announcer_for(capture.execution_id))
    elif reserving:
        fields[ANNOUNCED] = string(NOT_ANNOUNCED)
    if capture.status in OPEN_CAPTURE_STATUSES:
        # The key of the sparse OpenCaptures index: only unsettled captures carry it.
        fields[OPEN_STATUS] = string(layout.sharded(capture.status.value, capture.capture_id))
    elif announced and history.kept_open_until_announced():
        # ... and settled ones whose settler nothing retries, until it has announced them.
        fields[OPEN_STATUS] = string(layout.sharded(UNANNOUNCED, capture.capture_id))
    removed = [] if OPEN_STATUS in fields else [OPEN_STATUS]
    if lines is not None:
        fields.update(lines)
        removed += [name for name in layout.CAPTURE_LINE_ATTRIBUTES if name not in lines]
    all_names = {f"#f{index}": name for index, name in enumerate([*fields, *removed])}
    all_names["#history"] = HISTORY
    sets = [f"#f{index} = :f{index}" for index in range(len(fields))]
    expression = "SET " + ", ".join([*sets, APPEND_HISTORY])
    if removed:
        first = len(fields)
        expression += " REMOVE " + ", ".join(f"#f{first + i}" for i in range(len(removed)))
    all_values = {f":f{index}": held for index, held in enumerate(fields.values())}
    return update_op(
        table_name,
        codec.capture_key(capture.merchant_id, capture.order_id, capture.capture_id),
        expression,
        condition,
        names={**all_names, **(names or {})},
        values={
            **all_values,
            **history_values(entry, capture.execution_id if reserving else None),
            **(values or {}),
        },
        return_old=return_old,
    )
