"""Releasing the remainder of an authorization (domain.releases) on the in-memory ledger: once
an order can capture nothing more, what its authorization has left is released once,
recorded, and never lost when the provider or the ledger fails half-way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from order_capture.domain import capture_rules, releases, service
from order_capture.errors import (
    CaptureOutcomeUnknownError,
    LedgerUnavailableError,
    ProviderDeclinedError,
    ProviderUnavailableError,
)
from order_capture.handlers import record
from order_capture.models import (
    AuthorizationRelease,
    CaptureRequest,
    PlannedCapture,
    ReleaseStatus,
    release_id_for,
)
from order_capture_local.memory_ledger import MemoryLedger
from tests.factories import EXAMPLE_ORDER_TOTAL
from tests.support import FakeLambdaContext, FixedClock
from tests.unit.release_support import (
    AUTHORIZED,
    MERCHANT,
    NOW,
    ORDER,
    ReleasingProvider,
    cancel,
    registered,
    ship,
)


class LedgerDiesAfterTheProvider:
    """The ledger, whose first write after the provider answered fails (a crash there)."""

    def __init__(self, ledger: MemoryLedger) -> None:
        self.ledger = ledger
        self.died = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    def update_release(
        self, release: AuthorizationRelease, expected: ReleaseStatus, **condition: Any
    ) -> bool:
        if not self.died:
            self.died = True
            raise LedgerUnavailableError("the ledger went away after the provider answered")
        return self.ledger.update_release(release, expected, **condition)


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


class SecondRunDuringTheFirst(ReleasingProvider):
    """A provider without idempotency keys (Aplazame's void), during whose first retried
    release a second reconciliation run, started on the same read of the ledger, retries the
    same pending release."""

    def __init__(self, *failures: Exception, second_run: Any = None) -> None:
        super().__init__(*failures, idempotent=False)
        self.second_run = second_run
        self.reports: list[releases.ReleaseReport] = []

    def release(self, request: Any) -> Any:
        second_run, self.second_run = self.second_run, None  # once
        if second_run is not None and self.released:
            self.reports.append(second_run())
        elif not self.released:
            self.second_run = second_run
        return super().release(request)


class ReadBefore:
    """The ledger as a run that listed its open releases at ``listed`` sees it."""

    def __init__(self, ledger: MemoryLedger, listed: list[AuthorizationRelease]) -> None:
        self.ledger, self.listed = ledger, listed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    def list_open_releases(self, updated_before: Any) -> list[AuthorizationRelease]:
        return [release.model_copy() for release in self.listed]


def test_defect_12_two_reconciliation_runs_send_one_void_for_one_pending_release() -> None:
    # Given a release whose first void went unanswered, left pending, at a provider without
    # idempotency keys, and two reconciliation runs that both listed it, pending, at attempt 1
    ledger = MemoryLedger()
    provider = SecondRunDuringTheFirst(CaptureOutcomeUnknownError("no answer"))
    registered(ledger, provider="aplazame")
    last = ship(ledger, provider, "s-1")
    releases.release_after_capture(ledger, provider, last, NOW)
    later = NOW + timedelta(minutes=20)
    listed = ledger.list_open_releases(later - releases.DEFAULT_GRACE)
    assert [release.attempts for release in listed] == [1]
    racing = ReadBefore(ledger, listed)
    provider.second_run = lambda: releases.reconcile_releases(racing, provider, later)

    # When the first retries it and the second runs while the first's void is on its way
    first = releases.reconcile_releases(racing, provider, later)

    # Then one void was retried, not two; the second run left it to the first
    assert len(provider.released) == 2  # the unanswered first, and one retry
    assert first.released == 1
    assert [(r.examined, r.released, r.still_open) for r in provider.reports] == [(1, 0, 1)]
    stored = ledger.get_release(MERCHANT, ORDER)
    assert stored is not None and stored.status is ReleaseStatus.RELEASED
    assert stored.attempts == 2


class SlowFirstAttempt(ReleasingProvider):
    """A provider that is down, whose first release request answers only after a
    reconciliation run has retried the same release (``retry_meanwhile``)."""

    def __init__(self) -> None:
        super().__init__()
        self.retry_meanwhile: Any = None

    def release(self, request: Any) -> Any:
        self.released.append(request)
        retry, self.retry_meanwhile = self.retry_meanwhile, None
        if retry is not None:
            retry()
        raise ProviderUnavailableError("down")


def test_defect_12_a_slower_attempt_does_not_wind_a_newer_attempt_back() -> None:
    # Given a release whose first request is slow to fail, retried by reconciliation meanwhile
    ledger, provider = MemoryLedger(), SlowFirstAttempt()
    registered(ledger)
    last = ship(ledger, provider, "s-1")
    later = NOW + timedelta(minutes=20)
    provider.retry_meanwhile = lambda: releases.reconcile_releases(ledger, provider, later)

    # When both fail, the first one last
    releases.release_after_capture(ledger, provider, last, NOW)

    # Then the record keeps the newer attempt: the next run counts from it
    stored = ledger.get_release(MERCHANT, ORDER)
    assert stored is not None and stored.status is ReleaseStatus.PENDING
    assert (stored.attempts, stored.updated_at) == (2, later)
    assert len(provider.released) == 2


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
