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


def sweep_expiring_authorizations(
    repository: ExpiringOrders, publisher: EventPublisher, now: datetime, margin: timedelta
) -> list[ExpiringAuthorization]:
    """Warn (one event per order) about authorizations expiring before ``now + margin``."""
    warnings = [
        expiring_authorization(order)
        for order in repository.list_orders_expiring_before(now + margin)
        if order.capturable_amount > 0 or order.reserved_amount > 0
    ]
    if warnings:
        publisher.publish(
            AUTHORIZATION_EXPIRING, [authorization_expiring(warning) for warning in warnings]
        )
    return warnings
