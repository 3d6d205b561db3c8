"""Reconcile: on a schedule, settle captures left pending or requires_action, refunds left
pending, and releases of authorizations' remainders left pending."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture.adapters.providers import ConfiguredProviders, provider_for
from order_capture.config import settings
from order_capture.domain import releases
from order_capture.domain.reconciled import HasTime, ReconciledItem, out_of_time
from order_capture.domain.reconciliation import DEFAULT_GRACE, reconcile_open_captures
from order_capture.domain.refund_reconciliation import reconcile_open_refunds
from order_capture.handlers.await_confirmation import default_waiters
from order_capture.models import AuthorizationRelease, Capture, Refund
from order_capture.observability import log_release_error, logger, metrics
from order_capture.ports import (
    Clock,
    ConfirmationWaiters,
    EventPublisher,
    PaymentProvider,
    PaymentProviders,
    ReconcileLedger,
    ReleaseLedger,
    SystemClock,
)
from order_capture.wiring import default_publisher, default_repository, dump, lambda_entry


def _provider_of(capture: Capture) -> PaymentProvider:
    return provider_for(capture.provider, settings(), merchant_id=capture.merchant_id)


def _log_capture_error(capture: Capture, error: Exception) -> None:
    logger.exception(
        "reconciliation could not settle a capture",
        extra={"capture_id": capture.capture_id, "order_id": capture.order_id},
        exc_info=error,
    )


def _log_refund_error(refund: Refund, error: Exception) -> None:
    logger.exception(
        "reconciliation could not settle a refund",
        extra={"refund_id": refund.refund_id, "order_id": refund.order_id},
        exc_info=error,
    )


def _release_after(
    ledger: ReleaseLedger,
    providers: PaymentProviders,
    item: ReconciledItem,
    now: datetime,
    has_time: HasTime | None = None,
) -> AuthorizationRelease | None:
    """``releases.release_after_capture`` of the capture ``item`` says reconciliation confirmed;
    with no time left, the release is only stored pending (the next run sends it)."""
    confirmed = ledger.get_capture(item.merchant_id, item.order_id, item.id)
    if confirmed is None:
        return None
    send = not out_of_time(has_time)
    return releases.release_after_capture(ledger, providers, confirmed, now, send=send)


#: A run starts no item with less than this left of its Lambda time: a provider call can take
#: its timeout on each of its attempts, and the metrics and the log must still be written.
RESERVE_SECONDS = 60.0
#: Of the time a run starts with (less the reserve), captures may take the first 60% and
#: refunds the next 20%: a provider that never answers cannot starve refunds and releases.
CAPTURES_SHARE, REFUNDS_SHARE = 0.6, 0.2


def _budget(context: LambdaContext) -> tuple[HasTime, HasTime, HasTime] | tuple[None, None, None]:
    """(captures, refunds, releases): whether each phase has time for one more item."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None, None, None

    def left() -> float:
        return float(remaining()) / 1000

    start = left()
    reserve = min(RESERVE_SECONDS, start / 5)  # a shorter Timeout keeps a fifth
    spare = start - reserve
    captures_until = reserve + spare * (1 - CAPTURES_SHARE)
    refunds_until = reserve + spare * (1 - CAPTURES_SHARE - REFUNDS_SHARE)
    return (
        lambda: left() > captures_until,
        lambda: left() > refunds_until,
        lambda: left() > reserve,
    )


def handle(
    event: dict[str, Any],
    context: LambdaContext,
    *,
    repository: ReconcileLedger | None = None,
    clock: Clock | None = None,
    providers: PaymentProviders | None = None,
    publisher: EventPublisher | None = None,
    waiters: ConfirmationWaiters | None = None,
) -> dict[str, Any]:
    grace_seconds = event.get("grace_seconds") if isinstance(event, dict) else None
    grace = timedelta(seconds=int(grace_seconds)) if grace_seconds is not None else DEFAULT_GRACE
    ledger = repository or default_repository()
    now = (clock or SystemClock()).now()
    items: list[ReconciledItem] = []
    captures_have_time, refunds_have_time, releases_have_time = _budget(context)
    report = reconcile_open_captures(
        ledger,
        _provider_of,
        now,
        grace,
        publisher=publisher or default_publisher(),
        waiters=waiters or default_waiters(),
        on_error=_log_capture_error,
        on_item=items.append,
        has_time=captures_have_time,
    )
    release_providers = providers or ConfiguredProviders(settings())
    for item in items:
        if item.kind == "capture" and item.outcome in {"confirmed", "announced"}:
            # Confirming it (here, or by a run or an operator that died after it) may have
            # left its order nothing to capture: the remainder goes (begin_release: once).
            releases.release_quietly(
                # Within the captures' share: a provider slow to release must not eat the
                # refunds' time nor the reserve (Lambda would kill the run).
                partial(_release_after, ledger, release_providers, item, now, captures_have_time),
                log_release_error,
            )
    refunds = reconcile_open_refunds(
        ledger,
        release_providers,
        now,
        grace,
        _log_refund_error,
        on_item=items.append,
        has_time=refunds_have_time,
    )
    released = releases.reconcile_releases(
        ledger,
        release_providers,
        now,
        grace,
        on_item=items.append,
        has_time=releases_have_time,
    )
    # Alarmed on: captures, refunds and releases whose settling raised (left for next run).
    metrics.add_metric(
        name="ReconciliationErrors",
        unit=MetricUnit.Count,
        value=report.errors + refunds.errors + released.errors,
    )
    metrics.add_metric(name="ReleasesSettled", unit=MetricUnit.Count, value=released.released)
    # Alarmed on: releases asked again and still not made (unanswered, or refused), and those
    # this run had no time to ask again (deferred, as for captures and refunds).
    metrics.add_metric(
        name="ReleasesStillOpen",
        unit=MetricUnit.Count,
        value=released.unreleased + released.deferred,
    )
    metrics.add_metric(name="CapturesReconciled", unit=MetricUnit.Count, value=report.confirmed)
    metrics.add_metric(name="CapturesReleased", unit=MetricUnit.Count, value=report.released)
    # Settled by an earlier run or an operator that died (or whose PutEvents failed) before
    # announcing: announced by this run.
    metrics.add_metric(name="CapturesAnnouncedLate", unit=MetricUnit.Count, value=report.announced)
    # Alarmed on: captures that still need a person or another run.
    metrics.add_metric(
        name="CapturesStillOpen",
        unit=MetricUnit.Count,
        value=report.still_open + report.unanswered + report.amount_mismatches + report.deferred,
    )
    metrics.add_metric(name="RefundsReconciled", unit=MetricUnit.Count, value=refunds.refunded)
    # Alarmed on: refunds still pending after this run (awaiting a webhook, or unsafe to resend).
    metrics.add_metric(
        name="RefundsStillOpen",
        unit=MetricUnit.Count,
        value=refunds.still_open + refunds.unanswered + refunds.deferred,
    )
    logger.info(
        "reconciliation finished",
        extra={
            **report.model_dump(),
            "refunds": refunds.model_dump(),
            "releases": released.model_dump(),
        },
    )
    for item in items:
        logger.info("reconciled", extra=dump(item))
    return {
        **dump(report),
        "refunds": dump(refunds),
        "releases": dump(released),
        "items": [dump(item) for item in items],
    }


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
