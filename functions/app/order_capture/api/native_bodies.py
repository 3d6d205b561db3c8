"""The native dialect's bodies (Aplazame's capture object, in minor units): what the routes
in ``api.native`` accept and answer. The mapping from the ledger's models is there."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from order_capture.api.common import ApiModel, ResponseModel
from order_capture.api.history import HistoryEntryOut
from order_capture.models import Identifier, ItemQuantity, OrderPlacedDetail

# --- Bodies in ---------------------------------------------------------------------------------

#: JSON integers written as integers: ``395``, never ``395.0`` or ``3.95e2`` (refused, 400).
PositiveMinorUnits = Annotated[
    int,
    Field(
        ge=1,
        le=10**15,
        strict=True,
        description="Minor units, written as an integer (395, not 395.0: refused).",
    ),
]
ItemList = Annotated[list[ItemQuantity], Field(min_length=1, max_length=1000)]


def _unique(items: list[ItemQuantity] | None) -> list[ItemQuantity] | None:
    """``items``, each line once. A field validator of ``items``, so that the error names the
    field (``items``), not the body."""
    seen: set[str] = set()
    for position, item in enumerate(items or []):
        if item.item_id in seen:
            raise ValueError(f"items[{position}].item_id {item.item_id!r} appears more than once")
        seen.add(item.item_id)
    return items


def _one_never_null(schema: dict[str, Any]) -> None:
    schema["oneOf"] = [{"required": ["amount"]}, {"required": ["items"]}]
    for prop in schema["properties"].values():
        branches = prop.pop("anyOf", [])
        for branch in branches:
            if branch.get("type") != "null":  # the field's own description stands
                prop.update({key: value for key, value in branch.items() if key not in prop})


class CaptureIn(ApiModel):
    """Capture an amount (Aplazame's ``{"amount"}``) or given items, not both."""

    # The document states what the validators refuse: exactly one of the two (``{}`` is 400),
    # never null.
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_one_never_null)

    amount: PositiveMinorUnits | None = Field(
        default=None, description="Amount to capture, in minor units."
    )
    items: ItemList | None = Field(default=None, description="Units of order lines to capture.")

    @field_validator("amount", "items", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # A null sent for one of them is that field's error, not the body's "neither".
        if value is None:
            raise ValueError("null is not allowed: give a value, or leave the field out")
        return value

    _unique_items = field_validator("items")(_unique)

    @model_validator(mode="after")
    def _amount_or_items(self) -> CaptureIn:
        if (self.amount is None) == (self.items is None):
            raise ValueError("give either amount or items, not both and not neither")
        return self


class RefundIn(ApiModel):
    amount: PositiveMinorUnits = Field(
        description="Amount to refund, in minor units; at most the capture's remaining_amount."
    )


class CancellationIn(ApiModel):
    items: ItemList

    _unique_items = field_validator("items")(_unique)


class OrderIn(OrderPlacedDetail):
    """The `Order Placed` detail; ``merchant_id`` and ``order_id`` come from the key and the
    path, and may be left out (if given they must match)."""

    merchant_id: Identifier | None = None  # type: ignore[assignment]
    order_id: Identifier | None = None  # type: ignore[assignment]


# --- Bodies out --------------------------------------------------------------------------------


class CaptureItemOut(ResponseModel):
    item_id: str
    quantity: int
    amount: int


class RefundOut(ResponseModel):
    id: str = Field(description="Refund ID.")
    amount: int = Field(description="Refunded amount, in minor units.")
    created: datetime
    status: str = Field(description="refunded, or pending until the provider confirms it.")


class CaptureOut(ResponseModel):
    id: str = Field(description="Capture ID.")
    amount: int = Field(description="Captured amount, in minor units.")
    created: datetime
    refunds: list[RefundOut]
    refunded_amount: int = Field(description="Refunds the provider confirmed, in minor units.")
    remaining_amount: int = Field(description="What is left to refund of this capture.")
    status: str
    currency: str
    shipment_id: str
    items: list[CaptureItemOut]
    shipping_amount: int
    failure_reason: str | None = None


class CaptureWithHistoryOut(CaptureOut):
    history: list[HistoryEntryOut] = Field(description="Every change, oldest first.")


class CaptureCreatedOut(CaptureOut):
    remaining_capture_amount: int


class RefundCreatedOut(CaptureOut):
    """The capture after the refund, and the refund itself."""

    refund: RefundOut


class CaptureListOut(ResponseModel):
    remaining_capture_amount: int
    results: list[CaptureOut]


class OrderLineOut(ResponseModel):
    item_id: str
    sku: str
    name: str | None = Field(default=None, description="The product's name, if given.")
    quantity: int
    unit_amount: int
    discount_amount: int
    tax_amount: int
    tax_rate: int | None = Field(
        default=None, description="The tax rate in basis points (2100: 21%), if given."
    )
    total_amount: int
    shipped_quantity: int
    canceled_quantity: int


class OrderOut(ResponseModel):
    id: str
    status: str = Field(description="authorized, partially_captured, captured or canceled.")
    currency: str
    total_amount: int
    shipping_amount: int
    authorized_amount: int
    captured_amount: int
    pending_amount: int = Field(description="Reserved by captures still in progress.")
    canceled_amount: int
    refunded_amount: int
    remaining_capture_amount: int
    capture_count: int
    authorization_expires_at: datetime
    items: list[OrderLineOut]
    created: datetime
    updated: datetime
