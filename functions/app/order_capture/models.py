"""Pydantic models for every boundary: events, ledger state, step inputs and outputs.

Amounts are ``int`` minor units of the order's currency everywhere in this module.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from order_capture.errors import UnsupportedCurrencyError
from order_capture.money import currency_exponent

#: The limits of what the service accepts (README "Limits"): every order within them captures.
MAX_ORDER_LINES = 1000
MAX_ID_LENGTH = 128

# Identifiers end up inside DynamoDB keys joined with '#', so '#' and whitespace are refused.
Identifier = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"
    ),
]
# Bounded so that sums of amounts and quantities stay far inside DynamoDB's 38-digit numbers
# and every provider's limits; 10^15 minor units is more than any single order carries.
MinorUnits = Annotated[int, Field(ge=0, le=10**15, strict=True)]
#: The largest line or order total: every amount up to it is read exactly by a JavaScript
#: client (JSON numbers are doubles) in every dialect: as an integer of minor units (below
#: 2^53) and as Omnitron's decimal (at most 15 significant digits, which a double keeps).
#: DynamoDB's 38 digits hold it with room to spare.
MAX_EXACT_MINOR_UNITS = 10**15
Quantity = Annotated[int, Field(ge=1, le=1_000_000, strict=True)]
Count = Annotated[int, Field(ge=0, le=1_000_000, strict=True)]


def _check_currency(code: str) -> str:
    try:
        currency_exponent(code)
    except UnsupportedCurrencyError as error:
        # A ValueError, so pydantic reports it against the field like any other problem.
        raise ValueError(error.message) from None
    return code


#: The earliest instant an authorization may expire at: the Unix epoch (anything earlier is a
#: mistake, often a number of seconds read as a date).
EARLIEST_EXPIRY = datetime(1970, 1, 1, tzinfo=UTC)
_ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_text_only(value: Any) -> Any:
    """Only an ISO 8601 date-time string (or a datetime): pydantic would read a number, or a
    string of digits, as seconds since the epoch, which no sender means by an expiry."""
    if isinstance(value, str) and not _ISO_DATE_TIME.match(value):
        raise ValueError(
            "must be an ISO 8601 date-time with an offset, such as 2026-12-31T23:59:59Z"
        )
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 date-time string with an offset, not a number")
    return value


def _representable_in_utc(value: datetime) -> datetime:
    """The instant must exist in UTC (9999-12-31T23:59:59-23:59 does not: it is in year 10000),
    since the ledger keeps and compares it in UTC."""
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the years 1970 to 9999 in UTC") from None
    if in_utc < EARLIEST_EXPIRY:
        raise ValueError("is outside the years 1970 to 9999 in UTC")
    return value


ExpiryTime = Annotated[
    AwareDatetime, BeforeValidator(_iso_text_only), AfterValidator(_representable_in_utc)
]


def _check_exact(total: int, what: str) -> None:
    if total > MAX_EXACT_MINOR_UNITS:
        raise ValueError(
            f"{what} {total} is more than {MAX_EXACT_MINOR_UNITS} (10^15), the largest amount "
            "every client reads exactly (JSON numbers are doubles)"
        )


CurrencyCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_check_currency)
]
ProviderName = Literal["sandbox", "aplazame", "stripe", "adyen"]

# Storage and step payloads are read back from JSON, where strict ints come back as ints;
# DynamoDB hands numbers back as Decimal, which the adapter converts before validation.


class Model(BaseModel):
    # defer_build: a model's validator is built when it is first used, not when this module is
    # imported, so each Lambda builds only the models it handles (cold start, BENCHMARKS.md).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# --- Event contract (detail of EventBridge events with source `orders`) ----------------------


def _check_utf8_length(text: str) -> str:
    size = len(text.encode())
    if size > MAX_ID_LENGTH:
        raise ValueError(f"at most {MAX_ID_LENGTH} bytes in UTF-8, got {size}")
    return text


# Free text, bounded in bytes: 1,000 lines of the longest ids and skus fit one ledger item.
Sku = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_LENGTH),
    AfterValidator(_check_utf8_length),
]


class OrderLineIn(Model):
    item_id: Identifier
    sku: Sku
    quantity: Quantity
    unit_amount: MinorUnits
    discount_amount: MinorUnits = 0
    tax_amount: MinorUnits = 0

    @model_validator(mode="after")
    def _discount_within_line(self) -> OrderLineIn:
        if self.discount_amount > self.quantity * self.unit_amount:
            raise ValueError("discount_amount exceeds quantity x unit_amount")
        _check_exact(
            self.quantity * self.unit_amount + self.tax_amount,
            "quantity x unit_amount + tax_amount",
        )
        return self


#: Bound on a shop's metadata (JSON text), which is stored with the order and echoed.
MAX_METADATA_CHARACTERS = 2048


def _small_metadata(value: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(value, separators=(",", ":")))
    if size > MAX_METADATA_CHARACTERS:
        raise ValueError(f"{size} characters of JSON; at most {MAX_METADATA_CHARACTERS}")
    return value


Metadata = Annotated[dict[str, Any], AfterValidator(_small_metadata)]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]


class ShopReferences(Model):
    """What the shop knows of an order and order-capture only stores and echoes (Medusa's
    Order carries them): never used to decide a capture."""

    customer_id: Identifier | None = None
    email: Email | None = None
    display_id: Annotated[int, Field(ge=0, le=2**31 - 1, strict=True)] | None = None
    region_id: Identifier | None = None


class PaymentIn(Model):
    provider: ProviderName
    reference: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    authorized_amount: Annotated[int, Field(ge=1, le=10**15, strict=True)]
    expires_at: ExpiryTime
    #: The authorization takes one capture only (Aplazame's "pay in 15 days"): a shipment
    #: that would capture less than everything that remains is refused before anything is sent.
    single_capture: Annotated[bool, Field(strict=True)] = False


class OrderPlacedDetail(ShopReferences):
    merchant_id: Identifier
    order_id: Identifier
    currency: CurrencyCode
    items: Annotated[list[OrderLineIn], Field(min_length=1, max_length=MAX_ORDER_LINES)]
    shipping_amount: MinorUnits = 0
    payment: PaymentIn
    metadata: Metadata | None = None

    @model_validator(mode="after")
    def _unique_items(self) -> OrderPlacedDetail:
        _check_unique_item_ids([item.item_id for item in self.items])
        return self

    @field_validator("items")
    @classmethod
    def _items_total_exact(cls, items: list[OrderLineIn]) -> list[OrderLineIn]:
        _check_exact(sum(_line_total(item) for item in items), "the items' total")
        return items

    @field_validator("shipping_amount")
    @classmethod
    def _order_total_exact(cls, shipping_amount: int, info: ValidationInfo) -> int:
        items = info.data.get("items")
        if items is not None:
            total = sum(_line_total(item) for item in items) + shipping_amount
            _check_exact(total, "the order's total with shipping")
        return shipping_amount


def _line_total(line: OrderLineIn) -> int:
    return line.quantity * line.unit_amount - line.discount_amount + line.tax_amount


class ItemQuantity(Model):
    item_id: Identifier
    quantity: Quantity


class EventBridgeEnvelope(BaseModel):
    """An EventBridge event's envelope: the fields of Powertools' ``EventBridgeModel``, which
    the handlers used before; this copy saves importing Powertools' parser models (every
    event source's, ~0.1 s of each cold start). Unknown envelope fields are ignored, as
    EventBridge may add some; subclasses type ``detail``."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, defer_build=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    replay_name: str | None = Field(default=None, alias="replay-name")


class OrderShippedDetail(Model):
    merchant_id: Identifier
    order_id: Identifier
    shipment_id: Identifier
    items: Annotated[list[ItemQuantity], Field(max_length=MAX_ORDER_LINES)] | None = None

    @model_validator(mode="after")
    def _unique_items(self) -> OrderShippedDetail:
        _check_unique_item_ids([item.item_id for item in self.items or []])
        return self


class OrderItemsCanceledDetail(Model):
    merchant_id: Identifier
    order_id: Identifier
    items: Annotated[list[ItemQuantity], Field(min_length=1, max_length=MAX_ORDER_LINES)]

    @model_validator(mode="after")
    def _unique_items(self) -> OrderItemsCanceledDetail:
        _check_unique_item_ids([item.item_id for item in self.items])
        return self


def _check_unique_item_ids(item_ids: list[str]) -> None:
    seen: set[str] = set()
    for item_id in item_ids:
        if item_id in seen:
            raise ValueError(f"item_id {item_id!r} appears more than once")
        seen.add(item_id)


# --- Ledger state ------------------------------------------------------------------------------


class OrderLine(Model):
    item_id: str
    sku: str
    quantity: int
    unit_amount: int
    discount_amount: int = 0
    tax_amount: int = 0
    #: Units reserved or captured by shipments.
    shipped_quantity: int = 0
    canceled_quantity: int = 0
    #: Value claimed by the shipped and canceled units so far (see domain.capture_rules).
    closed_value: int = 0

    @property
    def line_total(self) -> int:
        return self.quantity * self.unit_amount - self.discount_amount + self.tax_amount

    @property
    def open_quantity(self) -> int:
        return self.quantity - self.shipped_quantity - self.canceled_quantity


class Authorization(Model):
    provider: ProviderName
    reference: str
    authorized_amount: int
    expires_at: datetime
    single_capture: bool = False


class Order(ShopReferences):
    merchant_id: str
    order_id: str
    currency: str
    lines: list[OrderLine]
    shipping_amount: int
    payment: Authorization
    captured_amount: int = 0
    reserved_amount: int = 0
    canceled_amount: int = 0
    refunded_amount: int = 0
    shipping_claimed: bool = False
    shipping_canceled: bool = False
    #: What the provider's steps (see provider_units) added to, or took from, the value of the
    #: units and shipping claimed so far: their claims moved that value plus this much money.
    step_rounding: int = 0
    capture_count: int = 0
    #: Bumped by every write that changes what is capturable; guards conditional writes.
    version: int = 0
    created_at: datetime
    updated_at: datetime
    #: The shop's metadata as JSON text: stored as given (DynamoDB refuses binary floats).
    metadata_json: str | None = None

    @property
    def metadata(self) -> dict[str, Any] | None:
        return None if self.metadata_json is None else dict(json.loads(self.metadata_json))

    @property
    def total(self) -> int:
        return sum(line.line_total for line in self.lines) + self.shipping_amount

    @property
    def capturable_amount(self) -> int:
        """What may still be captured: total less canceled, captured and reserved."""
        return self.total - self.canceled_amount - self.captured_amount - self.reserved_amount

    def line(self, item_id: str) -> OrderLine | None:
        return next((line for line in self.lines if line.item_id == item_id), None)


class CaptureStatus(StrEnum):
    PENDING = "pending"
    CAPTURED = "captured"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"


#: Nothing more will happen to these: captured, or failed and released.
SETTLED_CAPTURE_STATUSES = frozenset({CaptureStatus.CAPTURED, CaptureStatus.FAILED})
FINAL_CAPTURE_STATUSES = frozenset(
    {CaptureStatus.CAPTURED, CaptureStatus.FAILED, CaptureStatus.REQUIRES_ACTION}
)


class CaptureLine(Model):
    item_id: str
    quantity: int
    amount: int


class FailureReason(Model):
    reason: str
    message: str
    error: str


Trigger = Literal["event", "api"]


class Capture(Model):
    capture_id: str
    merchant_id: str
    order_id: str
    shipment_id: str
    amount: int
    currency: str
    status: CaptureStatus
    #: Left out of every dump (a workflow's state, events, task results): a capture of 1,000
    #: lines with long item ids would not fit Step Functions' 256 KB state. The ledger keeps
    #: them (the adapter stores them apart) and the API shows them.
    lines: Annotated[list[CaptureLine], Field(exclude=True)] = []
    shipping_amount: int = 0
    provider: str
    provider_reference: str | None = None
    trigger: Trigger
    execution_id: str | None = None
    #: Sent to the provider as its final capture (it may release the rest of the authorization).
    releases_authorization: bool = False
    failure: FailureReason | None = None
    #: What the provider answered the capture request: ``pending`` means it received it and
    #: confirms later (Adyen, by webhook); the state machine then leaves the capture pending.
    status_at_provider: Literal["succeeded", "pending"] | None = None
    #: Refunds the provider confirmed, and refunds sent but not yet confirmed (reserved, so
    #: that concurrent refunds never add up to more than the capture). See domain.refunds.
    refunded_amount: int = 0
    refund_pending_amount: int = 0
    created_at: datetime
    updated_at: datetime

    @property
    def refundable_amount(self) -> int:
        """What may still be refunded: the amount less refunds made or in flight."""
        return self.amount - self.refunded_amount - self.refund_pending_amount

    def request(self) -> CaptureRequest:
        """The request this capture answers (its id derives from the same three ids)."""
        return CaptureRequest(
            merchant_id=self.merchant_id,
            order_id=self.order_id,
            shipment_id=self.shipment_id,
            trigger=self.trigger,
        )


class RefundStatus(StrEnum):
    PENDING = "pending"
    REFUNDED = "refunded"
    FAILED = "failed"


class Refund(Model):
    """One refund of a capture. Its id is derived from the request's Idempotency-Key, and is
    the idempotency key sent to the provider: a retried request finds this refund again."""

    refund_id: str
    merchant_id: str
    order_id: str
    capture_id: str
    amount: int
    currency: str
    status: RefundStatus
    provider_reference: str | None = None
    failure: FailureReason | None = None
    created_at: datetime
    updated_at: datetime


class ReleaseStatus(StrEnum):
    #: Written before the provider is asked; open (reconciliation retries it) until settled.
    PENDING = "pending"
    RELEASED = "released"
    #: The provider refused: for an operator (its ``failure`` says why).
    FAILED = "failed"


class AuthorizationRelease(Model):
    """Giving back what an order's authorization has left once the order can capture nothing
    more: at most one per order (its id derives from the order's and is the idempotency key
    sent to the provider), stored before the provider is asked. See domain.releases."""

    release_id: str
    merchant_id: str
    order_id: str
    provider: str
    authorization_reference: str
    #: What was authorized and not captured when the order could capture nothing more.
    amount: int
    currency: str
    status: ReleaseStatus
    #: Provider calls made so far (a retry of a provider without idempotency keys knows it
    #: may be the second).
    attempts: int = 0
    #: Why the last attempt did not release it (still pending), or why it failed.
    failure: FailureReason | None = None
    created_at: datetime
    updated_at: datetime


_RELEASE_ID_NAMESPACE = uuid.UUID("0c5e2a61-7d0b-4f4e-b1f5-9f7f6c3e2d18")


def release_id_for(merchant_id: str, order_id: str) -> str:
    """The release id of an order: deterministic, so an order's remainder is released once."""
    return uuid.uuid5(_RELEASE_ID_NAMESPACE, f"{merchant_id}\x1f{order_id}").hex


def failed_before_reservation(capture: Capture) -> bool:
    """A failure recorded before anything was reserved or sent to the provider (the order was
    not registered yet, the event was invalid): the same shipment may be tried again."""
    return (
        capture.status is CaptureStatus.FAILED
        and capture.amount == 0
        and capture.provider_reference is None
    )


_CAPTURE_ID_NAMESPACE = uuid.UUID("6f1b8f7e-5f64-4c8e-9a51-3a8d2a0b7c11")


def capture_id_for(merchant_id: str, order_id: str, shipment_id: str) -> str:
    """The capture id of a shipment: deterministic, so a shipment can only ever capture once."""
    return uuid.uuid5(_CAPTURE_ID_NAMESPACE, f"{merchant_id}\x1f{order_id}\x1f{shipment_id}").hex


# --- State machine step payloads ------------------------------------------------------------


class CaptureRequest(Model):
    """What to capture, whatever triggered it (an `Order Shipped` event or the API)."""

    merchant_id: str
    order_id: str
    shipment_id: str
    #: None: everything not yet shipped or canceled.
    items: list[ItemQuantity] | None = None
    #: API captures by amount (Aplazame's `{"amount"}`) instead of items.
    amount: int | None = None
    trigger: Trigger = "event"

    @property
    def capture_id(self) -> str:
        return capture_id_for(self.merchant_id, self.order_id, self.shipment_id)


class CapturePlan(Model):
    """ComputeAmount's output: what this shipment captures and the order version it assumed."""

    capture_id: str
    amount: int
    currency: str
    #: The order's payment provider, which the Capture step calls.
    provider: str
    lines: list[CaptureLine]
    shipping_amount: int
    expected_version: int
    #: Closes every unit of the order: captures exactly what remains.
    is_final: bool
    #: Also tells the provider this is the last capture (it may release the rest).
    releases_authorization: bool = False
    nothing_to_capture: bool


class PlannedCapture(Model):
    """What the Capture step executes: the request and its plan with their lines named
    (``workflow_state.StatePlanned.named``: the state carries them by position)."""

    request: CaptureRequest
    plan: CapturePlan


class FailureRecord(Model):
    """RecordFailure's output, the detail of `Payment Capture Failed`."""

    merchant_id: str | None
    order_id: str | None
    shipment_id: str | None
    capture_id: str | None
    amount: int | None
    currency: str | None
    status: CaptureStatus | None
    reason: str
    error: str
    message: str
    execution_id: str | None

    @classmethod
    def of(
        cls, capture: Capture, failure: FailureReason, execution_id: str | None
    ) -> FailureRecord:
        """The record of ``failure`` for the capture (as stored after it)."""
        return cls(
            merchant_id=capture.merchant_id,
            order_id=capture.order_id,
            shipment_id=capture.shipment_id,
            capture_id=capture.capture_id,
            amount=capture.amount,
            currency=capture.currency,
            status=capture.status,
            reason=failure.reason,
            error=failure.error,
            message=failure.message,
            execution_id=execution_id,
        )
