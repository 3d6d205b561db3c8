"""Adversarial: the step that closes an order while captures are still in flight dies after
its first ledger write (issue 11's "release crash window"). Whatever it wrote first, the
capture in flight that is confirmed next must still release the rest at once, without waiting
for reconciliation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from order_capture.domain import releases, service
from order_capture.errors import LedgerUnavailableError
from order_capture.models import AuthorizationRelease, ReleaseStatus
from order_capture_local.memory_ledger import MemoryLedger
from tests.unit.release_support import (
    AUTHORIZED,
    MERCHANT,
    NOW,
    ORDER,
    ReleasingProvider,
    cancel,
    registered,
    reserve,
)


class DiesAfterItsFirstWrite:
    """The ledger, as seen by a Lambda that dies right after the first of the closing step's
    writes (the waiting release or the note on the captures in flight) went through."""

    def __init__(self, ledger: MemoryLedger) -> None:
        self.ledger = ledger

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    def begin_release(self, release: AuthorizationRelease) -> AuthorizationRelease | None:
        self.ledger.begin_release(release)
        raise LedgerUnavailableError("the Lambda died after storing the release")

    def note_may_finish_order(self, merchant_id: str, order_id: str) -> bool:
        self.ledger.note_may_finish_order(merchant_id, order_id)
        raise LedgerUnavailableError("the Lambda died after noting the captures in flight")


def closed_by_cancellation(ledger: MemoryLedger, provider: ReleasingProvider) -> Callable[[], Any]:
    closed = cancel(ledger, [("line-2", 2)])
    return lambda: releases.release_remainder(DiesAfterItsFirstWrite(ledger), provider, closed, NOW)


def closed_by_record(ledger: MemoryLedger, provider: ReleasingProvider) -> Callable[[], Any]:
    last = service.record_capture(ledger, reserve(ledger, provider, "s-2"), NOW)
    return lambda: releases.release_after_capture(
        DiesAfterItsFirstWrite(ledger), provider, last, NOW
    )


@pytest.mark.parametrize("close", [closed_by_cancellation, closed_by_record])
def test_breaker_11_closing_step_dies_after_its_first_write_the_next_confirmer_releases(
    close: Callable[[MemoryLedger, ReleasingProvider], Callable[[], Any]],
) -> None:
    # Given a shipment in flight, reserved alone, and a step that closes the order (the rest
    # canceled, or the last shipment recorded) and dies after its first ledger write
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger)
    in_flight = reserve(ledger, provider, "s-1", [("line-1", 3)])
    with pytest.raises(LedgerUnavailableError):
        close(ledger, provider)()
    assert provider.released == []

    # When the shipment in flight is confirmed
    recorded = service.record_capture(ledger, in_flight, NOW)
    released = releases.release_after_capture(ledger, provider, recorded, NOW)

    # Then its confirmer releases what the authorization has left at once, once
    order = ledger.get_order(MERCHANT, ORDER)
    assert order is not None and releases.remainder_of(order) is not None
    assert released is not None and released.status is ReleaseStatus.RELEASED
    assert released.amount == AUTHORIZED - order.captured_amount > 0
    assert [r.remaining_amount for r in provider.released] == [released.amount]
    assert releases.reconcile_releases(ledger, provider, NOW + timedelta(hours=1)).released == 0


class NoteFails:
    """The ledger, whose note on the captures in flight fails before writing anything (the
    Query throttled)."""

    def __init__(self, ledger: MemoryLedger) -> None:
        self.ledger = ledger

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    def note_may_finish_order(self, merchant_id: str, order_id: str) -> bool:
        raise LedgerUnavailableError("ProvisionedThroughputExceededException")


def test_breaker_11_a_failed_note_still_leaves_the_waiting_release_to_reconciliation() -> None:
    # Given a shipment in flight, and a cancellation closing the order whose note fails
    ledger, provider = MemoryLedger(), ReleasingProvider()
    registered(ledger)
    in_flight = reserve(ledger, provider, "s-1", [("line-1", 3)])
    closed = cancel(ledger, [("line-2", 2)])
    with pytest.raises(LedgerUnavailableError):
        releases.release_remainder(NoteFails(ledger), provider, closed, NOW)

    # When the shipment is confirmed (not noted: it reads nothing) and reconciliation runs
    recorded = service.record_capture(ledger, in_flight, NOW)
    assert releases.release_after_capture(ledger, provider, recorded, NOW) is None
    report = releases.reconcile_releases(ledger, provider, NOW + timedelta(hours=1))

    # Then the waiting release stored all the same is carried out, once
    released = ledger.get_release(MERCHANT, ORDER)
    assert report.released == 1
    assert released is not None and released.status is ReleaseStatus.RELEASED
    assert [r.remaining_amount for r in provider.released] == [released.amount]
