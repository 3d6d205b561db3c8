"""Medusa's ``Order`` as ``@medusajs/client-types`` declares ``AdminOrdersRes`` (Medusa v1), and
the objects it is made of; ``api.medusa_order`` maps the ledger's order to it.

The default response (no ``expand``, no ``fields``) type-checks as ``AdminOrdersRes`` under
``tsc --strict`` (tests/integration/test_client_medusa.py compiles it): every field the type
requires has a value of its declared type, ``null`` only where the type allows it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from order_capture.api.common import ResponseModel

OrderStatus = Literal["pending", "completed", "archived", "canceled", "requires_action"]
FulfillmentStatus = Literal[
    "not_fulfilled",
    "partially_fulfilled",
    "fulfilled",
    "partially_shipped",
    "shipped",
    "partially_returned",
    "returned",
    "canceled",
    "requires_action",
]
PaymentStatus = Literal[
    "not_paid",
    "awaiting",
    "captured",
    "partially_refunded",
    "refunded",
    "canceled",
    "requires_action",
]


class Stamped(ResponseModel):
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] | None = None


class Address(Stamped):
    id: str
    customer_id: str | None = None
    company: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    address_1: str | None = None
    address_2: str | None = None
    city: str | None = None
    country_code: str | None = None
    province: str | None = None
    postal_code: str | None = None
    phone: str | None = None
    deleted_at: datetime | None = None


class Customer(Stamped):
    id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    billing_address_id: str | None = None
    phone: str | None = None
    has_account: bool = False
    deleted_at: datetime | None = None


class Provider(ResponseModel):
    id: str
    is_installed: bool = True


class Region(Stamped):
    id: str
    name: str
    currency_code: str
    tax_rate: int = 0
    tax_code: str | None = None
    gift_cards_taxable: bool = False
    automatic_taxes: bool = False
    tax_provider_id: str | None = None
    payment_providers: list[Provider]
    fulfillment_providers: list[Provider] = []
    deleted_at: datetime | None = None


class ShippingProfile(Stamped):
    id: str
    name: str
    type: Literal["default", "gift_card", "custom"] = "default"
    deleted_at: datetime | None = None


class Product(Stamped):
    id: str
    title: str
    subtitle: str | None = None
    description: str | None = None
    handle: str | None = None
    is_giftcard: bool = False
    status: Literal["draft", "proposed", "published", "rejected"] = "published"
    thumbnail: str | None = None
    profile_id: str = ""
    profiles: list[ShippingProfile] = []
    weight: int | None = None
    length: int | None = None
    height: int | None = None
    width: int | None = None
    hs_code: str | None = None
    origin_country: str | None = None
    mid_code: str | None = None
    material: str | None = None
    collection_id: str | None = None
    type_id: str | None = None
    discountable: bool = True
    external_id: str | None = None
    deleted_at: datetime | None = None


class ProductVariant(Stamped):
    id: str
    title: str
    product_id: str
    product: Product
    sku: str | None
    barcode: str | None = None
    ean: str | None = None
    upc: str | None = None
    variant_rank: int | None = None
    inventory_quantity: int = 0
    allow_backorder: bool = False
    manage_inventory: bool = False
    hs_code: str | None = None
    origin_country: str | None = None
    mid_code: str | None = None
    material: str | None = None
    weight: int | None = None
    length: int | None = None
    height: int | None = None
    width: int | None = None
    deleted_at: datetime | None = None


class LineItem(Stamped):
    id: str
    cart_id: str | None = None
    order_id: str | None
    swap_id: str | None = None
    claim_order_id: str | None = None
    tax_lines: list[dict[str, Any]] = []
    adjustments: list[dict[str, Any]] = []
    original_item_id: str | None = None
    order_edit_id: str | None = None
    title: str
    description: str | None = None
    thumbnail: str | None = None
    is_return: bool = False
    is_giftcard: bool = False
    should_merge: bool = True
    allow_discounts: bool = True
    has_shipping: bool | None = None
    unit_price: int
    variant_id: str | None
    variant: ProductVariant
    quantity: int
    fulfilled_quantity: int | None
    returned_quantity: int | None
    shipped_quantity: int | None
    refundable: int
    subtotal: int
    tax_total: int
    total: int
    original_total: int
    original_tax_total: int
    discount_total: int
    raw_discount_total: int
    gift_card_total: int = 0
    includes_tax: bool = False


class Payment(Stamped):
    id: str
    swap_id: str | None = None
    cart_id: str | None = None
    order_id: str | None
    amount: int
    currency_code: str
    amount_refunded: int
    provider_id: str
    data: dict[str, Any]
    captured_at: datetime | None
    canceled_at: datetime | None = None
    idempotency_key: str | None = None


class FulfillmentItem(ResponseModel):
    fulfillment_id: str
    item_id: str
    quantity: int


class Fulfillment(Stamped):
    id: str
    claim_order_id: str | None = None
    swap_id: str | None = None
    order_id: str | None
    provider_id: str
    location_id: str | None = None
    items: list[FulfillmentItem]
    tracking_links: list[dict[str, Any]] = []
    tracking_numbers: list[str] = []
    data: dict[str, Any]
    shipped_at: datetime | None
    no_notification: bool | None = None
    canceled_at: datetime | None = None
    idempotency_key: str | None = None


class MedusaRefund(Stamped):
    id: str
    order_id: str | None
    payment_id: str | None
    amount: int
    note: str | None = None
    reason: Literal["discount", "return", "swap", "claim", "other"] = "other"
    idempotency_key: str | None = None


class MedusaOrder(ResponseModel):
    """Medusa's Order. Every field but ``id`` is optional in the model because ``fields`` and
    ``expand`` choose which are returned; the default answer carries them all."""

    id: str
    status: OrderStatus | None = None
    fulfillment_status: FulfillmentStatus | None = None
    payment_status: PaymentStatus | None = None
    display_id: int | None = None
    cart_id: str | None = None
    customer_id: str | None = None
    email: str | None = None
    billing_address_id: str | None = None
    shipping_address_id: str | None = None
    region_id: str | None = None
    currency_code: str | None = None
    tax_rate: int | None = None
    draft_order_id: str | None = None
    canceled_at: datetime | None = None
    no_notification: bool | None = None
    idempotency_key: str | None = None
    external_id: str | None = None
    sales_channel_id: str | None = None
    shipping_total: int | None = None
    shipping_tax_total: int | None = None
    raw_discount_total: int | None = None
    discount_total: int | None = None
    tax_total: int | None = None
    item_tax_total: int | None = None
    refunded_total: int | None = None
    total: int | None = None
    subtotal: int | None = None
    paid_total: int | None = None
    refundable_amount: int | None = None
    gift_card_total: int | None = None
    gift_card_tax_total: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    metadata: dict[str, Any] | None = None
    # Relations (``expand``).
    billing_address: Address | None = None
    shipping_address: Address | None = None
    customer: Customer | None = None
    region: Region | None = None
    items: list[LineItem] | None = None
    payments: list[Payment] | None = None
    fulfillments: list[Fulfillment] | None = None
    refunds: list[MedusaRefund] | None = None
    returns: list[dict[str, Any]] | None = None
    claims: list[dict[str, Any]] | None = None
    discounts: list[dict[str, Any]] | None = None
    gift_cards: list[dict[str, Any]] | None = None
    gift_card_transactions: list[dict[str, Any]] | None = None
    shipping_methods: list[dict[str, Any]] | None = None
    swaps: list[dict[str, Any]] | None = None


RELATIONS = (
    "billing_address",
    "shipping_address",
    "customer",
    "region",
    "items",
    "payments",
    "fulfillments",
    "refunds",
    "returns",
    "claims",
    "discounts",
    "gift_cards",
    "gift_card_transactions",
    "shipping_methods",
    "swaps",
)
SCALAR_FIELDS = tuple(name for name in MedusaOrder.model_fields if name not in RELATIONS)
