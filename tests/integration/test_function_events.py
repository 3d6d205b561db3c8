"""events/: per function, the payload it really receives, parsed into the handler's input
model; and the tour of every function with them against a local stack (the one
`make sam-local` runs in Docker), here with the handlers in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    ApiGatewayAuthorizerRequest,
    APIGatewayProxyEventModel,
    EventBridgeModel,
)
from pydantic import BaseModel

from order_capture.adapters.adyen import verify_notification
from order_capture.api.webhooks import Notification
from order_capture.handlers.order_events import OrderItemsCanceledEvent, OrderPlacedEvent
from order_capture.step_payloads import (
    AwaitConfirmationStepInput,
    CaptureStepInput,
    ComputeAmountStepInput,
    OrderShippedEvent,
    RecordFailureStepInput,
    RecordStepInput,
)
from order_capture_local import function_events, stack_client
from order_capture_local.function_events import ADYEN_FIXTURE_HMAC_KEY, EVENTS, TOUR
from order_capture_local.template import load_template
from tests.integration.stack_support import Stack

pytestmark = pytest.mark.slow(20)  # seconds of CPU: scheduled first (conftest.py)

ROOT = Path(__file__).resolve().parents[2]

#: Each event file and how its handler reads it: (model, the part of the event it parses).
INPUT_MODELS: dict[str, tuple[type[BaseModel], str | None]] = {
    "order-placed.json": (OrderPlacedEvent, None),
    "order-shipped-1.json": (OrderShippedEvent, None),
    "order-items-canceled.json": (OrderItemsCanceledEvent, None),
    "steps/compute-amount.json": (ComputeAmountStepInput, None),
    "steps/capture.json": (CaptureStepInput, None),
    "steps/record.json": (RecordStepInput, None),
    "steps/await-confirmation.json": (AwaitConfirmationStepInput, None),
    "steps/record-failure.json": (RecordFailureStepInput, None),
    "api/authorizer-native-create-capture.json": (ApiGatewayAuthorizerRequest, None),
    "api/put-order.json": (APIGatewayProxyEventModel, None),
    "api/native-create-capture.json": (APIGatewayProxyEventModel, None),
    "api/native-list-captures.json": (APIGatewayProxyEventModel, None),
    "api/medusa-capture.json": (APIGatewayProxyEventModel, None),
    "api/omnitron-capture-order.json": (APIGatewayProxyEventModel, None),
    "api/webhook-adyen-capture.json": (APIGatewayProxyEventModel, None),
    "schedules/reconcile.json": (EventBridgeModel, None),
    "schedules/expiry-sweep.json": (EventBridgeModel, None),
}


def _part(event: Any, path: str | None) -> Any:
    for key in (path or "").split(".") if path else []:
        event = event[key]
    return event


@pytest.mark.parametrize("name", sorted(INPUT_MODELS))
def test_each_event_parses_into_its_handlers_input_model(name: str) -> None:
    model, path = INPUT_MODELS[name]
    model.model_validate(_part(json.loads((EVENTS / name).read_text()), path))


def test_every_function_of_the_template_has_an_event_and_every_event_a_model() -> None:
    template = load_template(ROOT / "template.yaml")
    toured = {visit.function for visit in TOUR}
    # OrderEventsFunction's Order Placed is put on the stack before the tour.
    assert toured == set(template.functions)
    assert {visit.event for visit in TOUR} | {"order-placed.json"} == set(INPUT_MODELS)


def test_the_failure_step_carries_the_error_as_step_functions_catches_it() -> None:
    state = json.loads((EVENTS / "steps/record-failure.json").read_text())["state"]
    assert set(state["error"]) == {"Error", "Cause"}
    assert json.loads(state["error"]["Cause"])["errorType"] == state["error"]["Error"]


def test_the_webhook_event_is_an_adyen_notification_signed_with_the_fixture_key() -> None:
    event = json.loads((EVENTS / "api/webhook-adyen-capture.json").read_text())
    notification = Notification.model_validate_json(event["body"])
    for item in notification.notificationItems:
        assert verify_notification(item.NotificationRequestItem, ADYEN_FIXTURE_HMAC_KEY)


def test_api_events_name_the_routes_of_the_template() -> None:
    from order_capture_local.api_server import api_routes

    routes = {(route.method, route.path) for route in api_routes(ROOT / "template.yaml")}
    for name in INPUT_MODELS:
        if name.startswith("api/"):
            event = json.loads((EVENTS / name).read_text())
            assert (event["httpMethod"], event["resource"]) in routes, name


@pytest.fixture
def fresh_stack(tmp_path: Path) -> Iterator[Stack]:
    running = Stack(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def test_every_function_answers_its_events_on_a_local_stack(fresh_stack: Stack) -> None:
    info = fresh_stack.info
    api_key = function_events.prepare_stack(info)
    lines: list[str] = []
    problems = function_events.run_tour(
        function_events.invoke_in_process(info), api_key, lines.append
    )
    assert problems == [], "\n".join(lines)
    # The sample Payment Captured has the shape of what the workflows emit.
    emitted = stack_client._local_route(info, "/_local/emitted")["emitted"]
    captured = [e["detail"] for e in emitted if e["detail-type"] == "Payment Captured"]
    sample = json.loads((EVENTS / "payment-captured.json").read_text())["detail"]
    assert captured
    assert all(set(detail) == set(sample) for detail in captured)
