"""What each capture-workflow task hands its Lambda function (the ASL's ``Parameters``), as
models: every handler parses its whole payload into one of these.

- Validate: the trigger (``capture_request_from``): an `Order Shipped` event, an API capture
  (``{"capture_request"}``) or the state sent back to plan again (``{"validated"}``).
- ComputeAmount: ``ComputeAmountStepInput``; Capture: ``CaptureStepInput``; Record:
  ``RecordStepInput``; AwaitConfirmation: ``AwaitConfirmationStepInput``.
- RecordFailure: ``RecordFailureStepInput``, whose ``state`` is whatever the workflow held
  when a step failed, with the caught ``{Error, Cause}``.
"""

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from order_capture.errors import InvalidEventError
from order_capture.models import (
    Capture,
    CaptureRequest,
    EventBridgeEnvelope,
    Model,
    OrderShippedDetail,
)
from order_capture.parsing import parse_as
from order_capture.public_events import PaymentCaptureFailed
from order_capture.workflow_state import PassedOn, StatePlanned, StateRequest, StateValidated

ORDER_SHIPPED = "Order Shipped"


class OrderShippedEvent(EventBridgeEnvelope):
    detail: OrderShippedDetail


#: The key of an API capture's input when ApiFunction hands over what it read (see
#: ``api_read_from``); an EventBridge event's top-level keys are EventBridge's own, so no event
#: can carry it.
READ_BY_API = "read_by_api"


def api_read_from(event: Any) -> StateValidated | None:
    """An API capture's ``{"read_by_api": ...}``: Validate's output as ApiFunction computed it
    from its own read of the order and the shipment's capture, just before it started the
    execution (one ledger read fewer per API capture). None for any other trigger."""
    if isinstance(event, dict) and READ_BY_API in event:
        return parse_as(StateValidated, event[READ_BY_API], prefix=READ_BY_API)
    return None


def capture_request_from(event: Any) -> CaptureRequest | StateRequest:
    """Validate's input: an `Order Shipped` EventBridge event, an API capture
    (``{"capture_request": ...}``), or the state of an execution sent back to plan again
    (``{"validated": {"request": ...}}``, items by line position)."""
    if not isinstance(event, dict):
        raise InvalidEventError("the event must be a JSON object", field="(root)")
    validated = event.get("validated") or event.get(READ_BY_API)
    if isinstance(validated, dict) and "request" in validated:
        return parse_as(StateRequest, validated["request"], prefix="validated.request")
    if "capture_request" in event:
        return parse_as(CaptureRequest, event["capture_request"], prefix="capture_request")
    if event.get("detail-type") != ORDER_SHIPPED:
        raise InvalidEventError(
            f"detail-type: expected {ORDER_SHIPPED!r}, got {event.get('detail-type')!r}",
            field="detail-type",
        )
    shipped = parse_as(OrderShippedEvent, event).detail
    return CaptureRequest(
        merchant_id=shipped.merchant_id,
        order_id=shipped.order_id,
        shipment_id=shipped.shipment_id,
        items=shipped.items,
        trigger="event",
    )


class ComputeAmountStepInput(Model):
    """``{"validated.$": "$.validated"}``: Validate's output."""

    validated: StateValidated


class CaptureStepInput(Model):
    """``{"planned.$": "$.validated", "execution_id.$": "$$.Execution.Id"}``: ComputeAmount's
    plan, or the shipment it found nothing to capture for (handed on)."""

    planned: StatePlanned | PassedOn
    execution_id: str | None = None


class RecordStepInput(Model):
    """``{"capture.$": "$.capture", "execution_id.$": "$$.Execution.Id"}``: the capture the
    Capture step made, or the shipment it handed on."""

    capture: Capture | PassedOn
    #: The execution running the step (None when invoked by hand: the capture's own).
    execution_id: str | None = None


class HandOverAnnouncementStepInput(Model):
    """``{"capture.$": "$.capture", "execution_id.$": "$$.Execution.Id", "abandoned": true}``:
    the capture Record was given (it gave up past its retries), to RecordFailureFunction."""

    capture: Capture | PassedOn
    execution_id: str | None = None
    abandoned: Literal[True]


class AwaitConfirmationStepInput(Model):
    """The confirmation workflow's ``lambda:invoke.waitForTaskToken`` Payload."""

    capture: Capture
    #: ``$$.Task.Token``: what SendTaskSuccess / SendTaskFailure name the wait by.
    task_token: str = Field(min_length=1, max_length=2048)


class StepError(BaseModel):
    """What a ``Catch`` puts at ``$.error``: the error's name and its cause (for a Lambda
    error, the JSON of ``errorType`` / ``errorMessage`` / ``stackTrace``)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    Error: str
    Cause: str | None = None

    def message(self) -> str:
        """The error's message: the cause's ``errorMessage``, or the cause itself."""
        cause = self.Cause or ""
        try:
            return str(json.loads(cause).get("errorMessage", cause))
        except (ValueError, AttributeError):
            return cause


class _HoldsRequest(BaseModel):
    """Validate's or ComputeAmount's output: whatever else it holds, its request."""

    model_config = ConfigDict(frozen=True, defer_build=True, extra="ignore")

    request: StateRequest


class FailedState(BaseModel):
    """The workflow's state when a step failed, as the ``Catch`` passes it on: what the
    workflow held at that point, and ``error``. Past Validate the state holds the request
    (``validated``); in the confirmation workflow, the ``capture`` it waited for; in Validate
    itself, the trigger as received (kept as is: it may be what failed)."""

    model_config = ConfigDict(frozen=True, defer_build=True, extra="allow")

    error: StepError
    validated: _HoldsRequest | PassedOn | None = None
    capture: Capture | None = None

    def failed_request(self) -> CaptureRequest | None:
        """Whose capture failed, as far as the state says (None: nobody's, it was invalid)."""
        if isinstance(self.validated, PassedOn):
            return self.validated.identity()
        if self.validated is not None:
            return self.validated.request.identity()
        if self.capture is not None:
            return self.capture.request()
        trigger = self.model_extra or {}
        try:
            request = capture_request_from(trigger)
        except InvalidEventError:
            return _shipment_named_by(trigger.get("detail"))
        return request.identity() if isinstance(request, StateRequest) else request


def _shipment_named_by(detail: Any) -> CaptureRequest | None:
    """An invalid `Order Shipped` may still say whose shipment it is: recorded there."""
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


class RecordFailureStepInput(Model):
    """``{"state.$": "$", "execution_id.$": "$$.Execution.Id"}``; the confirmation workflow
    adds ``"handed_over": true``: the webhook that failed the capture handed this workflow its
    announcement (it completed the wait instead of announcing), so it is announced whatever
    the ledger already says."""

    state: FailedState
    execution_id: str | None = None
    handed_over: bool = False


class RecordFailureStepOutput(Model):
    """RecordFailure's result (``$.failure``): the detail of `Payment Capture Failed`, and whether
    this execution announces it. Not when somebody else settled the capture: a webhook or
    reconciliation failed it (and announced it) first, a twin execution holds it, or it is a
    redelivered shipment that was captured; announcing then would tell the merchant twice,
    or that a captured shipment failed."""

    payment_capture_failed: PaymentCaptureFailed
    announce: bool
