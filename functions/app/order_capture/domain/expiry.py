"""Authorization expiry: warn before an authorization lapses with money still uncaptured.

Authorizations expire (card schemes release them after about 7 days, BNPL providers set their
own limits); a capture after that fails with AuthorizationExpiredError. The sweep finds the
orders that still have something to capture and expire within a margin, and says which kind
of trouble each is in:

* ``unshipped``: units not yet shipped (or canceled): the shop must ship or cancel them;
* ``shipped_uncaptured``: everything is shipped but a capture is still in flight or waiting
  for a person (reserved amount): reconciliation or support must settle it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from order_capture.models import Model, Order
from order_capture.ports import EventPublisher, ExpiringOrders
from order_capture.public_events import AuthorizationExpiring, authorization_expiring

AUTHORIZATION_EXPIRING = AuthorizationExpiring.detail_type


class ExpiringAuthorization(Model):
    """An order whose authorization expires soon (``public_events.AuthorizationExpiring`` is
    what the event says of it)."""

    merchant_id: str
    order_id: str
    provider: str
    authorization_reference: str
    expires_at: datetime
    kind: Literal["unshipped", "shipped_uncaptured"]
    capturable_amount: int
    reserved_amount: int
    currency: str


def expiring_authorization(order: Order) -> ExpiringAuthorization:
    unshipped = any(line.open_quantity > 0 for line in order.lines)
    return ExpiringAuthorization(
        merchant_id=order.merchant_id,
        order_id=order.order_id,
        provider=order.payment.provider,
        authorization_reference=order.payment.reference,
        expires_at=order.payment.expires_at,
        kind="unshipped" if unshipped else "shipped_uncaptured",
        capturable_amount=order.capturable_amount,
        reserved_amount=order.reserved_amount,
        currency=order.currency,
    )


#: Orders read per page of the index (one Query and one BatchGetItem of 3 items each).
PAGE_SIZE = 30


class SweepReport(Model):
    """One run of the sweep: what it warned about, what it took out of the index, and
    whether it got to the end of the index (else the next run carries on from there)."""

    warnings: list[ExpiringAuthorization]
    removed: int = 0
    pages: int = 0
    complete: bool = True


def is_stale(order: Order, now: datetime) -> bool:
    """An index entry nothing can come of: nothing left to capture nor in flight (captured,
    canceled), or an authorization already expired with nothing in flight (any capture now
    fails AuthorizationExpiredError; its warnings went out while it was about to expire)."""
    if order.reserved_amount > 0:
        return False
    return order.capturable_amount <= 0 or order.payment.expires_at <= now


def sweep_expiring_authorizations(
    repository: ExpiringOrders,
    publisher: EventPublisher,
    now: datetime,
    margin: timedelta,
    *,
    seconds_left: Callable[[], float] = lambda: float("inf"),
    reserve_seconds: float = 0.0,
    page_size: int = PAGE_SIZE,
) -> SweepReport:
    """Warn (one event per order) about authorizations expiring before ``now + margin``, a
    page of the index at a time, and take stale entries out of the index. It stops before
    ``seconds_left()`` falls under ``reserve_seconds`` (the Lambda's remaining time) and the
    next run carries on where it stopped, so a run costs at most what its time allows,
    however many orders are open."""
    cursor = repository.sweep_cursor()
    warned: list[ExpiringAuthorization] = []
    removed = pages = 0
    complete = False
    while not complete and seconds_left() >= reserve_seconds:
        orders, cursor = repository.expiring_orders_page(now + margin, cursor, page_size)
        pages += 1
        warnings = []
        for order in orders:
            if is_stale(order, now):
                removed += repository.leave_expiry_index(order)
            else:
                warnings.append(expiring_authorization(order))
        if warnings:
            publisher.publish(
                AUTHORIZATION_EXPIRING, [authorization_expiring(warning) for warning in warnings]
            )
            warned.extend(warnings)
        complete = cursor is None
    repository.save_sweep_cursor(cursor)
    return SweepReport(warnings=warned, removed=removed, pages=pages, complete=complete)
