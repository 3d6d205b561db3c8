"""Record: confirm a capture in the ledger, or record a failure and release its reservation."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from order_capture import errors
from order_capture.config import settings
from order_capture.domain import releases, service
from order_capture.handlers._wiring import (
    default_providers,
    default_repository,
    dump,
    lambda_entry,
    log_keys_of,
)
from order_capture.handlers.validate import capture_request_from
from order_capture.models import Capture, CaptureRequest, OrderShippedDetail
from order_capture.observability import add_metric_by, log_release_error, logger, metrics
from order_capture.parsing import parse_as
from order_capture.ports import (
    Clock,
    EventPublisher,
    OrderRepository,
    PaymentProviders,
    SystemClock,
)
from order_capture.workflow_state import StateRequest


@cache
def default_publisher() -> EventPublisher:
    """Payment Captured goes to the bus the template names; the client is built on first use."""
    from order_capture.adapters.eventbridge import EventBridgePublisher  # noqa: PLC0415

    return EventBridgePublisher(settings().event_bus_name)


def handle_success(
    event: dict[str, Any],
    context: LambdaContext,
    repository: OrderRepository | None = None,
    clock: Clock | None = None,
    publisher: EventPublisher | None = None,
    *,
    providers: PaymentProviders | None = None,
) -> dict[str, Any]:
    capture = parse_as(Capture, event.get("capture"), prefix="capture")
    log_keys_of(capture, capture.execution_id)
    ledger = repository or default_repository()
    now = (clock or SystemClock()).now()
    recorded = service.record_and_announce(
        ledger,
        publisher or default_publisher(),
        capture,
        now,
        execution_id=event.get("execution_id"),
    )
    releases.release_quietly(
        lambda: releases.release_after_capture(
            ledger, providers or default_providers(), recorded, now
        ),
        log_release_error,
    )
    metrics.add_metric(name="Captures", unit=MetricUnit.Count, value=1)
    # Amounts only add up within one currency, so the amount metric is per currency.
    add_metric_by("Currency", recorded.currency, "CapturedAmount", recorded.amount, money=True)
    logger.info(
        "capture recorded", extra={"capture_id": recorded.capture_id, "amount": recorded.amount}
    )
    return dump(recorded)


def error_reason(error_type: str) -> str:
    """The ledger's reason for a Step Functions error name (our class names, or States.*)."""
    error_class = getattr(errors, error_type, None)
    if isinstance(error_class, type) and issubclass(error_class, errors.OrderCaptureError):
        return error_class.reason
    if error_type.startswith("States.Timeout"):
        return "timeout"
    return "internal_error"


def _request_of(state: dict[str, Any]) -> CaptureRequest | None:
    """Whose capture failed, as far as the (possibly invalid) input says."""
    validated = state.get("validated")
    if isinstance(validated, dict) and "request" in validated:
        return StateRequest.model_validate(validated["request"]).identity()
    if isinstance(state.get("capture"), dict):
        # The confirmation workflow: the capture the provider failed to confirm.
        return parse_as(Capture, state["capture"], prefix="capture").request()
    try:
        request = capture_request_from(state)
    except errors.InvalidEventError:
        pass
    else:
        return request.identity() if isinstance(request, StateRequest) else request
    # The event is invalid, but if it still says whose shipment it is, record it there.
    detail = state.get("detail")
    if not isinstance(detail, dict):
        return None
    try:
        identity = OrderShippedDetail.model_validate(
            {key: detail.get(key) for key in ("merchant_id", "order_id", "shipment_id")}
        )
    except ValidationError:
        return None
    return CaptureRequest(
        merchant_id=identity.merchant_id,
        order_id=identity.order_id,
        shipment_id=identity.shipment_id,
    )


def _message_of(error: dict[str, Any]) -> str:
    cause = error.get("Cause") or ""
    try:
        return str(json.loads(cause).get("errorMessage", cause))
    except (ValueError, AttributeError):
        return str(cause)


def handle_failure(
    event: dict[str, Any],
    context: LambdaContext,
    repository: OrderRepository | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    state = event.get("state") or {}
    error = state.get("error") or {}
    error_type = str(error.get("Error", "Unknown"))
    execution_id = event.get("execution_id")
    request = _request_of(state)
    log_keys_of(request, execution_id)
    failure = service.record_failure(
        repository or default_repository(),
        request=request,
        error_type=error_type,
        error_reason=error_reason(error_type),
        message=_message_of(error),
        execution_id=execution_id,
        now=(clock or SystemClock()).now(),
    )
    metrics.add_metric(name="CaptureFailures", unit=MetricUnit.Count, value=1)
    add_metric_by("Reason", failure.reason, "CaptureFailuresByReason", 1)
    logger.warning("capture failed", extra={"reason": failure.reason, "error": error_type})
    return dump(failure)


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_success(event, context)


@lambda_entry
def failure_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_failure(event, context)
