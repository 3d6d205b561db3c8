"""Settlers that nothing retries (a Reconcile run, an operator's command) and die, or whose
PutEvents fails, after their settling write (issue 12, defect 6: "what is left"): the capture
stays among the captures to announce until its announcement is sent, and the next
reconciliation run announces it once its settler is over (on moto and the in-memory ledger)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from order_capture.domain import (
    capture_rules,
    reconciliation,
    service,
)
from order_capture.domain.announcements import SETTLER_DEADLINE
from order_capture.errors import CaptureOutcomeUnknownError
from order_capture.handlers import reconcile
from order_capture.history import Actor, acting
from order_capture.models import CaptureRequest, CaptureStatus, PlannedCapture, ReleaseStatus
from order_capture.ports import OrderRepository, ProviderCapture, ProviderCaptureLookup
from tests.factories import EXAMPLE_ORDER_TOTAL
from tests.fake_providers import RecordingProvider
from tests.integration import ledger_contract_support
from tests.integration.ledger_contract_support import T0, stored_with_capture
from tests.integration.race_support import (
    LATER,
    NOW,
    FoundProvider,
    NobodyWaits,
    Publisher,
    ReadThenRace,
    answer_lost,
    deliver,
    settle_by_operator,
)
from tests.support import FixedClock
from tests.unit.release_support import (
    AUTHORIZED,
    MERCHANT,
    ORDER,
    ReleasingProvider,
    registered,
)

ledger = ledger_contract_support.ledger  # the fixture: each test runs on both ledgers


class Died(BaseException):
    """The process ends here: no ``except Exception`` of the settler runs (its note stays)."""


class DyingPublisher(Publisher):
    """EventBridge, while the settler dies before PutEvents answers."""

    def publish(self, detail_type: str, details: list[Any]) -> None:
        raise Died


def run_reconciliation(repository: Any, publisher: Publisher, now: datetime) -> Any:
    return reconciliation.reconcile_open_captures(
        repository,
        lambda _: FoundProvider("captured"),
        now,
        timedelta(seconds=0),
        publisher=publisher,
        waiters=NobodyWaits(),
    )


def test_defect_12_a_reconciliation_run_that_died_before_putevents_is_announced_by_the_next(
    repository: Any,
) -> None:
    # Given a capture whose answer was lost, which a reconciliation run confirms and then
    # dies before PutEvents answered
    lost = answer_lost(repository)
    with pytest.raises(Died):
        run_reconciliation(repository, DyingPublisher(), LATER)
    stored = repository.find_capture(lost.merchant_id, lost.capture_id)
    assert stored.status is CaptureStatus.CAPTURED
    publisher = Publisher()

    # When the next runs come: one while that run could still be alive, one after it
    early = run_reconciliation(repository, publisher, LATER + timedelta(minutes=1))
    assert (early.examined, early.still_open, publisher.sent) == (1, 1, [])
    after = run_reconciliation(repository, publisher, LATER + SETTLER_DEADLINE)

    # Then the capture is announced once, by the run after its settler was over, and no run
    # looks at it again
    assert (after.examined, after.announced) == (1, 1)
    assert publisher.sent == ["Payment Captured captured"]
    assert run_reconciliation(repository, publisher, LATER + 2 * SETTLER_DEADLINE).examined == 0
    assert publisher.sent == ["Payment Captured captured"]


def test_defect_12_a_reconciliation_whose_putevents_failed_is_announced_by_the_next_run(
    repository: Any,
) -> None:
    # Given a run that confirms a capture and whose PutEvents fails (it takes its note back)
    answer_lost(repository)
    failing = Publisher(failures=1)
    first = run_reconciliation(repository, failing, LATER)
    assert (first.errors, failing.sent) == (1, [])

    # When the next run comes after it
    after = run_reconciliation(repository, failing, LATER + SETTLER_DEADLINE)

    # Then it is announced once
    assert after.announced == 1
    assert failing.sent == ["Payment Captured captured"]
    assert run_reconciliation(repository, failing, LATER + 2 * SETTLER_DEADLINE).examined == 0


def test_defect_12_an_operator_that_died_before_putevents_is_announced_by_reconciliation(
    repository: Any,
) -> None:
    # Given an operator's settling of a capture whose answer was lost, dying before PutEvents
    lost = answer_lost(repository)
    with pytest.raises(Died):
        settle_by_operator(repository, DyingPublisher(), lost)
    publisher = Publisher()

    # When reconciliation runs after it
    report = run_reconciliation(repository, publisher, LATER + SETTLER_DEADLINE)

    # Then the operator's outcome is announced once
    assert report.announced == 1
    assert publisher.sent == ["Payment Captured captured"]


def test_a_reconciliation_that_announced_leaves_nothing_to_announce(repository: Any) -> None:
    answer_lost(repository)
    publisher = Publisher()
    assert run_reconciliation(repository, publisher, LATER).confirmed == 1
    assert repository.list_unannounced(LATER + timedelta(days=1)) == []
    assert run_reconciliation(repository, publisher, LATER + SETTLER_DEADLINE).examined == 0
    assert publisher.sent == ["Payment Captured captured"]


def test_only_a_settler_nothing_retries_keeps_what_it_settles_to_announce(
    ledger: OrderRepository,
) -> None:
    # Given two captures, one confirmed by its execution's Record, one by reconciliation
    order, by_record = stored_with_capture(ledger)
    done = by_record.model_copy(update={"status": CaptureStatus.CAPTURED, "updated_at": T0})
    assert ledger.confirm(done, announced=True)
    other = new_capture(ledger, order)
    confirmed = other.model_copy(update={"status": CaptureStatus.CAPTURED, "updated_at": T0})
    with acting(Actor(kind="reconciliation")):
        assert ledger.confirm(confirmed, announced=True)

    # Then only reconciliation's is among the captures to announce, until it is sent
    later = T0 + timedelta(seconds=1)
    assert [c.capture_id for c in ledger.list_unannounced(later)] == [other.capture_id]
    assert ledger.list_unannounced(T0) == []  # touched at T0, not before it
    assert [c.status for c in ledger.list_unannounced(later)] == [CaptureStatus.CAPTURED]
    assert ledger.list_open_captures(later) == []  # never taken for an open capture
    ledger.announcement_sent(order.merchant_id, order.order_id, other.capture_id)
    ledger.announcement_sent(order.merchant_id, order.order_id, by_record.capture_id)  # none
    assert ledger.list_unannounced(later) == []


def new_capture(ledger: OrderRepository, order: Any) -> Any:
    from tests.integration.ledger_contract_support import pending_capture, reserved

    stored = ledger.get_order(order.merchant_id, order.order_id)
    assert stored is not None
    capture = pending_capture(stored, "s2", 2000)
    assert ledger.reserve(reserved(stored, capture), stored.version, capture) is None
    return capture


def test_defect_12_a_note_a_webhook_claimed_after_a_failed_run_is_not_announced_again(
    repository: Any,
) -> None:
    # Given a run whose PutEvents failed (note taken back, the capture still to announce),
    # and the provider's webhook that then claims the note and announces it
    lost = answer_lost(repository)
    publisher = Publisher(failures=1)
    assert run_reconciliation(repository, publisher, LATER).errors == 1
    deliver(repository, publisher, lost, True)
    assert publisher.sent == ["Payment Captured captured"]

    # When the next run comes after the deadline
    after = run_reconciliation(repository, publisher, LATER + SETTLER_DEADLINE)

    # Then the webhook's announcement stands alone
    assert (after.examined, after.announced) == (1, 1)
    assert publisher.sent == ["Payment Captured captured"]
    assert repository.list_unannounced(LATER + timedelta(days=1)) == []


def test_defect_12_two_runs_relieving_one_dead_run_announce_once(repository: Any) -> None:
    # Given a capture a dead run confirmed, listed by two later runs at once
    answer_lost(repository)
    with pytest.raises(Died):
        run_reconciliation(repository, DyingPublisher(), LATER)
    now = LATER + SETTLER_DEADLINE
    (listed,) = repository.list_unannounced(now)
    publisher = Publisher()
    outcomes: list[tuple[str, str]] = []

    def second_run() -> None:
        outcomes.append(
            reconciliation.announce_unannounced(
                repository, listed, now, publisher=publisher, waiters=NobodyWaits()
            )
        )

    # When the second relieves it whole while the first is between its read and its takeover
    racing = ReadThenRace(repository, "confirmation_state", second_run)
    first = reconciliation.announce_unannounced(
        racing, listed, now, publisher=publisher, waiters=NobodyWaits()
    )

    # Then it is announced once: the first finds the note taken over
    assert [outcome for outcome, _ in outcomes] == ["announced"]
    assert first == ("still_open", "another run is relieving its settler")
    assert publisher.sent == ["Payment Captured captured"]


def test_defect_12_a_reversal_while_a_dead_run_is_relieved_is_not_followed_by_captured(
    repository: Any,
) -> None:
    # Given a capture a dead run confirmed
    lost = answer_lost(repository)
    with pytest.raises(Died):
        run_reconciliation(repository, DyingPublisher(), LATER)
    now = LATER + SETTLER_DEADLINE
    (listed,) = repository.list_unannounced(now)
    publisher = Publisher()

    # When the provider's CAPTURE_FAILED reverses it right after a run took its note over
    racing = ReadThenRace(
        repository, "take_over_announcement", lambda: deliver(repository, publisher, lost, False)
    )
    reconciliation.announce_unannounced(
        racing, listed, now, publisher=publisher, waiters=NobodyWaits()
    )

    # Then only the reversal is announced: the ledger's last word
    assert publisher.sent == ["Payment Capture Failed failed"]
    assert repository.find_capture(lost.merchant_id, lost.capture_id).status is (
        CaptureStatus.FAILED
    )


class CapturedWhole(RecordingProvider):
    """The provider, which captured the whole order (its answer was lost)."""

    def find_capture(self, lookup: ProviderCaptureLookup) -> ProviderCapture | None:
        return ProviderCapture(
            provider_reference=f"cap-{lookup.idempotency_key}",
            amount=EXAMPLE_ORDER_TOTAL,
            currency="EUR",
            status="succeeded",
        )


def test_defect_12_the_rest_of_an_order_a_dead_run_confirmed_is_released_by_the_next_run(
    repository: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an Adyen order shipped whole (its final capture: Adyen releases nothing itself)
    # whose answer was lost, confirmed by a run that then died before PutEvents
    registered(repository, provider="adyen")
    request = CaptureRequest(merchant_id=MERCHANT, order_id=ORDER, shipment_id="s-1")
    plan = capture_rules.plan_capture(
        service.load_for_capture(repository, request).order, request, NOW
    )
    with pytest.raises(CaptureOutcomeUnknownError):
        service.execute_capture(
            repository,
            FoundProvider(None),
            planned=PlannedCapture(request=request, plan=plan),
            execution_id="exec-1",
            now=NOW,
        )
    monkeypatch.setattr(reconcile, "_provider_of", lambda _: CapturedWhole())
    releasing = ReleasingProvider()

    def run(publisher: Publisher, now: datetime) -> Any:
        return reconcile.handle(
            {"grace_seconds": 0},
            lambda_context,
            repository=repository,
            clock=FixedClock(now),
            providers=releasing,
            publisher=publisher,
            waiters=NobodyWaits(),
        )

    with pytest.raises(Died):
        run(DyingPublisher(), LATER)
    assert releasing.released == []

    # When the next run announces it
    report = run(Publisher(), LATER + SETTLER_DEADLINE)

    # Then it releases what the authorization has left, once
    assert report["announced"] == 1
    assert [r.remaining_amount for r in releasing.released] == [AUTHORIZED - EXAMPLE_ORDER_TOTAL]
    release = repository.get_release(MERCHANT, ORDER)
    assert release is not None and release.status is ReleaseStatus.RELEASED


def test_only_the_captures_own_record_hands_over_what_it_confirmed(ledger: OrderRepository) -> None:
    from order_capture.domain.announcements import hand_over_abandoned
    from order_capture.history import ABANDONED_HOLDER

    # Given a capture still pending, then confirmed by its execution's Record (note its own)
    order, pending = stored_with_capture(ledger, execution_id="exec-1")
    assert not hand_over_abandoned(ledger, pending, "exec-1")  # pending: reconciliation's
    done = pending.model_copy(update={"status": CaptureStatus.CAPTURED, "updated_at": T0})
    assert ledger.confirm(done, announced=True)

    # Then a twin execution's Record hands nothing over; its own does, once
    assert not hand_over_abandoned(ledger, done, "exec-twin")
    assert hand_over_abandoned(ledger, done, "exec-1")
    assert not hand_over_abandoned(ledger, done, "exec-1")
    (listed,) = ledger.list_unannounced(T0 + timedelta(seconds=1))
    assert listed.capture_id == done.capture_id
    state = ledger.confirmation_state(order.merchant_id, order.order_id, done.capture_id)
    assert (state.announced, state.announced_by) == (CaptureStatus.CAPTURED, ABANDONED_HOLDER)


def test_a_note_somebody_else_holds_is_not_handed_over(ledger: OrderRepository) -> None:
    from order_capture.domain.announcements import hand_over_abandoned

    _, pending = stored_with_capture(ledger, execution_id="exec-1")
    done = pending.model_copy(update={"status": CaptureStatus.CAPTURED, "updated_at": T0})
    with acting(Actor(kind="webhook", name="adyen")):
        assert ledger.confirm(done, announced=True)
    assert not hand_over_abandoned(ledger, done, "exec-1")
    assert ledger.list_unannounced(T0 + timedelta(seconds=1)) == []


class KeepingPublisher(Publisher):
    """EventBridge, keeping each detail it sent."""

    def __init__(self) -> None:
        super().__init__()
        self.details: list[Any] = []

    def publish(self, detail_type: str, details: list[Any]) -> None:
        super().publish(detail_type, details)
        self.details.extend(details)


def test_a_relieved_announcement_says_when_the_capture_was_settled(repository: Any) -> None:
    # Given a capture a dead run confirmed at LATER
    answer_lost(repository)
    with pytest.raises(Died):
        run_reconciliation(repository, DyingPublisher(), LATER)

    # When a run relieves it after the deadline (its lease moves the item's updated_at on)
    publisher = KeepingPublisher()
    run_reconciliation(repository, publisher, LATER + SETTLER_DEADLINE)

    # Then the event says when the capture was settled, as its settler's would have
    (detail,) = publisher.details
    assert detail.updated_at == LATER
