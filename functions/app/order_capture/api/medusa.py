"""The Medusa dialect: ``POST /admin/orders/{id}/capture`` ("Capture an Order's Payments").

Captures everything the order still has to capture (through the capture state machine) and
returns ``{"order": Order}`` in Medusa's Order shape (api/medusa_objects.py, mapped in
api/medusa_order.py).
Authenticated as Medusa v1's admin API is: ``x-medusa-access-token: <key>`` (what medusa-js
sends for its ``apiKey``) or ``Authorization: Bearer <key>``.

Query: ``expand`` (comma-separated relations; default all of them) and ``fields``
(comma-separated order fields; default all; ``id`` always included), as Medusa's
``getRetrieveConfig`` does.

Errors: ``{"type", "code", "message", "field"}`` as Medusa's error handler writes them: 400
``invalid_data``, 401 ``unauthorized``, 404 ``not_found``, 409 ``conflict`` /
``invalid_state_error`` (nothing left to capture), 422 ``payment_authorization_error`` /
``invalid_request_error`` (over-capture, declined, expired), 502 ``unexpected_state`` with
the reason as code (``provider_not_configured``, ``outcome_unknown``: the provider failed us),
500/503 ``unknown_error``.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

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
from order_capture.api.medusa_objects import RELATIONS, SCALAR_FIELDS, MedusaOrder
from order_capture.api.medusa_order import is_canceled, medusa_order
from order_capture.domain import merchant_api, refunds
from order_capture.models import Capture, CaptureRequest, Order

router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ untyped
TAGS = ["Medusa"]

# --- Bodies out --------------------------------------------------------------------------------


class OrderResponse(ResponseModel):
    order: MedusaOrder


class MedusaError(ResponseModel):
    type: str
    message: str
    code: str | None = None
    field: str | None = None


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
    errors.CaptureNotFoundAtProviderError: 409,
    problems.PayloadTooLargeError: 413,
    problems.UnsupportedMediaTypeError: 415,
    errors.OverCaptureError: 422,
    errors.AuthorizationExpiredError: 422,
    errors.ProviderDeclinedError: 422,
    problems.IdempotencyKeyReusedError: 422,
    errors.ProviderError: 502,
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
    if isinstance(problem.error, problems.NotAllowedError):
        error_type, code = "not_allowed", None
    if problem.status == 502:
        # The payment provider failed us (not configured, an answer lost): Medusa's
        # unexpected_state, with our reason as the code so a client can tell which.
        error_type, code = "unexpected_state", problem.reason
    message = "Unauthorized" if problem.status == 401 else problem.message
    # The route names the order ``id`` (``/admin/orders/{id}/capture``), as Medusa does.
    field = "id" if problem.field == "order_id" else problem.field
    return MedusaError(type=error_type, code=code, message=message, field=field).model_dump(
        exclude_none=True
    )


ERROR_RESPONSES: dict[int, Any] = {
    status: {"description": description, "content": {"application/json": {"model": MedusaError}}}
    for status, description in {
        400: "Client Error or Multiple Errors",
        401: "User is not authorized. Must log in first",
        404: "Not Found Error",
        409: "Invalid State Error",
        413: "The body is over 256 KiB",
        415: "Unsupported content type",
        422: "Invalid Request Error",
        500: "Server Error",
        503: "Retry later: provider or ledger unavailable, or the capture's outcome is unknown",
    }.items()
}

OrderIdPath = Annotated[
    str, Path(pattern=IDENTIFIER_PATTERN, min_length=1, max_length=128, description="Order ID.")
]


@router.post(
    "/admin/orders/<id>/capture",
    summary="Capture an Order's Payments",
    description="Captures everything the order still has to capture. Safe without an "
    "`Idempotency-Key`: as Medusa's, a repeat captures nothing more and answers the order "
    "(200); a canceled order is 400 `not_allowed`; 409 while another capture of the order is "
    "in flight.",
    tags=TAGS,
    security=[{"bearer": []}, {"medusa_token": []}],
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
        # The order as the 200 answers it: read after the capture, or once by the refusal.
        read: tuple[Order, list[Capture]] | None = None
        try:
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
                money_only=True,
            )
        except errors.InvalidStateError:
            # Medusa's capturePayment skips what is captured and answers the order (200), and
            # refuses a canceled order (400 not_allowed); its 409 is a conflict with another
            # request, retried by medusa-js: kept for a capture still in flight.
            read = merchant_api.order_with_captures(
                dependencies.repository, request.merchant_id, id
            )
            finished = read[0]
            if finished.reserved_amount or merchant_api.remaining_capture_amount(finished):
                raise
            if is_canceled(finished):
                raise problems.NotAllowedError(
                    "A canceled order cannot capture payment", field="order_id"
                ) from None
        order, captures = read or merchant_api.order_with_captures(
            dependencies.repository, request.merchant_id, id
        )
        by_capture = refunds.refunds_by_capture(dependencies.repository, request.merchant_id, id)
        order_refunds = [refund for each in by_capture.values() for refund in each]
        body = {"order": select(medusa_order(order, captures, order_refunds), expand, fields)}
        return StoredResponse(status_code=200, body=json_text(body))

    return idempotent_response(request, idempotency_key, respond)
