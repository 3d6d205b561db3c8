"""The native dialect: Aplazame's captures API (amounts in minor units), plus orders.

Routes (``Authorization: Bearer <key>``; bodies ``application/json`` or
``application/vnd.aplazame.v1+json``)::

    GET  /orders/{order_id}/captures               -> {"remaining_capture_amount", "results"}
    POST /orders/{order_id}/captures               {"amount"} | {"items"} -> capture + remaining
    GET  /orders/{order_id}/captures/{capture_id}  -> capture (``?expand=history``: + history)
    POST /orders/{order_id}/captures/{capture_id}/refunds  {"amount"} -> capture + refund
    PUT  /orders/{order_id}                        Order Placed detail -> order
    GET  /orders/{order_id}                        -> order
    POST /orders/{order_id}/cancellations          {"items"} -> order

Mapping (ours -> Aplazame's capture object)::

    capture_id                -> id
    amount                    -> amount            (minor units)
    created_at                -> created
    refunds made or pending   -> refunds [{id, amount, created, status}]
    refunded_amount           -> refunded_amount   (confirmed by the provider)
    amount - refunded - pending -> remaining_amount  (what is left to refund)
    capturable, capped by the authorization -> remaining_capture_amount
    status, currency, shipment_id, lines -> status, currency, shipment_id, items  (our extras)

Errors: ``{"error": {"type", "message", "field"}}`` with 400 (invalid request), 401, 404, 409
(invalid state: nothing left to capture, units already shipped, order registered differently,
idempotency key in progress), 413, 415, 422 (over-capture, over-refund, idempotency key
reused), 402
(provider declined), 502 (outcome unknown at a provider without idempotency keys: not sent
again) and 503 (retry later with the same key).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from order_capture import errors
from order_capture.api import problems
from order_capture.api.common import (
    IDENTIFIER_PATTERN,
    IdempotencyKeyHeader,
    OrderIdPath,
    ResponseModel,
    json_text,
)
from order_capture.api.context import request_context
from order_capture.api.history import history_out
from order_capture.api.idempotency import StoredResponse, idempotent_response
from order_capture.api.native_bodies import (
    CancellationIn,
    CaptureCreatedOut,
    CaptureIn,
    CaptureItemOut,
    CaptureListOut,
    CaptureOut,
    CaptureWithHistoryOut,
    OrderIn,
    OrderLineOut,
    OrderOut,
    RefundCreatedOut,
    RefundIn,
    RefundOut,
)
from order_capture.domain import merchant_api, refunds, releases
from order_capture.models import (
    Capture,
    CaptureRequest,
    CaptureStatus,
    Order,
    OrderPlacedDetail,
    Refund,
)
from order_capture.observability import log_release_error

router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ untyped
TAGS = ["Native (Aplazame)"]
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]

# --- Mapping -----------------------------------------------------------------------------------


def refund_out(refund: Refund) -> RefundOut:
    return RefundOut(
        id=refund.refund_id,
        amount=refund.amount,
        created=refund.created_at,
        status=refund.status.value,
    )


def capture_out(capture: Capture, capture_refunds: list[Refund] | None = None) -> CaptureOut:
    refunded_amount, remaining_amount = refunds.refund_totals(capture, capture_refunds)
    return CaptureOut(
        id=capture.capture_id,
        amount=capture.amount,
        created=capture.created_at,
        refunds=[refund_out(r) for r in refunds.visible_refunds(capture_refunds or [])],
        refunded_amount=refunded_amount,
        remaining_amount=remaining_amount,
        status=capture.status.value,
        currency=capture.currency,
        shipment_id=capture.shipment_id,
        items=[CaptureItemOut(**line.model_dump()) for line in capture.lines],
        shipping_amount=capture.shipping_amount,
        failure_reason=capture.failure.reason if capture.failure else None,
    )


def order_status(order: Order) -> str:
    if all(line.canceled_quantity == line.quantity for line in order.lines):
        return "canceled"
    if order.captured_amount == 0:
        return "authorized"
    if merchant_api.remaining_capture_amount(order) == 0 and order.reserved_amount == 0:
        return "captured"
    return "partially_captured"


def order_out(order: Order) -> OrderOut:
    return OrderOut(
        id=order.order_id,
        status=order_status(order),
        currency=order.currency,
        total_amount=order.total,
        shipping_amount=order.shipping_amount,
        authorized_amount=order.payment.authorized_amount,
        captured_amount=order.captured_amount,
        pending_amount=order.reserved_amount,
        canceled_amount=order.canceled_amount,
        refunded_amount=order.refunded_amount,
        remaining_capture_amount=merchant_api.remaining_capture_amount(order),
        capture_count=order.capture_count,
        authorization_expires_at=order.payment.expires_at,
        items=[
            OrderLineOut(
                item_id=line.item_id,
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                discount_amount=line.discount_amount,
                tax_amount=line.tax_amount,
                tax_rate=line.tax_rate,
                total_amount=line.line_total,
                shipped_quantity=line.shipped_quantity,
                canceled_quantity=line.canceled_quantity,
            )
            for line in order.lines
        ],
        created=order.created_at,
        updated=order.updated_at,
    )


def order_placed_detail(merchant_id: str, order_id: str, body: OrderIn) -> OrderPlacedDetail:
    """The `Order Placed` detail a PUT stands for; ids from the key and the path."""
    if body.order_id is not None and body.order_id != order_id:
        raise errors.InvalidEventError(
            "order_id: must be the order id of the path", field="order_id"
        )
    if body.merchant_id is not None and body.merchant_id != merchant_id:
        raise errors.InvalidEventError(
            "merchant_id: must be the merchant of the API key", field="merchant_id"
        )
    return OrderPlacedDetail.model_validate(
        body.model_dump() | {"merchant_id": merchant_id, "order_id": order_id}
    )


class ErrorDetail(ResponseModel):
    type: str
    message: str
    field: str | None = None


class ErrorOut(ResponseModel):
    error: ErrorDetail


#: HTTP status per error, shared with the Omnitron dialect (Medusa has its own).
STATUS_BY_ERROR = problems.STATUS_BY_ERROR


def error_body(problem: problems.Problem) -> dict[str, Any]:
    detail = ErrorDetail(type=problem.reason, message=problem.message, field=problem.field)
    return ErrorOut(error=detail).model_dump()


ERROR_RESPONSES: dict[int, Any] = {
    status: {
        "description": description,
        "content": {"application/json": {"model": ErrorOut}},
    }
    for status, description in {
        400: "Invalid request (the body says which field).",
        401: "Missing or unknown API key.",
        404: "No such order or capture for this merchant.",
        409: "The order's state does not allow it (e.g. nothing left to capture).",
        402: "Declined by the payment provider.",
        413: "The body is over 256 KiB.",
        415: "Unsupported content type.",
        422: "Over-capture or over-refund, or Idempotency-Key reused for another request.",
        502: "Outcome unknown at a provider without idempotency keys: kept reserved for "
        "reconciliation; a retry with the same key sends nothing.",
        503: "Retry later with the same Idempotency-Key: provider or ledger unavailable, or "
        "the capture's outcome is unknown (requires_action, kept reserved).",
    }.items()
}


def _responses(model: type[ResponseModel], description: str) -> dict[int, Any]:
    return {
        200: {"description": description, "content": {"application/json": {"model": model}}},
        **ERROR_RESPONSES,
    }


# --- Routes ------------------------------------------------------------------------------------

CaptureIdPath = Annotated[
    str,
    Path(pattern=IDENTIFIER_PATTERN, min_length=1, max_length=128, description="Capture ID."),
]


@router.get(
    "/orders/<order_id>/captures",
    summary="Captures of an order",
    tags=TAGS,
    security=SECURITY,
    responses=_responses(CaptureListOut, "The order's captures."),
)
def list_captures(order_id: OrderIdPath) -> CaptureListOut:
    """The order's captures, as Aplazame lists them: money captured or being captured. A
    failed capture (a decline, a request that lost a race) moved no money, and a client that
    adds up ``amount`` must not count it: it stays readable by its id, history and all."""
    request = request_context(router)
    repository = request.dependencies.repository
    order, captures = merchant_api.order_with_captures(repository, request.merchant_id, order_id)
    by_capture = refunds.refunds_by_capture(repository, request.merchant_id, order_id)
    return CaptureListOut(
        remaining_capture_amount=merchant_api.remaining_capture_amount(order),
        results=[
            capture_out(capture, by_capture[capture.capture_id])
            for capture in captures
            if capture.status is not CaptureStatus.FAILED
        ],
    )


@router.post(
    "/orders/<order_id>/captures",
    summary="Request a capture",
    description="Capture an amount or items through the capture state machine. Without an "
    "`Idempotency-Key` each request is a new capture, as at Aplazame.",
    tags=TAGS,
    security=SECURITY,
    responses=_responses(CaptureCreatedOut, "The new capture."),
)
def create_capture(
    order_id: OrderIdPath, body: CaptureIn, idempotency_key: IdempotencyKeyHeader = None
) -> Response[str]:
    request = request_context(router)
    dependencies = request.dependencies

    def respond() -> StoredResponse:
        capture, totals = merchant_api.capture(
            dependencies.repository,
            dependencies.workflow,
            CaptureRequest(
                merchant_id=request.merchant_id,
                order_id=order_id,
                shipment_id=merchant_api.api_shipment_id(request.merchant_id, idempotency_key),
                items=body.items,
                amount=body.amount,
                trigger="api",
            ),
            dependencies.clock,
        )
        created = CaptureCreatedOut(
            **capture_out(capture).model_dump(),
            remaining_capture_amount=totals.remaining_capture_amount,
        )
        return StoredResponse(status_code=200, body=json_text(created))

    return idempotent_response(request, idempotency_key, respond)


@router.get(
    "/orders/<order_id>/captures/<capture_id>",
    summary="A capture",
    tags=TAGS,
    security=SECURITY,
    responses=_responses(CaptureWithHistoryOut, "The capture (its history if expanded)."),
)
def get_capture(
    order_id: OrderIdPath,
    capture_id: CaptureIdPath,
    expand: Annotated[
        Literal["history"] | None,
        Query(description="`history`: include every change of the capture and its refunds."),
    ] = None,
) -> CaptureWithHistoryOut | CaptureOut:
    request = request_context(router)
    repository = request.dependencies.repository
    _, capture = merchant_api.order_and_capture(
        repository, request.merchant_id, order_id, capture_id
    )
    shown = capture_out(capture, repository.list_refunds(request.merchant_id, order_id, capture_id))
    if expand is None:
        return shown
    history = merchant_api.capture_history(repository, request.merchant_id, order_id, capture_id)
    return CaptureWithHistoryOut(**shown.model_dump(), history=history_out(history))


@router.post(
    "/orders/<order_id>/captures/<capture_id>/refunds",
    summary="Refund a capture",
    description="Refund part or all of what a capture has left (its `remaining_amount`) at "
    "the payment provider. A retry with the same `Idempotency-Key` never refunds twice; without "
    "a key each request is a new refund.",
    tags=TAGS,
    security=SECURITY,
    responses=_responses(RefundCreatedOut, "The capture after the refund, and the refund."),
)
def refund_capture(
    order_id: OrderIdPath,
    capture_id: CaptureIdPath,
    body: RefundIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response[str]:
    request = request_context(router)
    dependencies = request.dependencies

    def respond() -> StoredResponse:
        if dependencies.providers is None:
            raise errors.ProviderNotConfiguredError("no payment providers are configured")
        _, capture, refund = refunds.refund_capture(
            dependencies.repository,
            dependencies.providers,
            merchant_id=request.merchant_id,
            order_id=order_id,
            capture_id=capture_id,
            amount=body.amount,
            # Without a key the refund is a new one (as at Aplazame): a key of its own.
            idempotency_key=idempotency_key or uuid.uuid4().hex,
            clock=dependencies.clock,
        )
        capture_refunds = dependencies.repository.list_refunds(
            request.merchant_id, order_id, capture_id
        )
        created = RefundCreatedOut(
            **capture_out(capture, capture_refunds).model_dump(), refund=refund_out(refund)
        )
        return StoredResponse(status_code=200, body=json_text(created))

    return idempotent_response(request, idempotency_key, respond)


@router.put(
    "/orders/<order_id>",
    summary="Register an order",
    description="The body is the `Order Placed` event's detail. Registering the same order "
    "again changes nothing (with or without an `Idempotency-Key`); different content is 409.",
    tags=TAGS,
    security=SECURITY,
    responses=_responses(OrderOut, "The registered order."),
)
def put_order(
    order_id: OrderIdPath, body: OrderIn, idempotency_key: IdempotencyKeyHeader = None
) -> Response[str]:
    request = request_context(router)
    dependencies = request.dependencies

    def respond() -> StoredResponse:
        detail = order_placed_detail(request.merchant_id, order_id, body)
        order = merchant_api.register_order(
            dependencies.repository, request.merchant_id, detail, dependencies.clock
        )
        return StoredResponse(status_code=200, body=json_text(order_out(order)))

    return idempotent_response(request, idempotency_key, respond)


@router.get(
    "/orders/<order_id>",
    summary="An order",
    tags=TAGS,
    security=SECURITY,
    responses=_responses(OrderOut, "The order."),
)
def get_order(order_id: OrderIdPath) -> OrderOut:
    request = request_context(router)
    return order_out(
        merchant_api.require_order(request.dependencies.repository, request.merchant_id, order_id)
    )


@router.post(
    "/orders/<order_id>/cancellations",
    summary="Cancel items",
    description="Canceled units leave what the order will capture. Without an "
    "`Idempotency-Key` each request is a new cancellation.",
    tags=TAGS,
    security=SECURITY,
    responses=_responses(OrderOut, "The order after the cancellation."),
)
def cancel_items(
    order_id: OrderIdPath, body: CancellationIn, idempotency_key: IdempotencyKeyHeader = None
) -> Response[str]:
    request = request_context(router)
    dependencies = request.dependencies

    def respond() -> StoredResponse:
        order = merchant_api.cancel_items(
            dependencies.repository,
            request.merchant_id,
            order_id,
            body.items,
            dependencies.clock,
        )
        if dependencies.providers is not None:
            # Canceling what was left may leave the order nothing to capture.
            providers = dependencies.providers
            releases.release_quietly(
                lambda: releases.release_remainder(
                    dependencies.repository, providers, order, dependencies.clock.now()
                ),
                log_release_error,
            )
        return StoredResponse(status_code=200, body=json_text(order_out(order)))

    return idempotent_response(request, idempotency_key, respond)
