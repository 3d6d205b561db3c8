"""Releasing the remainder of an authorization (domain.releases) on the in-memory ledger: once
an order can capture nothing more, what its authorization has left is released once,
recorded, and never lost when the provider or the ledger fails half-way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from order_capture.domain import capture_rules, failures, releases, service
from order_capture.errors import (
    CaptureOutcomeUnknownError,
    LedgerUnavailableError,
    ProviderDeclinedError,
    ProviderUnavailableError,
)
from order_capture.handlers import record
from order_capture.models import (
    AuthorizationRelease,
    Capture,
    CaptureRequest,
    ItemQuantity,
    OrderItemsCanceledDetail,
    OrderPlacedDetail,
    PlannedCapture,
    ReleaseStatus,
    release_id_for,
)
from order_capture.ports import (
    ProviderCapture,
    ProviderCaptureRequest,
    ProviderRelease,
    ProviderReleaseRequest,
)
from order_capture_local.memory_ledger import MemoryLedger
from tests.factories import EXAMPLE_ORDER_TOTAL, order_placed
from tests.fake_providers import RecordingProvider
from tests.support import FakeLambdaContext, FixedClock

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
AUTHORIZED = EXAMPLE_ORDER_TOTAL + 1829
MERCHANT, ORDER = "merchant-1", "order-1001"


class ReleasingProvider(RecordingProvider):
    """Keeps every release request; fails the next ones with ``failures`` (errors to raise)."""

    def __init__(self, *failures: Exception, idempotent: bool = True) -> None:
        super().__init__()
        self.released: list[ProviderReleaseRequest] = []
        self.captures: list[ProviderCaptureRequest] = []
        self.failures = list(failures)
        self.idempotent_captures = idempotent

    def capture(self, request: ProviderCaptureRequest) -> ProviderCapture:
        self.captures.append(request)
        return super().capture(request)

    def release(self, request: ProviderReleaseRequest) -> ProviderRelease:
        self.released.append(request)
        if self.failures:
            raise self.failures.pop(0)
        return super().release(request)


class LedgerDiesAfterTheProvider:
    """The ledger, whose first write after the provider answered fails (a crash there)."""

    def __init__(self, ledger: MemoryLedger) -> None:
        self.ledger = ledger
        self.died = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    def update_release(self, release: AuthorizationRelease, expected: ReleaseStatus) -> bool:
        if not self.died:
            self.died = True
            raise LedgerUnavailableError("the ledger went away after the provider answered")
        return self.ledger.update_release(release, expected)


def registered(ledger: MemoryLedger, authorized: int = AUTHORIZED, provider: str = "adyen") -> None:
    detail = OrderPlacedDetail.model_validate(
        order_placed(authorized_amount=authorized, provider=provider)["detail"]
    )
    service.register_order(ledger, detail, FixedClock(NOW))


def ship(
    ledger: MemoryLedger,
    provider: RecordingProvider,
    shipment: str,
    items: list[tuple[str, int]] | None = None,
) -> Capture:
    """One shipment through Capture and Record's confirmation (as the state machine runs)."""
    request = CaptureRequest(
        merchant_id=MERCHANT,
        order_id=ORDER,
        shipment_id=shipment,
        items=None if items is None else [ItemQuantity(item_id=i, quantity=q) for i, q in items],
    )
    plan = capture_rules.plan_capture(service.load_for_capture(ledger, request).order, request, NOW)
    pending = service.execute_capture(
        ledger,
        provider,
        planned=PlannedCapture(request=request, plan=plan),
        execution_id=f"exec-{shipment}",
        now=NOW,
    )
    return service.record_capture(ledger, pending, NOW)


def cancel(ledger: MemoryLedger, items: list[tuple[str, int]]) -> Any:
    detail = OrderItemsCanceledDetail(
        merchant_id=MERCHANT,
        order_id=ORDER,
        items=[ItemQuantity(item_id=i, quantity=q) for i, q in items],
    )
    return service.cancel_items(ledger, detail, FixedClock(NOW))


def test_the_last_shipment_leaves_a_remainder_which_is_released_once() -> None:
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger)
    first = ship(ledger, provider, "s-1", [("line-1", 3)])
    assert releases.release_after_capture(ledger, provider, first, NOW) is None  # more to come
    last = ship(ledger, provider, "s-2")
    assert last.releases_authorization

    released = releases.release_after_capture(ledger, provider, last, NOW)
    again = releases.release_after_capture(ledger, provider, last, NOW)  # a retried Record

    assert released is not None and released.status is ReleaseStatus.RELEASED
    assert (released.amount, released.attempts) == (AUTHORIZED - EXAMPLE_ORDER_TOTAL, 1)
    assert again == released
    assert [(r.remaining_amount, r.idempotency_key) for r in provider.released] == [
        (AUTHORIZED - EXAMPLE_ORDER_TOTAL, release_id_for(MERCHANT, ORDER))
    ]
    assert ledger.get_release(MERCHANT, ORDER) == released


def test_the_rest_canceled_releases_what_was_authorized_for_it_once() -> None:
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger, authorized=EXAMPLE_ORDER_TOTAL)
    captured = ship(ledger, provider, "s-1", [("line-1", 3)])
    assert not captured.releases_authorization

    order = cancel(ledger, [("line-2", 2)])
    released = releases.release_remainder(ledger, provider, order, NOW)
    twin = releases.release_remainder(ledger, provider, order, NOW)

    assert order.capturable_amount == 0
    assert released is not None and released.status is ReleaseStatus.RELEASED
    assert released.amount == EXAMPLE_ORDER_TOTAL - captured.amount
    assert twin == released
    assert len(provider.released) == 1


def test_an_order_that_can_still_capture_or_has_nothing_left_releases_nothing() -> None:
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger, authorized=EXAMPLE_ORDER_TOTAL)
    partly = cancel(ledger, [("line-2", 1)])
    assert releases.release_remainder(ledger, provider, partly, NOW) is None  # units open

    last = ship(ledger, provider, "s-1")
    order = ledger.get_order(MERCHANT, ORDER)
    assert order is not None and order.captured_amount + order.canceled_amount == order.total
    assert releases.release_after_capture(ledger, provider, last, NOW) is not None
    # Nothing authorized beyond what was captured: an exact authorization has no remainder.
    exact = MemoryLedger()
    registered(exact, authorized=EXAMPLE_ORDER_TOTAL)
    whole = ship(exact, provider, "s-1")
    assert releases.release_after_capture(exact, provider, whole, NOW) is None
    assert exact.get_release(MERCHANT, ORDER) is None


def test_twin_triggers_release_once() -> None:
    """Record after the final capture, and a cancellation's handler, and a repeated
    webhook, all for one order: one provider call."""
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger)
    last = ship(ledger, provider, "s-1")
    order = ledger.get_order(MERCHANT, ORDER)
    assert order is not None

    outcomes = [
        releases.release_after_capture(ledger, provider, last, NOW),
        releases.release_remainder(ledger, provider, order, NOW),
        releases.release_after_capture(ledger, provider, last, NOW + timedelta(hours=1)),
    ]

    assert len({outcome.release_id for outcome in outcomes if outcome}) == 1
    assert len(provider.released) == 1


@pytest.mark.parametrize(
    "failure",
    [ProviderUnavailableError("down"), CaptureOutcomeUnknownError("no answer in 10 s")],
)
def test_a_provider_failure_is_recorded_then_retried_by_reconciliation(failure: Exception) -> None:
    ledger, provider = MemoryLedger(), ReleasingProvider(failure)
    registered(ledger)
    last = ship(ledger, provider, "s-1")

    pending = releases.release_after_capture(ledger, provider, last, NOW)
    assert pending is not None and pending.status is ReleaseStatus.PENDING
    assert pending.failure is not None and pending.failure.error == type(failure).__name__
    early = releases.reconcile_releases(ledger, provider, NOW + timedelta(minutes=1))
    report = releases.reconcile_releases(ledger, provider, NOW + timedelta(minutes=20))

    assert early.examined == 0  # within the grace: its step may still be at it
    assert (report.examined, report.released) == (1, 1)
    stored = ledger.get_release(MERCHANT, ORDER)
    assert stored is not None and stored.status is ReleaseStatus.RELEASED
    assert stored.attempts == 2 and stored.failure is None
    keys = {request.idempotency_key for request in provider.released}
    assert len(provider.released) == 2 and keys == {release_id_for(MERCHANT, ORDER)}
    assert releases.reconcile_releases(ledger, provider, NOW + timedelta(hours=2)).examined == 0


def test_a_crash_between_the_provider_and_the_ledger_is_found_by_reconciliation() -> None:
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger)
    last = ship(ledger, provider, "s-1")
    dying = LedgerDiesAfterTheProvider(ledger)
    errors: list[Exception] = []

    outcome = releases.release_quietly(
        lambda: releases.release_after_capture(dying, provider, last, NOW), errors.append
    )

    assert outcome is None and isinstance(errors[0], LedgerUnavailableError)
    stored = ledger.get_release(MERCHANT, ORDER)
    assert stored is not None and stored.status is ReleaseStatus.PENDING  # not lost
    report = releases.reconcile_releases(dying, provider, NOW + timedelta(minutes=20))
    assert report.released == 1
    assert [r.idempotency_key for r in provider.released] == [stored.release_id] * 2


def test_a_repeated_release_refused_by_a_provider_without_keys_is_released_already() -> None:
    """Aplazame's void takes no idempotency key: if the first went through unanswered, the
    second is refused (nothing left): that is a release, said so, not a failure."""
    first_unanswered = CaptureOutcomeUnknownError("no answer")
    refused = ProviderDeclinedError("aplazame 400: nothing left to void")
    ledger = MemoryLedger()
    provider = ReleasingProvider(first_unanswered, refused, idempotent=False)
    registered(ledger)
    last = ship(ledger, provider, "s-1")
    releases.release_after_capture(ledger, provider, last, NOW)

    report = releases.reconcile_releases(ledger, provider, NOW + timedelta(minutes=20))

    stored = ledger.get_release(MERCHANT, ORDER)
    assert report.released == 1
    assert stored is not None and stored.status is ReleaseStatus.RELEASED
    assert stored.failure is not None and "repeated release" in stored.failure.message


def test_a_first_refusal_is_recorded_failed_for_an_operator() -> None:
    ledger = MemoryLedger()
    provider = ReleasingProvider(ProviderDeclinedError("adyen 422: payment not cancellable"))
    registered(ledger)
    last = ship(ledger, provider, "s-1")

    failed = releases.release_after_capture(ledger, provider, last, NOW)

    assert failed is not None and failed.status is ReleaseStatus.FAILED
    assert failed.failure is not None and "not cancellable" in failed.failure.message
    assert releases.reconcile_releases(ledger, provider, NOW + timedelta(hours=1)).examined == 0


def test_stripes_final_capture_released_the_rest_itself_nothing_is_sent() -> None:
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger, provider="stripe")
    last = ship(ledger, provider, "s-1")

    assert releases.release_after_capture(ledger, provider, last, NOW) is None

    stored = ledger.get_capture(MERCHANT, ORDER, last.capture_id)
    assert stored is not None and stored.releases_authorization  # sent final: the record
    assert provider.released == []
    assert ledger.get_release(MERCHANT, ORDER) is None


def test_stripe_releases_by_cancellation_when_no_capture_was_final() -> None:
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger, provider="stripe")
    ship(ledger, provider, "s-1", [("line-1", 3)])

    released = releases.release_remainder(ledger, provider, cancel(ledger, [("line-2", 2)]), NOW)

    assert released is not None and released.status is ReleaseStatus.RELEASED
    assert [request.remaining_amount for request in provider.released] == [released.amount]


class _Publisher:
    def publish(self, detail_type: str, details: list[Any]) -> None:
        pass


def test_the_record_step_releases_after_the_final_capture() -> None:
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger)
    request = CaptureRequest(merchant_id=MERCHANT, order_id=ORDER, shipment_id="s-1")
    plan = capture_rules.plan_capture(service.load_for_capture(ledger, request).order, request, NOW)
    sent = service.execute_capture(
        ledger,
        provider,
        planned=PlannedCapture(request=request, plan=plan),
        execution_id="exec-1",
        now=NOW,
    )

    recorded = record.handle_success(
        {"capture": sent.model_dump(mode="json"), "execution_id": "exec-1"},
        FakeLambdaContext(),
        repository=ledger,
        clock=FixedClock(NOW),
        publisher=_Publisher(),
        providers=provider,
    )

    assert recorded["status"] == "captured"
    stored = ledger.get_release(MERCHANT, ORDER)
    assert stored is not None and stored.status is ReleaseStatus.RELEASED
    assert len(provider.released) == 1


# --- Every way an order can come to capture nothing more (issue 11, release of the rest) ---


def reserve(
    ledger: MemoryLedger,
    provider: RecordingProvider,
    shipment: str,
    items: list[tuple[str, int]] | None = None,
    amount: int | None = None,
) -> Capture:
    """One shipment through the Capture step only: reserved and sent, not yet recorded (its
    Record runs later, as when two shipments are in flight together)."""
    request = CaptureRequest(
        merchant_id=MERCHANT,
        order_id=ORDER,
        shipment_id=shipment,
        items=None if items is None else [ItemQuantity(item_id=i, quantity=q) for i, q in items],
        amount=amount,
        trigger="api" if amount is not None else "event",
    )
    plan = capture_rules.plan_capture(service.load_for_capture(ledger, request).order, request, NOW)
    return service.execute_capture(
        ledger,
        provider,
        planned=PlannedCapture(request=request, plan=plan),
        execution_id=f"exec-{shipment}",
        now=NOW,
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
