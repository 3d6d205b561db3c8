"""The ledger's contract for a release that waits for captures in flight, on the DynamoDB
adapter (moto) and the in-memory ledger alike: a capture noted as one whose confirmation may
finish its order is confirmed only by a confirmer that knows it (domain.service._confirm then
confirms it as such and its confirmer releases; domain.releases)."""

from __future__ import annotations

from datetime import timedelta

from order_capture.models import (
    AuthorizationRelease,
    CaptureStatus,
    Order,
    ReleaseStatus,
    release_id_for,
)
from order_capture.ports import OrderRepository
from tests.integration import ledger_contract_support
from tests.integration.ledger_contract_support import (
    T0,
    new_order,
    pending_capture,
    reserved,
)

ledger = ledger_contract_support.ledger  # the fixture: each test runs on both ledgers


def test_defect_11_a_capture_a_release_waits_for_is_confirmed_only_as_one_that_may_finish(
    ledger: OrderRepository,
) -> None:
    # Given two captures of an order, one confirmed, one still in flight
    order = new_order()
    assert ledger.create_order(order) is None
    done, in_flight = pending_capture(order, "s1", 1000), pending_capture(order, "s2", 2000)
    assert ledger.reserve(reserved(order, done), order.version, done) is None
    twice = reserved(reserved(order, done), in_flight)
    assert ledger.reserve(twice, order.version + 1, in_flight) is None
    confirmed = done.model_copy(update={"status": CaptureStatus.CAPTURED, "updated_at": T0})
    assert ledger.confirm(confirmed)

    # When a release comes to wait for the order's captures in flight
    ledger.note_may_finish_order(order.merchant_id, order.order_id)

    # Then only the one in flight is noted, and a confirmer that does not know is refused
    # (nothing written), while one that does confirms it once
    noted = ledger.get_capture(order.merchant_id, order.order_id, in_flight.capture_id)
    settled = ledger.get_capture(order.merchant_id, order.order_id, done.capture_id)
    assert noted is not None and noted.may_finish_order and noted.status is CaptureStatus.PENDING
    assert settled is not None and not settled.may_finish_order
    unaware = in_flight.model_copy(update={"status": CaptureStatus.CAPTURED, "updated_at": T0})
    assert not ledger.confirm(unaware)
    stored = ledger.get_order(order.merchant_id, order.order_id)
    assert stored is not None and (stored.captured_amount, stored.reserved_amount) == (1000, 2000)
    aware = unaware.model_copy(update={"may_finish_order": True})
    assert ledger.confirm(aware)
    assert not ledger.confirm(aware)
    stored = ledger.get_order(order.merchant_id, order.order_id)
    assert stored is not None and (stored.captured_amount, stored.reserved_amount) == (3000, 0)


def release_of(order: Order, status: ReleaseStatus = ReleaseStatus.PENDING) -> AuthorizationRelease:
    return AuthorizationRelease(
        release_id=release_id_for(order.merchant_id, order.order_id),
        merchant_id=order.merchant_id,
        order_id=order.order_id,
        provider=order.payment.provider,
        authorization_reference=order.payment.reference,
        amount=500,
        currency=order.currency,
        status=status,
        attempts=1,
        created_at=T0,
        updated_at=T0,
    )


def test_a_release_is_stored_once_per_order_and_open_while_pending(
    ledger: OrderRepository,
) -> None:
    order = new_order()
    ledger.create_order(order)
    release = release_of(order)

    assert ledger.begin_release(release) is None
    second = ledger.begin_release(release.model_copy(update={"amount": 900}))

    assert second == release  # the first stands: nothing written
    assert ledger.get_release(order.merchant_id, order.order_id) == release
    assert ledger.list_open_releases(T0 + timedelta(seconds=1)) == [release]
    assert ledger.list_open_releases(T0) == []  # touched at T0, not before it


def test_a_release_is_settled_only_from_the_status_expected(ledger: OrderRepository) -> None:
    order = new_order()
    ledger.create_order(order)
    release = release_of(order)
    ledger.begin_release(release)
    released = release.model_copy(
        update={"status": ReleaseStatus.RELEASED, "updated_at": T0 + timedelta(minutes=1)}
    )

    assert ledger.update_release(released, ReleaseStatus.PENDING)
    assert not ledger.update_release(release, ReleaseStatus.PENDING)  # it moved on

    assert ledger.get_release(order.merchant_id, order.order_id) == released
    assert ledger.list_open_releases(T0 + timedelta(hours=1)) == []
    other = new_order("order-2002")
    assert not ledger.update_release(release_of(other), ReleaseStatus.PENDING)  # none stored
    assert ledger.get_release(other.merchant_id, other.order_id) is None


def test_a_pending_release_is_retried_only_from_the_attempt_read(ledger: OrderRepository) -> None:
    # Given a pending release at its first attempt, read by two reconciliation runs
    order = new_order()
    ledger.create_order(order)
    release = release_of(order)
    ledger.begin_release(release)
    retry = release.model_copy(
        update={"attempts": release.attempts + 1, "updated_at": T0 + timedelta(minutes=20)}
    )

    # When both count their retry from the attempt they read
    first = ledger.update_release(retry, ReleaseStatus.PENDING, expected_attempts=release.attempts)
    second = ledger.update_release(retry, ReleaseStatus.PENDING, expected_attempts=release.attempts)

    # Then only the first is written: the second run asks the provider nothing
    assert (first, second) == (True, False)
    assert ledger.get_release(order.merchant_id, order.order_id) == retry
