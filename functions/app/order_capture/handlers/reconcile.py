"""Reconcile: on a schedule, settle captures left pending or requires_action."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture.adapters.providers import provider_for
from order_capture.config import settings
from order_capture.domain.reconciliation import DEFAULT_GRACE, reconcile_open_captures
from order_capture.handlers._wiring import default_repository, dump, lambda_entry
from order_capture.models import Capture
from order_capture.observability import logger, metrics
from order_capture.ports import Clock, OrderRepository, PaymentProvider, SystemClock


def _provider_of(capture: Capture) -> PaymentProvider:
    return provider_for(capture.provider, settings(), merchant_id=capture.merchant_id)


def handle(
    event: dict[str, Any],
    context: LambdaContext,
    repository: OrderRepository | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    grace_seconds = event.get("grace_seconds") if isinstance(event, dict) else None
    grace = timedelta(seconds=int(grace_seconds)) if grace_seconds is not None else DEFAULT_GRACE
    report = reconcile_open_captures(
        repository or default_repository(), _provider_of, (clock or SystemClock()).now(), grace
    )
    metrics.add_metric(name="CapturesReconciled", unit=MetricUnit.Count, value=report.confirmed)
    metrics.add_metric(name="CapturesReleased", unit=MetricUnit.Count, value=report.released)
    # Alarmed on: captures that still need a person or another run.
    metrics.add_metric(
        name="CapturesStillOpen",
        unit=MetricUnit.Count,
        value=report.still_open + report.unanswered + report.amount_mismatches,
    )
    logger.info("reconciliation finished", extra=report.model_dump())
    return dump(report)


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
