"""What every Lambda entry point (the step handlers and the API) shares: Powertools
instrumentation and the collaborators built lazily, once per container."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture import cold_start_done, tracing
from order_capture.config import settings
from order_capture.models import Model
from order_capture.observability import logger, metrics
from order_capture.ports import EventPublisher, OrderRepository, PaymentProviders

Handler = Callable[[dict[str, Any], LambdaContext], Any]

#: Lambda context keys Powertools puts on every line that say nothing the line's log group
#: (one per function, named for it) and Lambda's REPORT line (its memory size) do not: about
#: 150 bytes a line on AWS, a third of the happy path's log bytes (BENCHMARKS.md, logs). The
#: request id (joins a line to its REPORT) and cold_start stay.
REDUNDANT_CONTEXT_KEYS = ["function_name", "function_arn", "function_memory_size"]


def lambda_entry(handler: Handler) -> Handler:
    """Wrap a handler in Logger (JSON, Lambda context without ``REDUNDANT_CONTEXT_KEYS``),
    Metrics and a traced ``handler`` subsegment (``tracing``: annotated with the ids
    ``log_keys_of`` puts on the logs)."""
    name = f"## {handler.__module__.rsplit('.', 1)[-1]}.{handler.__name__}"

    @wraps(handler)
    def traced(event: dict[str, Any], context: LambdaContext) -> Any:
        logger.remove_keys(REDUNDANT_CONTEXT_KEYS)
        with tracing.subsegment(name):
            return handler(event, context)

    instrumented = logger.inject_lambda_context(metrics.log_metrics(traced), clear_state=True)

    @wraps(handler)
    def entry(event: dict[str, Any], context: LambdaContext) -> Any:
        try:
            return instrumented(event, context)
        finally:
            # The first invocation's clients and validators are built: the collector resumes
            # (order_capture/__init__.py).
            cold_start_done()

    return entry


@cache
def default_repository() -> OrderRepository:
    """The DynamoDB ledger, created on first use and kept for the container's life."""
    from order_capture.adapters.dynamodb import DynamoDBOrderRepository  # noqa: PLC0415

    return DynamoDBOrderRepository(settings().table_name)


@cache
def default_publisher() -> EventPublisher:
    """The service's events go to the bus the template names; the client is built on first
    use."""
    from order_capture.adapters.eventbridge import EventBridgePublisher  # noqa: PLC0415

    return EventBridgePublisher(settings().event_bus_name)


def log_keys_of(model: Model | None, execution_id: str | None = None) -> None:
    """Put merchant, order, shipment and capture ids (and the execution) on every log line,
    and on the handler's X-Ray subsegment as annotations (searchable: ``annotation.order_id``)."""
    if model is not None:
        keys = model.model_dump(include={"merchant_id", "order_id", "shipment_id"})
        # A field of a capture, a property of a request (derived from its three ids).
        keys["capture_id"] = getattr(model, "capture_id", None)
        keys = {key: value for key, value in keys.items() if value is not None}
        logger.append_keys(**keys)
        tracing.annotate(**keys)
    if execution_id:
        logger.set_correlation_id(execution_id)


def dump(model: Model) -> dict[str, Any]:
    return model.model_dump(mode="json")


def default_providers() -> PaymentProviders:
    """The providers the settings configure (steps that release an order's remainder:
    domain.releases); adapters are built, and credentials read, on first use."""
    from order_capture.adapters.providers import ConfiguredProviders  # noqa: PLC0415

    return ConfiguredProviders(settings())
