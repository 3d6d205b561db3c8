"""Releasing the remainder of an authorization when the order's last captures are in flight
together, or its rest canceled while one is (issue 11): whichever step sees the order capture
nothing more releases the rest once, and a release left waiting is closed once the
authorization expired with nothing in flight."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from order_capture.domain import failures, releases, service
from order_capture.errors import CaptureOutcomeUnknownError
from order_capture.models import (
    AuthorizationRelease,
    Capture,
    ReleaseStatus,
)
from order_capture_local.memory_ledger import MemoryLedger
from tests.factories import EXAMPLE_ORDER_TOTAL
from tests.unit.release_support import (
    AUTHORIZED,
    MERCHANT,
    NOW,
    ORDER,
    ReleasingProvider,
    cancel,
    registered,
    reserve,
    ship,
)


def test_defect_11_last_captures_in_flight_together_the_one_confirmed_last_releases_once() -> None:
    # Given two shipments in flight together, the second closing every unit: neither was sent
    # as final (the other was in flight when the second was reserved)
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger)
    first = reserve(ledger, provider, "s-1", [("line-1", 3)])
    second = reserve(ledger, provider, "s-2")
    assert not first.releases_authorization and not second.releases_authorization

    # When the first is recorded, then the second (reserved with the first in flight)
    recorded_first = service.record_capture(ledger, first, NOW)
    assert releases.release_after_capture(ledger, provider, recorded_first, NOW) is None
    recorded_second = service.record_capture(ledger, second, NOW)
    released = releases.release_after_capture(ledger, provider, recorded_second, NOW)
    again = releases.release_after_capture(ledger, provider, recorded_second, NOW)

    # Then the one confirmed last releases what the authorization has left, once
    assert released is not None and released.status is ReleaseStatus.RELEASED
    assert (released.amount, released.attempts) == (AUTHORIZED - EXAMPLE_ORDER_TOTAL, 1)
    assert again == released
    assert [r.remaining_amount for r in provider.released] == [AUTHORIZED - EXAMPLE_ORDER_TOTAL]


def test_defect_11_a_waiting_release_whose_capture_failed_waits_for_the_next_one() -> None:
    # Given the order closed by a shipment while an earlier one was in flight
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger)
    first = reserve(ledger, provider, "s-1", [("line-1", 3)])
    second = service.record_capture(ledger, reserve(ledger, provider, "s-2"), NOW)
    assert releases.release_after_capture(ledger, provider, second, NOW) is not None

    # When the earlier one fails (its units capturable again), reconciliation sends nothing
    failures.record_failure(
        ledger,
        request=first.request(),
        error_type="ProviderDeclinedError",
        error_reason="provider_declined",
        message="declined",
        execution_id="exec-s-1",
        now=NOW,
    )
    assert releases.reconcile_releases(ledger, provider, NOW + timedelta(hours=1)).released == 0
    assert provider.released == []

    # Then the shipment that ships those units again finishes the order and releases the rest
    last = ship(ledger, provider, "s-3", [("line-1", 3)])
    released = releases.release_after_capture(ledger, provider, last, NOW)

    assert last.releases_authorization
    assert released is not None and released.status is ReleaseStatus.RELEASED
    assert [r.remaining_amount for r in provider.released] == [AUTHORIZED - EXAMPLE_ORDER_TOTAL]


@pytest.mark.parametrize("provider_name", ["stripe", "sandbox"])
def test_defect_11_captures_in_flight_together_at_stripe_cancel_the_rest_once(
    provider_name: str,
) -> None:
    # At a provider whose final capture releases the rest, no capture was sent final here:
    # the intent keeps the rest capturable, so it is released by cancellation.
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger, provider=provider_name)
    first = reserve(ledger, provider, "s-1", [("line-1", 3)])
    second = reserve(ledger, provider, "s-2")
    assert [call.final_capture for call in provider.captures] == [False, False]

    service.record_capture(ledger, first, NOW)
    recorded = service.record_capture(ledger, second, NOW)
    released = releases.release_after_capture(ledger, provider, recorded, NOW)

    assert released is not None and released.status is ReleaseStatus.RELEASED
    assert [r.remaining_amount for r in provider.released] == [AUTHORIZED - EXAMPLE_ORDER_TOTAL]


def test_defect_11_an_api_capture_of_the_rest_by_amount_is_final_and_releases_the_rest() -> None:
    # Given an order partly captured by amount (the native and Aplazame dialects)
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger)
    first = service.record_capture(ledger, reserve(ledger, provider, "api-1", amount=4000), NOW)
    assert releases.release_after_capture(ledger, provider, first, NOW) is None

    # When the rest is captured by amount
    rest = EXAMPLE_ORDER_TOTAL - 4000
    last = service.record_capture(ledger, reserve(ledger, provider, "api-2", amount=rest), NOW)
    released = releases.release_after_capture(ledger, provider, last, NOW)

    # Then it was sent as the final capture and the authorization's rest is released once
    assert last.releases_authorization
    assert [call.final_capture for call in provider.captures] == [False, True]
    assert released is not None and released.status is ReleaseStatus.RELEASED
    assert [r.remaining_amount for r in provider.released] == [AUTHORIZED - EXAMPLE_ORDER_TOTAL]


def test_defect_11_a_capture_by_amount_of_the_whole_authorization_is_final() -> None:
    # An authorization below the order's total: capturing all of it leaves nothing to capture
    # (nothing to release either), so the provider is told it is the last capture.
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger, authorized=EXAMPLE_ORDER_TOTAL - 171)
    last = service.record_capture(
        ledger, reserve(ledger, provider, "api-1", amount=EXAMPLE_ORDER_TOTAL - 171), NOW
    )

    assert last.releases_authorization
    assert [call.final_capture for call in provider.captures] == [True]
    assert releases.release_after_capture(ledger, provider, last, NOW) is None
    assert provider.released == []


def test_defect_11_the_rest_canceled_while_a_capture_is_in_flight_is_released_once_after_it() -> (
    None
):
    # Given a shipment in flight, then the rest of the order canceled: nothing to release yet
    # (the shipment may still fail and give its units back), so the release waits
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger)
    in_flight = reserve(ledger, provider, "s-1", [("line-1", 3)])
    waiting = releases.release_remainder(ledger, provider, cancel(ledger, [("line-2", 2)]), NOW)
    assert waiting is not None and waiting.status is ReleaseStatus.WAITING
    assert provider.released == []

    # When the shipment is recorded, and reconciliation runs
    service.record_capture(ledger, in_flight, NOW)
    report = releases.reconcile_releases(ledger, provider, NOW + timedelta(hours=1))

    # Then the order can capture nothing more, and its authorization's rest went, once
    stored = ledger.get_order(MERCHANT, ORDER)
    released = ledger.get_release(MERCHANT, ORDER)
    assert stored is not None and report.released == 1
    assert released is not None and released.status is ReleaseStatus.RELEASED
    assert released.amount == AUTHORIZED - stored.captured_amount
    assert [r.remaining_amount for r in provider.released] == [released.amount]


# --- Released as soon as the ledger proves the order finished (issue 11, out of order) -------


def test_defect_11_a_capture_reserved_alone_confirmed_after_the_order_closed_releases_at_once() -> (
    None
):
    # Given the shipment reserved last (closing the order) confirmed first: its Record finds
    # the first, reserved alone, still in flight and stores the release waiting
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger)
    first = reserve(ledger, provider, "s-1", [("line-1", 3)])
    second = service.record_capture(ledger, reserve(ledger, provider, "s-2"), NOW)
    waiting = releases.release_after_capture(ledger, provider, second, NOW)
    assert waiting is not None and waiting.status is ReleaseStatus.WAITING
    assert not first.may_finish_order

    # When the first is confirmed (its Record's payload says it was reserved alone)
    recorded_first = service.record_capture(ledger, first, NOW)
    released = releases.release_after_capture(ledger, provider, recorded_first, NOW)

    # Then its confirmer releases the rest at once, once, with no reconciliation run
    assert released is not None and released.status is ReleaseStatus.RELEASED
    assert (released.amount, released.attempts) == (AUTHORIZED - EXAMPLE_ORDER_TOTAL, 1)
    assert releases.release_after_capture(ledger, provider, recorded_first, NOW) == released
    assert releases.reconcile_releases(ledger, provider, NOW + timedelta(hours=1)).examined == 0
    assert [r.remaining_amount for r in provider.released] == [AUTHORIZED - EXAMPLE_ORDER_TOTAL]


def test_defect_11_the_rest_canceled_while_a_capture_is_in_flight_releases_at_its_record() -> None:
    # Given a shipment in flight, then the rest of the order canceled: the release waits
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger)
    in_flight = reserve(ledger, provider, "s-1", [("line-1", 3)])
    waiting = releases.release_remainder(ledger, provider, cancel(ledger, [("line-2", 2)]), NOW)
    assert waiting is not None and waiting.status is ReleaseStatus.WAITING

    # When the shipment is recorded
    recorded = service.record_capture(ledger, in_flight, NOW)
    released = releases.release_after_capture(ledger, provider, recorded, NOW)

    # Then its Record releases what the authorization has left, once
    stored = ledger.get_order(MERCHANT, ORDER)
    assert stored is not None and released is not None
    assert released.status is ReleaseStatus.RELEASED
    assert released.amount == AUTHORIZED - stored.captured_amount
    assert [r.remaining_amount for r in provider.released] == [released.amount]


class ConfirmsWhileWaiting:
    """The ledger, on which ``capture`` is confirmed just before the waiting release is stored
    (after the closing step read the order with it in flight): the race the closing step must
    still see through."""

    def __init__(self, ledger: MemoryLedger, capture: Capture) -> None:
        self.ledger, self.capture = ledger, capture

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    def begin_release(self, release: AuthorizationRelease) -> AuthorizationRelease | None:
        if release.status is ReleaseStatus.WAITING:
            service.record_capture(self.ledger, self.capture, NOW)
        return self.ledger.begin_release(release)


def test_defect_11_a_capture_confirmed_while_the_release_is_stored_waiting_releases_once() -> None:
    # Given a shipment in flight, reserved alone
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger)
    in_flight = reserve(ledger, provider, "s-1", [("line-1", 3)])
    closed = cancel(ledger, [("line-2", 2)])

    # When the cancellation that closes the order read it with the shipment in flight, and
    # the shipment is confirmed before the cancellation's waiting release is stored
    racing = ConfirmsWhileWaiting(ledger, in_flight)
    released = releases.release_remainder(racing, provider, closed, NOW)

    # Then the closing step itself sees it confirmed and releases, once
    assert released is not None and released.status is ReleaseStatus.RELEASED
    assert [r.remaining_amount for r in provider.released] == [released.amount]


# --- A waiting release on an order that never finishes (issue 11) --------------------------


def waiting_on_a_failed_capture(ledger: MemoryLedger, provider: ReleasingProvider) -> datetime:
    """A release stored waiting, whose capture in flight then failed: the order can capture
    its units again, and nobody ships or cancels them. Returns the authorization's expiry."""
    registered(ledger)
    first = reserve(ledger, provider, "s-1", [("line-1", 3)])
    second = service.record_capture(ledger, reserve(ledger, provider, "s-2"), NOW)
    waiting = releases.release_after_capture(ledger, provider, second, NOW)
    assert waiting is not None and waiting.status is ReleaseStatus.WAITING
    failures.record_failure(
        ledger,
        request=first.request(),
        error_type="ProviderDeclinedError",
        error_reason="provider_declined",
        message="declined",
        execution_id="exec-s-1",
        now=NOW,
    )
    order = ledger.get_order(MERCHANT, ORDER)
    assert order is not None and order.capturable_amount > 0 and order.reserved_amount == 0
    return order.payment.expires_at


def test_defect_11_a_waiting_release_is_closed_lapsed_once_the_authorization_expired() -> None:
    # Given a waiting release on an order that never finishes
    ledger, provider = MemoryLedger(), ReleasingProvider()
    expires_at = waiting_on_a_failed_capture(ledger, provider)

    # When reconciliation runs before the authorization expires, then after
    before = releases.reconcile_releases(ledger, provider, expires_at - timedelta(minutes=1))
    after = releases.reconcile_releases(ledger, provider, expires_at + timedelta(minutes=1))
    again = releases.reconcile_releases(ledger, provider, expires_at + timedelta(hours=1))

    # Then it waits while the order may still capture, and is closed once it can capture
    # nothing more (its authorization expired, nothing in flight): recorded, nothing sent
    assert (before.still_open, after.lapsed, again.examined) == (1, 1, 0)
    stored = ledger.get_release(MERCHANT, ORDER)
    assert stored is not None and stored.status is ReleaseStatus.LAPSED
    assert stored.failure is not None and stored.failure.reason == "authorization_expired"
    assert provider.released == []


def test_defect_11_a_waiting_release_past_expiry_waits_while_a_capture_is_in_flight() -> None:
    # Given the order's capture in flight past its authorization's expiry (requires_action:
    # its outcome unknown, the provider may hold that money for it)
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger)
    first = reserve(ledger, provider, "s-1", [("line-1", 3)])
    closed = cancel(ledger, [("line-2", 2)])
    assert releases.release_remainder(ledger, provider, closed, NOW) is not None
    failures.record_failure(
        ledger,
        request=first.request(),
        error_type=CaptureOutcomeUnknownError.__name__,
        error_reason=CaptureOutcomeUnknownError.reason,
        message="timed out",
        execution_id="exec-s-1",
        now=NOW,
    )
    order = ledger.get_order(MERCHANT, ORDER)
    assert order is not None and order.reserved_amount > 0

    # When reconciliation runs past the expiry
    late = order.payment.expires_at + timedelta(days=1)
    report = releases.reconcile_releases(ledger, provider, late)

    # Then the release keeps waiting for that capture, and nothing is sent
    stored = ledger.get_release(MERCHANT, ORDER)
    assert (report.still_open, report.lapsed) == (1, 0)
    assert stored is not None and stored.status is ReleaseStatus.WAITING
    assert provider.released == []


def test_defect_12_a_release_while_a_final_capture_is_in_flight_sends_nothing_after_it() -> None:
    # Given the last shipment sent final at a provider whose final capture releases the rest
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger, provider="sandbox")
    final = reserve(ledger, provider, "s-1")
    assert final.releases_authorization

    # When a cancellation's release runs while it is in flight (the order closed, nothing
    # capturable), then it is recorded, and reconciliation runs
    in_flight = ledger.get_order(MERCHANT, ORDER)
    assert in_flight is not None
    assert releases.release_remainder(ledger, provider, in_flight, NOW) is None
    recorded = service.record_capture(ledger, final, NOW)
    assert releases.release_after_capture(ledger, provider, recorded, NOW) is None
    releases.reconcile_releases(ledger, provider, NOW + timedelta(hours=1))

    # Then nothing is sent: the final capture released the rest, and no release waits
    assert provider.released == []
    assert ledger.get_release(MERCHANT, ORDER) is None


def test_defect_12_a_final_capture_confirmed_as_a_release_reads_the_order_sends_nothing() -> None:
    # Given a cancellation that read the order while its last capture, sent final at the
    # sandbox, was in flight
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger, provider="sandbox")
    final = reserve(ledger, provider, "s-1")
    read_in_flight = ledger.get_order(MERCHANT, ORDER)
    assert read_in_flight is not None

    # When the capture is recorded before the cancellation's release runs on what it read
    recorded = service.record_capture(ledger, final, NOW)
    assert releases.release_after_capture(ledger, provider, recorded, NOW) is None
    releases.release_remainder(ledger, provider, read_in_flight, NOW)
    releases.reconcile_releases(ledger, provider, NOW + timedelta(hours=1))

    # Then nothing is sent after the final capture, which released the rest
    assert provider.released == []
