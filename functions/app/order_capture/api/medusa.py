"""The Medusa dialect: ``POST /admin/orders/{id}/capture`` ("Capture an Order's Payments").

Captures everything the order still has to capture (through the capture state machine) and
returns ``{"order": Order}`` in Medusa's Order shape. ``Authorization: Bearer <key>``.

Query: ``expand`` (comma-separated relations: ``items``, ``payments``, ``refunds``,
``fulfillments``, ``returns``; default all of them) and ``fields`` (comma-separated order fields;
default all; ``id`` always included), as Medusa's ``getRetrieveConfig`` does.

Mapping (ours -> Medusa's Order; amounts stay integer minor units)::

    order_id                     -> id
    currency (EUR)               -> currency_code (eur)
    sum(quantity x unit_amount)  -> subtotal
    sum(line discounts)          -> discount_total, raw_discount_total
    sum(line taxes)              -> tax_total
    shipping_amount              -> shipping_total
    order total                  -> total  (= subtotal - discount + tax + shipping)
    captured_amount              -> paid_total
    refunded_amount              -> refunded_total
    captured - refunded          -> refundable_amount
    the authorization            -> payments[0] (provider_id, amount = authorized_amount,
                                    captured_at = last capture)
    lines                        -> items (title = sku, unit_price, fulfilled/shipped_quantity,
                                    metadata.canceled_quantity)
    every unit canceled          -> status canceled, fulfillment_status canceled,
                                    payment_status canceled
    units shipped                -> fulfillment_status partially_shipped | shipped
    captured_amount > 0          -> payment_status captured (else awaiting);
                                    status completed when nothing is left to capture
    what order-capture does not know (customer, addresses, region, cart, display_id, email,
    tax_rate, ...) -> null

Errors: ``{"type", "code", "message", "field"}`` as Medusa's error handler writes them: 400
``invalid_data``, 401 ``unauthorized``, 404 ``not_found``, 409 ``conflict`` /
``invalid_state_error`` (nothing left to capture), 422 ``payment_authorization_error`` /
``invalid_request_error`` (over-capture, declined, expired), 500/503 ``unknown_error``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import Field

from order_capture import errors
from order_capture.api import problems
from order_capture.api.common import (
    IDENTIFIER_PATTERN,
    IdempotencyKeyHeader,
    ResponseModel,
    json_text,
)
from order_capture.api.context import request_context
from order_capture.api.idempotency import StoredResponse, idempotent_response
from order_capture.domain import merchant_api
from order_capture.models import Capture, CaptureRequest, CaptureStatus, Order

router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ untyped
TAGS = ["Medusa"]

# --- Bodies out --------------------------------------------------------------------------------


class LineItem(ResponseModel):
    id: str
    order_id: str
    title: str
    description: str | None
    quantity: int
    unit_price: int
    fulfilled_quantity: int
    shipped_quantity: int
    returned_quantity: int
    subtotal: int
    discount_total: int
    tax_total: int
    total: int
    original_total: int
    refundable: int
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any]


class Payment(ResponseModel):
    id: str
    order_id: str
    amount: int
    currency_code: str
    amount_refunded: int
    provider_id: str
    data: dict[str, Any]
    captured_at: datetime | None
    canceled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    idempotency_key: str | None
    metadata: dict[str, Any] | None


class MedusaOrder(ResponseModel):
    """Medusa's Order. Every field is optional in the response because ``fields`` and
    ``expand`` choose which are returned."""

    id: str
    display_id: int | None = None
    cart_id: str | None = None
    customer_id: str | None = None
    email: str | None = None
    billing_address_id: str | None = None
    shipping_address_id: str | None = None
    region_id: str | None = None
    tax_rate: int | None = None
    draft_order_id: str | None = None
    canceled_at: datetime | None = None
    no_notification: bool | None = None
    external_id: str | None = None
    sales_channel_id: str | None = None
    shipping_total: int | None = None
    raw_discount_total: int | None = None
    discount_total: int | None = None
    tax_total: int | None = None
    refunded_total: int | None = None
    total: int | None = None
    subtotal: int | None = None
    paid_total: int | None = None
    refundable_amount: int | None = None
    gift_card_total: int | None = None
    gift_card_tax_total: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    status: str | None = Field(
        default=None, description="pending, completed, archived, canceled or requires_action."
    )
    fulfillment_status: str | None = None
    payment_status: str | None = None
    currency_code: str | None = None
    idempotency_key: str | None = None
    metadata: dict[str, Any] | None = None
    items: list[LineItem] | None = None
    payments: list[Payment] | None = None
    refunds: list[dict[str, Any]] | None = None
    fulfillments: list[dict[str, Any]] | None = None
    returns: list[dict[str, Any]] | None = None


class OrderResponse(ResponseModel):
    order: MedusaOrder


class MedusaError(ResponseModel):
    type: str
    message: str
    code: str | None = None
    field: str | None = None


RELATIONS = ("items", "payments", "refunds", "fulfillments", "returns")
SCALAR_FIELDS = tuple(name for name in MedusaOrder.model_fields if name not in RELATIONS)


# --- Mapping -----------------------------------------------------------------------------------


def _statuses(order: Order, captures: list[Capture]) -> tuple[str, str, str]:
    """(status, fulfillment_status, payment_status) of ``order``."""
    if all(line.canceled_quantity == line.quantity for line in order.lines):
        return "canceled", "canceled", "canceled"
    if any(capture.status is CaptureStatus.REQUIRES_ACTION for capture in captures):
        return "requires_action", "requires_action", "requires_action"
    open_units = sum(line.open_quantity for line in order.lines)
    shipped_units = sum(line.shipped_quantity for line in order.lines)
    fulfillment = (
        "not_fulfilled"
        if shipped_units == 0
        else "shipped"
        if open_units == 0
        else "partially_shipped"
    )
    payment = "captured" if order.captured_amount > 0 else "awaiting"
    if order.refunded_amount:
        refunded_all = order.refunded_amount >= order.captured_amount
        payment = "refunded" if refunded_all else "partially_refunded"
    nothing_left = merchant_api.remaining_capture_amount(order) == 0
    status = "completed" if nothing_left and order.captured_amount > 0 else "pending"
    return status, fulfillment, payment


def medusa_order(order: Order, captures: list[Capture]) -> MedusaOrder:
    status, fulfillment_status, payment_status = _statuses(order, captures)
    currency_code = order.currency.lower()
    subtotal = sum(line.quantity * line.unit_amount for line in order.lines)
    discount_total = sum(line.discount_amount for line in order.lines)
    tax_total = sum(line.tax_amount for line in order.lines)
    captured = [c for c in captures if c.status is CaptureStatus.CAPTURED]
    return MedusaOrder(
        id=order.order_id,
        canceled_at=order.updated_at if status == "canceled" else None,
        shipping_total=order.shipping_amount,
        raw_discount_total=discount_total,
        discount_total=discount_total,
        tax_total=tax_total,
        refunded_total=order.refunded_amount,
        total=order.total,
        subtotal=subtotal,
        paid_total=order.captured_amount,
        refundable_amount=order.captured_amount - order.refunded_amount,
        gift_card_total=0,
        gift_card_tax_total=0,
        created_at=order.created_at,
        updated_at=order.updated_at,
        status=status,
        fulfillment_status=fulfillment_status,
        payment_status=payment_status,
        currency_code=currency_code,
        metadata={"merchant_id": order.merchant_id},
        items=[
            LineItem(
                id=line.item_id,
                order_id=order.order_id,
                title=line.sku,
                description=None,
                quantity=line.quantity,
                unit_price=line.unit_amount,
                fulfilled_quantity=line.shipped_quantity,
                shipped_quantity=line.shipped_quantity,
                returned_quantity=0,
                subtotal=line.quantity * line.unit_amount,
                discount_total=line.discount_amount,
                tax_total=line.tax_amount,
                total=line.line_total,
                original_total=line.quantity * line.unit_amount + line.tax_amount,
                refundable=line.closed_value if line.shipped_quantity else 0,
                created_at=order.created_at,
                updated_at=order.updated_at,
                metadata={"sku": line.sku, "canceled_quantity": line.canceled_quantity},
            )
            for line in order.lines
        ],
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
                canceled_at=None,
                created_at=order.created_at,
                updated_at=order.updated_at,
                idempotency_key=None,
                metadata=None,
            )
        ],
        refunds=[],
        fulfillments=[],
        returns=[],
    )


def _selection(value: str | None, known: tuple[str, ...], name: str) -> list[str] | None:
    if value is None:
        return None
    chosen = [part.strip() for part in value.split(",") if part.strip()]
    for part in chosen:
        if part not in known:
            raise errors.InvalidEventError(
                f"{name}: unknown {name} {part!r} (known: {', '.join(known)})", field=name
            )
    return chosen


def select(order: MedusaOrder, expand: str | None, fields: str | None) -> dict[str, Any]:
    """The order as Medusa returns it for these ``expand`` and ``fields`` query values."""
    relations = _selection(expand, RELATIONS, "expand")
    scalars = _selection(fields, SCALAR_FIELDS, "fields")
    chosen = {"id", *(scalars if scalars is not None else SCALAR_FIELDS)}
    chosen.update(relations if relations is not None else RELATIONS)
    return order.model_dump(mode="json", include=chosen)


_TYPE_AND_CODE_BY_STATUS = {
    400: ("invalid_data", "invalid_request_error"),
    401: ("unauthorized", None),
    404: ("not_found", None),
    409: ("conflict", "invalid_state_error"),
    413: ("invalid_data", "invalid_request_error"),
    415: ("invalid_data", "invalid_request_error"),
    422: ("payment_authorization_error", "invalid_request_error"),
}

STATUS_BY_ERROR: dict[type[errors.OrderCaptureError], int] = {
    errors.InvalidEventError: 400,
    problems.UnauthorizedError: 401,
    errors.OrderNotFoundError: 404,
    problems.RouteNotFoundError: 404,
    errors.InvalidStateError: 409,
    problems.PayloadTooLargeError: 413,
    problems.UnsupportedMediaTypeError: 415,
    errors.OverCaptureError: 422,
    errors.AuthorizationExpiredError: 422,
    errors.ProviderDeclinedError: 422,
    problems.IdempotencyKeyReusedError: 422,
    errors.OrderChangedError: 503,
    errors.ProviderUnavailableError: 503,
    errors.CaptureOutcomeUnknownError: 503,
    errors.LedgerUnavailableError: 503,
}


def error_body(problem: problems.Problem) -> dict[str, Any]:
    error_type, code = _TYPE_AND_CODE_BY_STATUS.get(
        problem.status, ("unknown_error", "unknown_error")
    )
    if problem.status == 422 and isinstance(problem.error, problems.IdempotencyKeyReusedError):
        error_type = "duplicate_error"
    message = "Unauthorized" if problem.status == 401 else problem.message
    return MedusaError(type=error_type, code=code, message=message, field=problem.field).model_dump(
        exclude_none=True
    )


ERROR_RESPONSES: dict[int, Any] = {
    status: {"description": description, "content": {"application/json": {"model": MedusaError}}}
    for status, description in {
        400: "Client Error or Multiple Errors",
        401: "User is not authorized. Must log in first",
        404: "Not Found Error",
        409: "Invalid State Error",
        422: "Invalid Request Error",
    }.items()
}

OrderIdPath = Annotated[
    str, Path(pattern=IDENTIFIER_PATTERN, min_length=1, max_length=128, description="Order ID.")
]


@router.post(
    "/admin/orders/<id>/capture",
    summary="Capture an Order's Payments",
    description="Captures everything the order still has to capture. Safe without an "
    "`Idempotency-Key`: a repeat finds nothing left to capture (409).",
    tags=TAGS,
    security=[{"bearer": []}],
    responses={
        200: {"description": "OK", "content": {"application/json": {"model": OrderResponse}}},
        **ERROR_RESPONSES,
    },
)
def capture_order(
    id: OrderIdPath,
    idempotency_key: IdempotencyKeyHeader = None,
    expand: Annotated[str | None, Query(max_length=200, description="Relations.")] = None,
    fields: Annotated[str | None, Query(max_length=1000, description="Order fields.")] = None,
) -> Response[str]:
    request = request_context(router)
    dependencies = request.dependencies

    def respond() -> StoredResponse:
        # Checked before capturing: a bad query must not leave a capture behind.
        _selection(expand, RELATIONS, "expand")
        _selection(fields, SCALAR_FIELDS, "fields")
        merchant_api.capture(
            dependencies.repository,
            dependencies.workflow,
            CaptureRequest(
                merchant_id=request.merchant_id,
                order_id=id,
                shipment_id=merchant_api.api_shipment_id(request.merchant_id, idempotency_key),
                trigger="api",
            ),
            dependencies.clock,
        )
        order, captures = merchant_api.order_with_captures(
            dependencies.repository, request.merchant_id, id
        )
        body = {"order": select(medusa_order(order, captures), expand, fields)}
        return StoredResponse(status_code=200, body=json_text(body))

    return idempotent_response(request, idempotency_key, respond)
