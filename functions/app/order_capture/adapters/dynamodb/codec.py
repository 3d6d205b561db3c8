"""The ledger's item codec: its keys, its one timestamp format, models to items and back.

The key table (every item's ``PK``/``SK`` and the sparse indexes' keys) is docs/ledger.md;
the builders below are the only code that spells those keys. Pure: attribute values are
converted by ``attribute_values`` (not boto3's, which imports all of boto3).

**One timestamp format** for every attribute and index sort key this package writes:
``YYYY-MM-DDTHH:MM:SS.ffffffZ``, UTC, always six fractional digits, so that the lexicographic
order DynamoDB compares sort keys in is the order of the instants (pydantic writes
``...:00Z`` for a whole second and ``...:00.500000Z`` otherwise, and ``Z`` sorts after
``.``). Items written before it (pydantic's form, ``isoformat()``'s ``+00:00``) still
decode: ``datetime.fromisoformat`` and pydantic read all of them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from order_capture.adapters.dynamodb import attribute_values
from order_capture.models import CaptureStatus, Model

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    AttributeValue = AttributeValueTypeDef
    #: An item (or key) as DynamoDB's low-level API writes and returns it.
    Item = dict[str, AttributeValueTypeDef]
    #: A condition's or update's ``ExpressionAttributeValues``.
    Values = Mapping[str, AttributeValueTypeDef]

ORDER_PREFIX = "ORDER#"
ORDER_SK = "ORDER"
LINES_SK = "LINES"
COUNTERS_SK = "LINE_COUNTERS"
CAPTURE_PREFIX = "CAPTURE#"
CAPTURE_LINES_PREFIX = "CAPTURE_LINES#"
REFUND_PREFIX = "REFUND#"
HISTORY_PREFIX = "HISTORY#"
CAPTURE_REF_PREFIX = "CAPTURE_REF#"
CAPTURE_REF_SK = "CAPTURE"
REFUND_REF_PREFIX = "REFUND_REF#"
REFUND_REF_SK = "REFUND"
#: A release's pointer (release id -> order), for the provider's webhook that names it.
RELEASE_REF_PREFIX = "RELEASE_REF#"
RELEASE_REF_SK = "RELEASE"
EXECUTION_PREFIX = "EXECUTION#"
FAILURE_SK = "FAILURE"
API_KEY_PREFIX = "APIKEY#"
API_KEY_SK = "APIKEY"
#: An order's authorization release (one per order), under the order's PK.
RELEASE_SK = "RELEASE"

#: Attribute of a ``CAPTURE#`` item: how many lines its ``CAPTURE_LINES#`` item holds.
LINE_COUNT = "line_count"
#: The sparse ``OpenCaptures`` index: ``OPEN_STATUS`` (sharded) and ``updated_at``.
OPEN_CAPTURES_INDEX = "OpenCaptures"
OPEN_STATUS = "open_status"
#: The sparse ``OpenOrdersByExpiry`` index: ``OPEN_ORDER`` (sharded) and
#: ``AUTHORIZATION_EXPIRES_AT``.
OPEN_ORDERS_INDEX = "OpenOrdersByExpiry"
OPEN_ORDER = "open_order"
AUTHORIZATION_EXPIRES_AT = "authorization_expires_at"
#: ``OPEN_ORDER`` of an order with money still to capture (before its shard).
OPEN = "open"
#: ``OPEN_STATUS`` of a pending refund: the same sparse index, its own partition.
OPEN_REFUND = "refund_pending"
#: ``OPEN_STATUS`` of a pending authorization release, likewise.
OPEN_RELEASE = "release_pending"
OPEN_CAPTURE_STATUSES = frozenset({CaptureStatus.PENDING, CaptureStatus.REQUIRES_ACTION})
#: ``OPEN_STATUS`` of a capture settled by a settler nothing retries, until its announcement
#: is sent (``history.kept_open_until_announced``).
UNANNOUNCED = "unannounced"
#: Attributes of the ledger's own, never a model's field.
#: Attributes folded into an item beside its model's fields (see ``layout``): an order's line
#: counters on its header, a capture's lines and history on its ``CAPTURE#`` item.
FOLDED_ATTRIBUTES = ("shipped", "canceled", "closed", "positions", "quantities", "amounts")
HISTORY_ATTRIBUTE = "history"
#: Attribute of a ``CAPTURE#`` item: the capture status being (or last) announced, written
#: by whoever settles it in its settling write; ``NOT_ANNOUNCED`` from its reservation on. A
#: capture item without it was reserved before the note moved there: its note is on its
#: ``CAPTURE_REF`` item (docs/ledger.md "The announced note").
ANNOUNCED = "announced"
NOT_ANNOUNCED = "none"
#: Beside ``ANNOUNCED``: who holds the note (``history.announcer_for``), written with it.
ANNOUNCED_BY = "announced_by"
_LEDGER_ATTRIBUTES = (
    "PK",
    "SK",
    OPEN_STATUS,
    OPEN_ORDER,
    AUTHORIZATION_EXPIRES_AT,
    LINE_COUNT,
    HISTORY_ATTRIBUTE,
    ANNOUNCED,
    ANNOUNCED_BY,
    *FOLDED_ATTRIBUTES,
)


# --- timestamps ------------------------------------------------------------------------------


def timestamp(moment: datetime) -> str:
    """``moment`` in the ledger's one format: UTC, six fractional digits, ``Z``."""
    if moment.tzinfo is None:
        raise ValueError(f"the ledger stores aware datetimes only, not {moment!r}")
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    return naive.isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text: str) -> datetime:
    """A stored timestamp, in this format or any earlier one (``Z`` or ``+00:00``, with or
    without fractional digits)."""
    return datetime.fromisoformat(text).astimezone(UTC)


def storable(model: Model, exclude: set[str] | None = None) -> dict[str, Any]:
    """``model`` as plain JSON values, with every datetime in the ledger's format."""
    as_json = model.model_dump(mode="json", exclude=exclude)
    return cast(dict[str, Any], _with_timestamps(model.model_dump(exclude=exclude), as_json))


def _with_timestamps(python: Any, as_json: Any) -> Any:
    """``as_json``, with the ledger's format wherever ``python`` (the same dump in Python
    mode, of the same shape) holds a datetime."""
    if isinstance(python, datetime):
        return timestamp(python)
    if isinstance(python, dict) and isinstance(as_json, dict):
        return {key: _with_timestamps(python.get(key), value) for key, value in as_json.items()}
    if isinstance(python, list | tuple) and isinstance(as_json, list):
        return [_with_timestamps(p, j) for p, j in zip(python, as_json, strict=True)]
    return as_json


# --- keys --------------------------------------------------------------------------------------


def key(pk: str, sk: str) -> Item:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def key_of(item: Item) -> Item:
    """The key of ``item`` (an index query returns more attributes than the table key)."""
    return {"PK": item["PK"], "SK": item["SK"]}


def key_text(item: Item) -> tuple[str, str]:
    return item["PK"]["S"], item["SK"]["S"]


def order_pk(merchant_id: str, order_id: str) -> str:
    return f"{ORDER_PREFIX}{merchant_id}#{order_id}"


def order_key(merchant_id: str, order_id: str) -> Item:
    return key(order_pk(merchant_id, order_id), ORDER_SK)


def order_keys(merchant_id: str, order_id: str) -> list[Item]:
    """The three items of an order (see layout)."""
    return order_keys_of(order_pk(merchant_id, order_id))


def order_keys_of(pk: str) -> list[Item]:
    return [key(pk, sk) for sk in (ORDER_SK, LINES_SK, COUNTERS_SK)]


def capture_key(merchant_id: str, order_id: str, capture_id: str) -> Item:
    return key(order_pk(merchant_id, order_id), CAPTURE_PREFIX + capture_id)


def capture_lines_key(merchant_id: str, order_id: str, capture_id: str) -> Item:
    return key(order_pk(merchant_id, order_id), CAPTURE_LINES_PREFIX + capture_id)


def capture_ref_key(merchant_id: str, capture_id: str) -> Item:
    return key(f"{CAPTURE_REF_PREFIX}{merchant_id}#{capture_id}", CAPTURE_REF_SK)


def refund_sk(capture_id: str, refund_id: str | None = None) -> str:
    """The refund's sort key; without ``refund_id``, the prefix of every refund of the
    capture."""
    return f"{REFUND_PREFIX}{capture_id}#{refund_id or ''}"


def refund_key(merchant_id: str, order_id: str, capture_id: str, refund_id: str) -> Item:
    return key(order_pk(merchant_id, order_id), refund_sk(capture_id, refund_id))


def history_key(merchant_id: str, order_id: str, capture_id: str, entry: str = "") -> Item:
    """A history entry of the capture (``entry``: its when, rank, refund and change, see
    ``history.history_sk``); without ``entry``, the prefix of every entry of the capture."""
    return key(order_pk(merchant_id, order_id), f"{HISTORY_PREFIX}{capture_id}#{entry}")


def release_key(merchant_id: str, order_id: str) -> Item:
    return key(order_pk(merchant_id, order_id), RELEASE_SK)


def release_ref_key(merchant_id: str, release_id: str) -> Item:
    return key(f"{RELEASE_REF_PREFIX}{merchant_id}#{release_id}", RELEASE_REF_SK)


def refund_ref_key(merchant_id: str, refund_id: str) -> Item:
    return key(f"{REFUND_REF_PREFIX}{merchant_id}#{refund_id}", REFUND_REF_SK)


def execution_failure_key(execution_id: str) -> Item:
    return key(EXECUTION_PREFIX + execution_id, FAILURE_SK)


def api_key_key(key_digest: str) -> Item:
    return key(API_KEY_PREFIX + key_digest, API_KEY_SK)


# --- values and items ----------------------------------------------------------------------------


def value(plain: Any) -> AttributeValueTypeDef:
    """A plain value (JSON-like, datetimes in the ledger's format) as an attribute value."""
    if isinstance(plain, datetime):
        plain = timestamp(plain)
    return attribute_values.serialize(plain)


def string(text: str) -> AttributeValueTypeDef:
    return {"S": text}


def number(amount: int) -> AttributeValueTypeDef:
    return {"N": str(amount)}


def encode(primary: Item, body: Model | dict[str, Any]) -> Item:
    """The item under key ``primary`` holding ``body`` (a model or plain values)."""
    plain = storable(body) if isinstance(body, Model) else body
    return {**primary, **{name: value(attribute) for name, attribute in plain.items()}}


def plain(item: Item) -> dict[str, Any]:
    """Every attribute of ``item`` as plain values (keys and index attributes included)."""
    return {name: attribute_values.deserialize(attribute) for name, attribute in item.items()}


def decode(item: Item) -> dict[str, Any]:
    """The model fields ``item`` holds: ``plain`` without the ledger's own attributes."""
    fields = plain(item)
    for attribute in _LEDGER_ATTRIBUTES:
        fields.pop(attribute, None)
    return fields
