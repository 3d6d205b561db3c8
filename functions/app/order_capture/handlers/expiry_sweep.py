"""ExpirySweep: on a schedule, warn about authorizations about to expire uncaptured."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture.config import settings
from order_capture.domain.expiry import PAGE_SIZE, sweep_expiring_authorizations
from order_capture.observability import add_metric_by, logger, metrics
from order_capture.ports import Clock, EventPublisher, ExpiringOrders, SystemClock
from order_capture.wiring import default_publisher, default_repository, lambda_entry

#: A run stops reading the index with this much of its Lambda time left (one page takes a
#: Query, a BatchGetItem and a few conditional updates), and the next run carries on.
RESERVE_SECONDS = 20.0


def handle(
    event: dict[str, Any],
    context: LambdaContext,
    repository: ExpiringOrders | None = None,
    publisher: EventPublisher | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    if isinstance(event, dict) and "margin_hours" in event:
        hours = float(event["margin_hours"])
    else:
        hours = settings().authorization_expiry_margin_hours
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    report = sweep_expiring_authorizations(
        repository or default_repository(),
        publisher or default_publisher(),
        (clock or SystemClock()).now(),
        timedelta(hours=hours),
        seconds_left=(lambda: remaining() / 1000) if callable(remaining) else lambda: float("inf"),
        reserve_seconds=RESERVE_SECONDS,
        page_size=int(event.get("page_size", PAGE_SIZE)) if isinstance(event, dict) else PAGE_SIZE,
    )
    warnings = report.warnings
    metrics.add_metric(name="ExpiringAuthorizations", unit=MetricUnit.Count, value=len(warnings))
    for kind in ("unshipped", "shipped_uncaptured"):
        count = sum(1 for warning in warnings if warning.kind == kind)
        if count:
            add_metric_by("Kind", kind, "ExpiringAuthorizationsByKind", count)
    logger.info(
        "expiry sweep finished",
        extra={"expiring": len(warnings), "removed": report.removed, "complete": report.complete},
    )
    return {
        "expiring": len(warnings),
        "removed": report.removed,
        "pages": report.pages,
        "complete": report.complete,
        "orders": [warning.model_dump(mode="json") for warning in warnings],
    }


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
