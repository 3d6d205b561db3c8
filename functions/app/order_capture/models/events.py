"""The event contract: the detail of EventBridge events with source ``orders`` (Order Placed,
Order Shipped, Order Items Canceled) and their envelope, as shops send them."""

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from order_capture.models.base import (
    MAX_ID_LENGTH,
    MAX_ORDER_LINES,
    CurrencyCode,
    ExpiryTime,
    Identifier,
    MinorUnits,
    Model,
    ProviderName,
    Quantity,
    check_exact,
)


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


#: A product's name as a customer reads it, bounded like a sku. Adyen's Checkout API sets no
#: length on ``lineItems[].description``; the other providers are sent no name.
ProductName = Sku
#: What the lines' item ids, skus, names and tax rates take of the order's line catalog (one
#: ledger item, under DynamoDB's 400 KB), in bytes: what 1,000 lines of the longest ids and
#: skus take, so that a name or a rate never makes a catalog larger than one that was
#: accepted before orders carried them.
MAX_LINE_TEXT_BYTES = MAX_ORDER_LINES * 2 * MAX_ID_LENGTH
#: A name's attribute name and separator, and a tax rate's attribute with its value (at
#: most 3 bytes as a DynamoDB number), in the catalog.
NAME_OVERHEAD_BYTES = len("name") + 1
TAX_RATE_BYTES = len("tax_rate") + 1 + 3


def line_text_bytes(item: "OrderLineIn") -> int:
    """What ``item``'s id, sku, name and tax rate take of the line catalog, in bytes."""
    size = len(item.item_id.encode()) + len(item.sku.encode())
    if item.name is not None:
        size += len(item.name.encode()) + NAME_OVERHEAD_BYTES
    if item.tax_rate is not None:
        size += TAX_RATE_BYTES
    return size


#: A tax rate in basis points, hundredths of a percent (2100: 21%; 550: 5.5%), at most 100%.
BasisPoints = Annotated[int, Field(ge=0, le=10_000, strict=True)]


class OrderLineIn(Model):
    item_id: Identifier
    sku: Sku
    #: The product's name, for the providers that show one (Adyen's line description); the
    #: sku stands in where it is left out.
    name: ProductName | None = None
    quantity: Quantity
    unit_amount: MinorUnits
    discount_amount: MinorUnits = 0
    tax_amount: MinorUnits = 0
    #: The rate ``tax_amount`` was computed at, in basis points, sent as it is (Adyen's
    #: ``taxPercentage``); where left out, the rate is recovered from the amounts.
    tax_rate: BasisPoints | None = None

    @model_validator(mode="after")
    def _discount_within_line(self) -> "OrderLineIn":
        if self.discount_amount > self.quantity * self.unit_amount:
            raise ValueError("discount_amount exceeds quantity x unit_amount")
        check_exact(
            self.quantity * self.unit_amount + self.tax_amount,
            "quantity x unit_amount + tax_amount",
        )
        return self

    @field_validator("tax_rate")
    @classmethod
    def _rate_of_the_tax(cls, rate: int | None, info: ValidationInfo) -> int | None:
        """The tax must be the rate of the line's price before tax, give or take one minor
        unit a unit (a shop that rounds each unit's tax, or the discount's share of it)."""
        figures = [info.data.get(name) for name in _RATE_FIGURES]
        if rate is None or not all(isinstance(value, int) for value in figures):
            return rate  # another field is refused already
        quantity, unit_amount, discount_amount, tax_amount = (int(v or 0) for v in figures)
        net = quantity * unit_amount - discount_amount
        if abs(tax_amount * 10_000 - rate * net) > 10_000 * quantity:
            expected = (2 * rate * net + 10_000) // 20_000
            raise ValueError(
                f"{rate} basis points of the line's {net} before tax is about {expected}, not "
                f"its tax_amount {tax_amount} (more than one minor unit a unit apart)"
            )
        return rate


#: The line's fields its tax rate is checked against, in order.
_RATE_FIGURES = ("quantity", "unit_amount", "discount_amount", "tax_amount")


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

    @field_validator("items")
    @classmethod
    def _unique_items(cls, items: list["OrderLineIn"]) -> list["OrderLineIn"]:
        _check_unique_item_ids([item.item_id for item in items])
        return items

    @field_validator("items")
    @classmethod
    def _items_text_fits(cls, items: list[OrderLineIn]) -> list[OrderLineIn]:
        size = sum(line_text_bytes(item) for item in items)
        if size > MAX_LINE_TEXT_BYTES:
            raise ValueError(
                f"the lines' item ids, skus, names and tax rates take {size} bytes of the "
                f"ledger; at most {MAX_LINE_TEXT_BYTES} for one order (shorten the names)"
            )
        return items

    @field_validator("items")
    @classmethod
    def _items_total_exact(cls, items: list[OrderLineIn]) -> list[OrderLineIn]:
        check_exact(sum(_line_total(item) for item in items), "the items' total")
        return items

    @field_validator("shipping_amount")
    @classmethod
    def _order_total_exact(cls, shipping_amount: int, info: ValidationInfo) -> int:
        items = info.data.get("items")
        if items is not None:
            total = sum(_line_total(item) for item in items) + shipping_amount
            check_exact(total, "the order's total with shipping")
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

    @field_validator("items")
    @classmethod
    def _unique_items(cls, items: list[ItemQuantity] | None) -> list[ItemQuantity] | None:
        _check_unique_item_ids([item.item_id for item in items or []])
        return items


class OrderItemsCanceledDetail(Model):
    merchant_id: Identifier
    order_id: Identifier
    items: Annotated[list[ItemQuantity], Field(min_length=1, max_length=MAX_ORDER_LINES)]

    @field_validator("items")
    @classmethod
    def _unique_items(cls, items: list[ItemQuantity]) -> list[ItemQuantity]:
        _check_unique_item_ids([item.item_id for item in items])
        return items


def _check_unique_item_ids(item_ids: list[str]) -> None:
    """Called by ``items``' field validators, so that the error names ``items``."""
    seen: set[str] = set()
    for position, item_id in enumerate(item_ids):
        if item_id in seen:
            raise ValueError(f"items[{position}].item_id {item_id!r} appears more than once")
        seen.add(item_id)
