"""`Order Placed` and `Order Items Canceled` events: keep the ledger's orders current."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture.config import settings
from order_capture.domain import releases, service
from order_capture.errors import InvalidEventError
from order_capture.models import EventBridgeEnvelope, OrderItemsCanceledDetail, OrderPlacedDetail
from order_capture.observability import log_release_error
from order_capture.parsing import parse_as
from order_capture.ports import Clock, OrderEventsLedger, PaymentProviders, SystemClock
from order_capture.wiring import default_providers, default_repository, lambda_entry, log_keys_of
from order_capture.workflow_state import order_summary


class OrderPlacedEvent(EventBridgeEnvelope):
    detail: OrderPlacedDetail


class OrderItemsCanceledEvent(EventBridgeEnvelope):
    detail: OrderItemsCanceledDetail


def handle(
    event: dict[str, Any],
    context: LambdaContext,
    repository: OrderEventsLedger | None = None,
    clock: Clock | None = None,
    *,
    providers: PaymentProviders | None = None,
) -> dict[str, Any]:
    repository = repository or default_repository()
    clock = clock or SystemClock()
    detail_type = event.get("detail-type") if isinstance(event, dict) else None
    if detail_type == "Order Placed":
        placed = parse_as(OrderPlacedEvent, event).detail
        log_keys_of(placed)
        return order_summary(service.register_order(repository, placed, clock))
    if detail_type == "Order Items Canceled":
        canceled = parse_as(OrderItemsCanceledEvent, event).detail
        log_keys_of(canceled)
        order = service.cancel_items(repository, canceled, clock)
        ledger = repository
        # Canceling what was left may leave the order nothing to capture: its remainder goes.
        releases.release_quietly(
            lambda: releases.release_remainder(
                ledger, providers or default_providers(), order, clock.now()
            ),
            log_release_error,
        )
        return order_summary(order)
    raise InvalidEventError(
        f"detail-type: expected 'Order Placed' or 'Order Items Canceled', got {detail_type!r}",
        field="detail-type",
    )


#: How long a delivered event id is remembered; EventBridge retries for at most 24 hours.
EVENT_ID_MEMORY_SECONDS = 7 * 24 * 3600


@cache
def _handle_each_event_once() -> tuple[Callable[..., dict[str, Any]], Any]:
    """``handle`` behind Powertools Idempotency keyed on the EventBridge event id.

    EventBridge delivers at least once: registering twice is harmless, but canceling the same
    units twice is not. Built on first use, so importing the module creates no client.
    """
    from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(
        table_name=settings().table_name, key_attr="PK", sort_key_attr="SK"
    )
    config = IdempotencyConfig(
        event_key_jmespath="id",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=EVENT_ID_MEMORY_SECONDS,
    )
    handle_once = idempotent_function(
        data_keyword_argument="event", persistence_store=persistence, config=config
    )(handle)
    return handle_once, config


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    handle_once, config = _handle_each_event_once()
    config.register_lambda_context(context)
    return handle_once(event=event, context=context)
