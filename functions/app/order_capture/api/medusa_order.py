"""The ledger's order as Medusa's ``Order`` (``AdminOrdersRes``, the objects in
``api.medusa_objects``).

Mapping (ours -> Medusa's; amounts stay integer minor units)::

    order_id                     -> id
    display_id, customer_id, email, region_id, metadata
                                 -> as the shop registered them (Order Placed / PUT); when it
                                    did not: 0, "", "", "" and null
    currency (EUR)               -> currency_code (eur)
    sum(quantity x unit_amount)  -> subtotal
    sum(line discounts)          -> discount_total, raw_discount_total
    sum(line taxes)              -> tax_total
    shipping_amount              -> shipping_total
    order total                  -> total  (= subtotal - discount + tax + shipping)
    captured_amount              -> paid_total
    refunded_amount              -> refunded_total; refunds made -> refunds
    captured - refunded          -> refundable_amount
    the authorization            -> payments[0] (provider_id, amount = authorized_amount,
                                    captured_at = last capture)
    lines                        -> items (title = the product's name, else the sku,
                                    unit_price, fulfilled/shipped_quantity,
                                    refundable = what the line's captures took,
                                    metadata.canceled_quantity); variant and product stand for
                                    the SKU (their id and sku are the SKU, their title the
                                    item's)
    each shipment that captured lines -> fulfillments (id = shipment id, items, shipped_at)
    customer_id, email           -> customer
    region_id, currency, provider -> region
    every unit canceled          -> status canceled, fulfillment_status canceled,
                                    payment_status canceled
    units shipped                -> fulfillment_status partially_shipped | shipped
    captured_amount > 0          -> payment_status captured (else awaiting);
                                    status completed when nothing is left to capture
    what order-capture does not hold (addresses, cart, claims, discounts, gift cards,
    returns, shipping methods, swaps, tax lines) -> empty arrays; objects the type requires
    (billing_address, shipping_address) -> an address with every field null
"""

from __future__ import annotations

from collections import Counter

from order_capture.api.medusa_objects import (
    Address,
    Customer,
    Fulfillment,
    FulfillmentItem,
    FulfillmentStatus,
    LineItem,
    MedusaOrder,
    MedusaRefund,
    OrderStatus,
    Payment,
    PaymentStatus,
    Product,
    ProductVariant,
    Provider,
    Region,
)
from order_capture.domain import merchant_api
from order_capture.models import Capture, CaptureStatus, Order, Refund, RefundStatus

# --- Mapping -----------------------------------------------------------------------------------


def is_canceled(order: Order) -> bool:
    """Whether Medusa would call ``order`` canceled: every unit of it is."""
    return all(line.canceled_quantity == line.quantity for line in order.lines)


def _statuses(
    order: Order, captures: list[Capture]
) -> tuple[OrderStatus, FulfillmentStatus, PaymentStatus]:
    """(status, fulfillment_status, payment_status) of ``order``."""
    if is_canceled(order):
        return "canceled", "canceled", "canceled"
    if any(capture.status is CaptureStatus.REQUIRES_ACTION for capture in captures):
        return "requires_action", "requires_action", "requires_action"
    open_units = sum(line.open_quantity for line in order.lines)
    shipped_units = sum(line.shipped_quantity for line in order.lines)
    fulfillment: FulfillmentStatus = (
        "not_fulfilled"
        if shipped_units == 0
        else "shipped"
        if open_units == 0
        else "partially_shipped"
    )
    payment: PaymentStatus = "captured" if order.captured_amount > 0 else "awaiting"
    if order.refunded_amount:
        refunded_all = order.refunded_amount >= order.captured_amount
        payment = "refunded" if refunded_all else "partially_refunded"
    nothing_left = merchant_api.remaining_capture_amount(order) == 0
    status: OrderStatus = "completed" if nothing_left and order.captured_amount > 0 else "pending"
    return status, fulfillment, payment


def _line_items(order: Order, captured: list[Capture]) -> list[LineItem]:
    """Each line, its ``refundable`` what the captured captures took for it (their claims:
    never the value of units canceled, or reserved and not yet captured)."""
    stamps = {"created_at": order.created_at, "updated_at": order.updated_at}
    taken: Counter[str] = Counter()
    for claim in (line for capture in captured for line in capture.lines):
        taken[claim.item_id] += claim.amount
    items = []
    for line in order.lines:
        gross = line.quantity * line.unit_amount
        title = line.name or line.sku
        product = Product(id=line.sku, title=title, **stamps)
        variant = ProductVariant(
            id=line.sku, title=title, product_id=line.sku, product=product, sku=line.sku,
            **stamps,
        )  # fmt: skip
        items.append(
            LineItem(
                id=line.item_id,
                order_id=order.order_id,
                title=title,
                unit_price=line.unit_amount,
                variant_id=line.sku,
                variant=variant,
                quantity=line.quantity,
                fulfilled_quantity=line.shipped_quantity,
                shipped_quantity=line.shipped_quantity,
                returned_quantity=0,
                refundable=taken[line.item_id],
                subtotal=gross,
                discount_total=line.discount_amount,
                raw_discount_total=line.discount_amount,
                tax_total=line.tax_amount,
                original_tax_total=line.tax_amount,
                total=line.line_total,
                original_total=gross + line.tax_amount,
                metadata={"sku": line.sku, "canceled_quantity": line.canceled_quantity},
                **stamps,
            )
        )
    return items


def _fulfillments(order: Order, captures: list[Capture]) -> list[Fulfillment]:
    """One fulfillment per shipment that captured (or is capturing) order lines."""
    return [
        Fulfillment(
            id=capture.shipment_id,
            order_id=order.order_id,
            provider_id="order-capture",
            items=[
                FulfillmentItem(
                    fulfillment_id=capture.shipment_id, item_id=line.item_id, quantity=line.quantity
                )
                for line in capture.lines
            ],
            data={"capture_id": capture.capture_id, "capture_status": capture.status.value},
            shipped_at=capture.created_at,
            created_at=capture.created_at,
            updated_at=capture.updated_at,
        )
        for capture in captures
        if capture.lines and capture.status is not CaptureStatus.FAILED
    ]


def _refunds(order: Order, refunds: list[Refund]) -> list[MedusaRefund]:
    return [
        MedusaRefund(
            id=refund.refund_id,
            order_id=order.order_id,
            payment_id=order.payment.reference,
            amount=refund.amount,
            created_at=refund.created_at,
            updated_at=refund.updated_at,
        )
        for refund in refunds
        if refund.status is RefundStatus.REFUNDED
    ]


def medusa_order(
    order: Order, captures: list[Capture], refunds: list[Refund] | None = None
) -> MedusaOrder:
    status, fulfillment_status, payment_status = _statuses(order, captures)
    currency_code = order.currency.lower()
    stamps = {"created_at": order.created_at, "updated_at": order.updated_at}
    discount_total = sum(line.discount_amount for line in order.lines)
    tax_total = sum(line.tax_amount for line in order.lines)
    captured = [c for c in captures if c.status is CaptureStatus.CAPTURED]
    customer_id = order.customer_id or ""
    region_id = order.region_id or ""
    empty_address = Address(id="", customer_id=order.customer_id, **stamps)
    return MedusaOrder(
        id=order.order_id,
        status=status,
        fulfillment_status=fulfillment_status,
        payment_status=payment_status,
        display_id=order.display_id or 0,
        customer_id=customer_id,
        email=order.email or "",
        region_id=region_id,
        currency_code=currency_code,
        canceled_at=order.updated_at if status == "canceled" else None,
        shipping_total=order.shipping_amount,
        shipping_tax_total=0,
        raw_discount_total=discount_total,
        discount_total=discount_total,
        tax_total=tax_total,
        item_tax_total=tax_total,
        refunded_total=order.refunded_amount,
        total=order.total,
        subtotal=sum(line.quantity * line.unit_amount for line in order.lines),
        paid_total=order.captured_amount,
        refundable_amount=order.captured_amount - order.refunded_amount,
        gift_card_total=0,
        gift_card_tax_total=0,
        metadata=order.metadata,
        billing_address=empty_address,
        shipping_address=empty_address,
        customer=Customer(id=customer_id, email=order.email or "", **stamps),
        region=Region(
            id=region_id,
            name=region_id,
            currency_code=currency_code,
            payment_providers=[Provider(id=order.payment.provider)],
            **stamps,
        ),
        items=_line_items(order, captured),
        payments=[
            Payment(
                id=order.payment.reference,
                order_id=order.order_id,
                amount=order.payment.authorized_amount,
                currency_code=currency_code,
                amount_refunded=order.refunded_amount,
                provider_id=order.payment.provider,
                data={"captures": [capture.capture_id for capture in captured]},
                captured_at=max((c.updated_at for c in captured), default=None),
                **stamps,
            )
        ],
        fulfillments=_fulfillments(order, captures),
        refunds=_refunds(order, refunds or []),
        returns=[],
        claims=[],
        discounts=[],
        gift_cards=[],
        gift_card_transactions=[],
        shipping_methods=[],
        swaps=[],
        **stamps,
    )
