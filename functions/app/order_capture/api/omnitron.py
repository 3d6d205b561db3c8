"""The Omnitron dialect: ``POST /api/v1/capture-order/`` with ``Authorization: Token <key>``.

Body ``{"order": "<order number>", "order_items": [{"pk": <int>, "attributes": {}}]}``: captures
exactly those order items (every unit of each that is neither shipped nor canceled), through
the capture state machine, and returns Omnitron's ``Order``.

Mapping (ours -> Omnitron's)::

    order_id                     <-> number / "order" in the request
    order line with item_id "17" <-> order item pk 17  (an Omnitron shop registers its order
                                     items with their pk as item_id)
    amounts (minor units)        -> decimal amounts, exact (money.to_decimal; JSON numbers
                                    written from the Decimal's digits, never through a float):
                                    total -> amount, line discounts -> discount_amount,
                                    shipping_amount -> shipping_amount,
                                    refunded -> refund_amount
    currency (KWD)               -> currency (kwd)
    created_at / updated_at      -> date_placed, created_date / modified_date
    every unit shipped           -> is_send
    state                        -> status: "100" canceled, "400" approved (nothing captured),
                                    "450" preparing (partly captured), "500" shipped (every
                                    non-canceled unit captured)
    payment provider             -> payment_option_slug
    captured, capturable amounts -> extra_field.captured_amount, .remaining_capture_amount
    channel, customer (unknown to order-capture) -> 0

Errors: 400 ``{"<field>": ["<message>"]}`` (Django REST framework's shape, naming the field),
401 ``{"detail", "code"}`` as in the seed (``not_authenticated`` / ``authentication_failed``),
and ``{"detail", "code"}`` for 404 ``not_found``, 409 ``invalid_state``, 413, 415, 422
``over_capture`` and 503.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import ConfigDict, Field, WithJsonSchema, model_validator

from order_capture.api import problems
from order_capture.api.common import ApiModel, IdempotencyKeyHeader, ResponseModel
from order_capture.api.context import request_context
from order_capture.api.idempotency import StoredResponse, idempotent_response
from order_capture.domain import merchant_api
from order_capture.errors import InvalidEventError
from order_capture.models import Identifier, Order
from order_capture.money import to_decimal

router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ untyped
TAGS = ["Omnitron"]

# --- Bodies in ---------------------------------------------------------------------------------


class DrfModel(ApiModel):
    """Omnitron is a Django REST framework API: its serializers ignore fields they do not
    declare, so an extra field in a body is no error here either."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class CaptureOrderItem(DrfModel):
    pk: Annotated[int, Field(ge=1, le=2**63 - 1, strict=True, description="Order Item ID")]
    attributes: dict[str, Any] = Field(default_factory=dict, description="Order item attributes")


class CaptureOrder(DrfModel):
    order: Identifier | Annotated[int, Field(ge=0, le=2**63 - 1, strict=True)] = Field(
        description="Order Number"
    )
    order_items: Annotated[list[CaptureOrderItem], Field(min_length=1, max_length=1000)] = Field(
        description="List of order items"
    )

    @model_validator(mode="after")
    def _unique_items(self) -> CaptureOrder:
        seen: set[int] = set()
        for position, item in enumerate(self.order_items):
            if item.pk in seen:
                raise ValueError(f"order_items[{position}].pk {item.pk} appears more than once")
            seen.add(item.pk)
        return self

    @property
    def number(self) -> str:
        return str(self.order)


# --- Bodies out --------------------------------------------------------------------------------

#: Omnitron's decimal amounts: JSON numbers with the currency's exact decimals.
DecimalAmount = Annotated[Decimal, WithJsonSchema({"type": "number", "format": "decimal"})]


class OmnitronOrder(ResponseModel):
    number: str = Field(description="Order number, unique within the context of a channel.")
    channel: int
    customer: int
    date_placed: datetime
    amount: DecimalAmount = Field(description="Total amount for the order.")
    status: str = Field(description="Status of the order")
    currency: str = Field(description="ISO 4217 code, lower-case.")
    discount_amount: DecimalAmount
    shipping_amount: DecimalAmount
    refund_amount: DecimalAmount
    discount_refund_amount: DecimalAmount
    shipping_refund_amount: DecimalAmount
    is_send: bool
    payment_option_slug: str | None
    #: Left out when there is none: seed 004's enum has no null (nullable does not extend it).
    cancel_status: str | None = None
    extra_field: dict[str, Any]
    created_date: datetime
    modified_date: datetime


class ErrorDetail(ResponseModel):
    detail: str
    code: str


# --- Mapping -----------------------------------------------------------------------------------


def item_id_for(pk: int) -> str:
    return str(pk)


def status_code(order: Order) -> str:
    if all(line.canceled_quantity == line.quantity for line in order.lines):
        return "100"
    if order.captured_amount == 0:
        return "400"
    if all(line.open_quantity == 0 for line in order.lines) and order.reserved_amount == 0:
        return "500"
    return "450"


def omnitron_order(order: Order) -> OmnitronOrder:
    currency = order.currency

    def amount(minor_units: int) -> Decimal:
        return to_decimal(minor_units, currency)

    return OmnitronOrder(
        number=order.order_id,
        channel=0,
        customer=0,
        date_placed=order.created_at,
        amount=amount(order.total),
        status=status_code(order),
        currency=currency.lower(),
        discount_amount=amount(sum(line.discount_amount for line in order.lines)),
        shipping_amount=amount(order.shipping_amount),
        refund_amount=amount(order.refunded_amount),
        discount_refund_amount=amount(0),
        shipping_refund_amount=amount(0),
        is_send=all(line.open_quantity == 0 for line in order.lines),
        payment_option_slug=order.payment.provider,
        cancel_status="completed" if status_code(order) == "100" else None,
        extra_field={
            "merchant_id": order.merchant_id,
            "captured_amount": amount(order.captured_amount),
            "remaining_capture_amount": amount(merchant_api.remaining_capture_amount(order)),
        },
        created_date=order.created_at,
        modified_date=order.updated_at,
    )


def json_with_exact_decimals(value: Any) -> str:
    """JSON text in which a Decimal is a number written with its own digits ("12.50"), so an
    amount never passes through a binary float on its way out."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        members = (f"{json.dumps(str(k))}:{json_with_exact_decimals(v)}" for k, v in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_with_exact_decimals(item) for item in value) + "]"
    if isinstance(value, datetime):
        return json.dumps(value.isoformat())
    if isinstance(value, Enum):
        return json.dumps(value.value)
    return json.dumps(value)


_OUR_FIELD_TO_THEIRS = (
    (re.compile(r"(?<![\w.\[])items\[(\d+)\]\.(item_id|quantity)\b"), r"order_items[\1].pk"),
    (re.compile(r"\border_id\b"), "order"),
)


def in_their_terms(text: str) -> str:
    """Field paths (in a field name or a message) in the request's own names."""
    for pattern, replacement in _OUR_FIELD_TO_THEIRS:
        text = pattern.sub(replacement, text)
    return text


#: HTTP status per error: the native API's (errors only the native routes raise, such as
#: over-refunds, never reach this dialect).
STATUS_BY_ERROR = problems.STATUS_BY_ERROR


#: Where a message names no field of the serializer: the body itself, or no place at all.
_NO_FIELD = frozenset({"", "body", "(root)"})
#: The serializer's ``many=True`` fields (seed 004: ``order_items``, CaptureOrderItemSerializer).
_LIST_SERIALIZERS = frozenset({"order_items"})
_PATH_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def _path_parts(field: str) -> list[str | int]:
    """``order_items[1].pk`` as ``["order_items", 1, "pk"]``; [] for no field."""
    if field in _NO_FIELD:
        return []
    return [int(index) if index else name for index, name in _PATH_PART.findall(field)]


def _add_drf_error(errors: dict[str, Any], parts: list[str | int], message: str) -> None:
    """``message`` put where Django REST framework puts a serializer's error: under the
    field's name; a nested serializer's (``many=True``) as a list with one object per item
    (``{}`` for a valid one); what names no field under ``non_field_errors``."""
    if not parts or isinstance(parts[0], int):
        errors.setdefault("non_field_errors", []).append(message)
        return
    name, rest = str(parts[0]), parts[1:]
    if name in _LIST_SERIALIZERS:
        items = errors.setdefault(name, [])
        if rest and isinstance(rest[0], int) and all(isinstance(i, dict) for i in items):
            while len(items) <= rest[0]:
                items.append({})
            _add_drf_error(items[rest[0]], rest[1:], message)
            return
        # The list's own error (required, empty, not a list) as a field's: its messages;
        # beside errors of its items, under the serializer's non_field_errors (never lost).
        target = errors if any(isinstance(i, dict) for i in items) else None
        if target is None:
            items.append(message)
        else:
            target.setdefault("non_field_errors", []).append(message)
        return
    # A field nested in an item's (``attributes``): its messages under the item's field.
    errors.setdefault(name, []).append(message)


def error_body(problem: problems.Problem) -> dict[str, Any]:
    error = problem.error
    if isinstance(error, problems.UnauthorizedError):
        if error.credentials_given:
            return {"detail": "Invalid token.", "code": "authentication_failed"}
        return {
            "detail": "Authentication credentials were not provided.",
            "code": "not_authenticated",
        }
    if isinstance(error, problems.MalformedJsonError):
        # DRF's ParseError: a detail, not a serializer's errors (no field was read).
        return ErrorDetail(detail=f"JSON parse error - {error}", code=error.reason).model_dump()
    if problem.status == 400:
        named = error.fields if isinstance(error, InvalidEventError) else ()
        body: dict[str, Any] = {}
        for field, message in named or ((problem.field, problem.message),):
            _add_drf_error(body, _path_parts(in_their_terms(field or "")), in_their_terms(message))
        return body
    return ErrorDetail(detail=in_their_terms(problem.message), code=problem.reason).model_dump()


def _error_response(description: str, model: Any) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


@router.post(
    "/api/v1/capture-order/",
    summary="Capture Order",
    description="Capture an order by providing the order number and the items to be captured. "
    "Safe without an `Idempotency-Key`: a repeat finds these items captured (409).",
    tags=TAGS,
    security=[{"token": []}],
    responses={
        200: _error_response("Order captured successfully", OmnitronOrder),
        400: _error_response(
            "Invalid request, as Django REST framework answers a serializer's errors: field -> "
            "messages; `order_items` -> one object per item ({} for a valid one), field -> "
            "messages; what names no field under `non_field_errors`; a body that is not JSON "
            "`{detail, code: parse_error}`",
            dict[str, list[str] | list[dict[str, list[str]]]] | ErrorDetail,
        ),
        401: _error_response("Unauthorized Access", ErrorDetail),
        404: _error_response("No such order for this merchant", ErrorDetail),
        409: _error_response("Nothing left to capture of these items", ErrorDetail),
        402: _error_response("Declined by the payment provider", ErrorDetail),
        413: _error_response("The body is over 256 KiB", ErrorDetail),
        415: _error_response("Unsupported content type", ErrorDetail),
        422: _error_response("Over-capture or Idempotency-Key reused", ErrorDetail),
        502: _error_response(
            "Outcome unknown, not repeatable: kept for reconciliation", ErrorDetail
        ),
        503: _error_response("Retry later; or the capture's outcome is unknown", ErrorDetail),
    },
)
def capture_order(
    body: CaptureOrder, idempotency_key: IdempotencyKeyHeader = None
) -> Response[str]:
    request = request_context(router)
    dependencies = request.dependencies

    def respond() -> StoredResponse:
        order = merchant_api.capture_whole_lines(
            dependencies.repository,
            dependencies.workflow,
            merchant_id=request.merchant_id,
            order_id=body.number,
            item_ids=[item_id_for(item.pk) for item in body.order_items],
            shipment_id=merchant_api.api_shipment_id(request.merchant_id, idempotency_key),
            clock=dependencies.clock,
        )
        text = json_with_exact_decimals(omnitron_order(order).model_dump(exclude_none=True))
        return StoredResponse(status_code=200, body=text)

    return idempotent_response(request, idempotency_key, respond)
