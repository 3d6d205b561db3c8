"""The ledger's contract, run against the DynamoDB adapter (on moto) and the in-memory ledger:
the same conditional writes succeed, fail, return and raise the same way on both."""

from __future__ import annotations

from datetime import timedelta

import pytest

from order_capture.errors import OrderChangedError
from order_capture.history import Actor, HistoryReader, acting, announcer_for
from order_capture.models import (
    CaptureLine,
    CaptureStatus,
    FailureReason,
    RefundStatus,
)
from order_capture.ports import OrderRepository
from order_capture_local.memory_ledger import MemoryLedger
from tests.integration import ledger_contract_support
from tests.integration.ledger_contract_support import (
    T0,
    new_order,
    new_refund,
    pending_capture,
    reserved,
    stored_with_capture,
)

ledger = ledger_contract_support.ledger  # the fixture: each test runs on both ledgers

_typed: OrderRepository = MemoryLedger()  # mypy: the in-memory ledger has every port


# --- orders ----------------------------------------------------------------------------------


def test_an_order_is_created_once_and_a_second_create_returns_the_first(
    ledger: OrderRepository,
) -> None:
    order = new_order()
    assert ledger.create_order(order) is None
    assert ledger.get_order(order.merchant_id, order.order_id) == order
    other = order.model_copy(update={"shipping_amount": 1})
    assert ledger.create_order(other) == order
    assert ledger.get_order(order.merchant_id, order.order_id) == order
    assert ledger.get_order(order.merchant_id, "order-unknown") is None


def test_replace_order_writes_only_at_the_stored_version(ledger: OrderRepository) -> None:
    order = new_order()
    ledger.create_order(order)
    canceled = order.model_copy(update={"canceled_amount": 495, "version": 1})
    ledger.replace_order(canceled, expected_version=0)
    assert ledger.get_order(order.merchant_id, order.order_id) == canceled
    with pytest.raises(OrderChangedError):
        ledger.replace_order(canceled.model_copy(update={"version": 2}), expected_version=0)
    with pytest.raises(OrderChangedError):
        ledger.replace_order(new_order("order-never-created"), expected_version=0)
    assert ledger.get_order(order.merchant_id, order.order_id) == canceled


# --- captures --------------------------------------------------------------------------------


def test_reserve_writes_order_and_capture_at_once_and_only_once(ledger: OrderRepository) -> None:
    order = new_order()
    ledger.create_order(order)
    lines = [CaptureLine(item_id=order.lines[1].item_id, quantity=2, amount=3025)]
    capture = pending_capture(order, amount=3025, lines=lines)
    assert ledger.reserve(reserved(order, capture), 0, capture) is None
    assert ledger.get_order_and_capture(order.merchant_id, order.order_id, capture.capture_id) == (
        reserved(order, capture),
        capture,
    )
    assert ledger.find_capture(order.merchant_id, capture.capture_id) == capture
    # The same capture again (a retried step): the stored one, nothing written.
    again = capture.model_copy(update={"amount": 1})
    assert ledger.reserve(reserved(reserved(order, capture), again), 1, again) == capture
    assert ledger.get_order(order.merchant_id, order.order_id) == reserved(order, capture)
    # Another capture planned on a stale version: the order moved on.
    other = pending_capture(order, "s2", amount=100)
    with pytest.raises(OrderChangedError):
        ledger.reserve(reserved(order, other), 0, other)
    assert ledger.get_capture(order.merchant_id, order.order_id, other.capture_id) is None


def test_reserve_replaces_a_failure_recorded_before_anything_was_reserved(
    ledger: OrderRepository,
) -> None:
    order = new_order()
    ledger.create_order(order)
    early = pending_capture(order, amount=0, status=CaptureStatus.FAILED)
    assert ledger.settle_failure(None, None, early, None)
    capture = pending_capture(order)
    assert ledger.reserve(reserved(order, capture), 0, capture) is None
    assert ledger.get_capture(order.merchant_id, order.order_id, capture.capture_id) == capture


def test_confirm_moves_the_reservation_to_captured_once(ledger: OrderRepository) -> None:
    order, capture = stored_with_capture(ledger)
    done = capture.model_copy(
        update={
            "status": CaptureStatus.CAPTURED,
            "provider_reference": "cap_1",
            "status_at_provider": "succeeded",
            "updated_at": T0 + timedelta(seconds=1),
        }
    )
    assert ledger.confirm(done)
    assert not ledger.confirm(done)
    after = ledger.get_order(order.merchant_id, order.order_id)
    assert after is not None
    assert (after.captured_amount, after.reserved_amount) == (capture.amount, 0)
    assert (after.capture_count, after.version) == (1, order.version + 1)
    assert after.updated_at == done.updated_at
    assert ledger.get_capture(order.merchant_id, order.order_id, capture.capture_id) == done
    assert ledger.list_open_captures(T0 + timedelta(days=1)) == []
    missing = pending_capture(order, "s-never-reserved")
    assert not ledger.confirm(missing)


@pytest.mark.parametrize("releases", [True, False])
def test_only_a_capture_that_releases_the_authorization_takes_the_order_off_the_expiry_index(
    ledger: OrderRepository, releases: bool
) -> None:
    order, capture = stored_with_capture(ledger, releases_authorization=releases)
    expiring = order.payment.expires_at + timedelta(seconds=1)
    assert [o.order_id for o in ledger.list_orders_expiring_before(expiring)] == [order.order_id]
    assert ledger.list_orders_expiring_before(order.payment.expires_at) == []
    ledger.confirm(capture.model_copy(update={"status": CaptureStatus.CAPTURED}))
    left = [o.order_id for o in ledger.list_orders_expiring_before(expiring)]
    assert left == ([] if releases else [order.order_id])


def test_settle_failure_writes_only_over_the_expected_status(ledger: OrderRepository) -> None:
    order, capture = stored_with_capture(ledger)
    unknown = capture.model_copy(update={"status": CaptureStatus.REQUIRES_ACTION})
    assert not ledger.settle_failure(None, None, unknown, None)  # stored already
    assert not ledger.settle_failure(None, None, unknown, CaptureStatus.FAILED)
    assert ledger.settle_failure(None, None, unknown, CaptureStatus.PENDING)
    failure = FailureReason(reason="declined", message="no", error="ProviderDeclinedError")
    failed = unknown.model_copy(update={"status": CaptureStatus.FAILED, "failure": failure})
    released = order.model_copy(update={"reserved_amount": 0, "version": order.version + 1})
    with pytest.raises(OrderChangedError):
        ledger.settle_failure(released, order.version - 1, failed, CaptureStatus.REQUIRES_ACTION)
    assert ledger.settle_failure(released, order.version, failed, CaptureStatus.REQUIRES_ACTION)
    assert ledger.get_order_and_capture(order.merchant_id, order.order_id, capture.capture_id) == (
        released,
        failed,
    )


@pytest.mark.parametrize("announced", [True, False])
def test_campaign_a_failure_notes_the_announcement_in_its_write_only_when_asked(
    ledger: OrderRepository, announced: bool
) -> None:
    order, capture = stored_with_capture(ledger)
    failure = FailureReason(reason="declined", message="no", error="ProviderDeclinedError")
    failed = capture.model_copy(update={"status": CaptureStatus.FAILED, "failure": failure})
    # A write that does not happen notes nothing either
    assert not ledger.settle_failure(None, None, failed, CaptureStatus.CAPTURED, announced=True)
    assert (
        ledger.confirmation_state(order.merchant_id, order.order_id, capture.capture_id).announced
        is None
    )
    assert ledger.settle_failure(None, None, failed, CaptureStatus.PENDING, announced=announced)
    state = ledger.confirmation_state(order.merchant_id, order.order_id, capture.capture_id)
    assert state.announced is (CaptureStatus.FAILED if announced else None)


def test_open_captures_are_pending_or_requires_action_touched_before_the_moment(
    ledger: OrderRepository,
) -> None:
    order, capture = stored_with_capture(ledger)
    later = pending_capture(
        order, "s2", status=CaptureStatus.REQUIRES_ACTION, updated_at=T0 + timedelta(minutes=5)
    )
    assert ledger.settle_failure(None, None, later, None)
    assert ledger.list_open_captures(T0) == []
    assert ledger.list_open_captures(T0 + timedelta(minutes=1)) == [capture]
    assert ledger.list_open_captures(T0 + timedelta(hours=1)) == [capture, later]
    assert ledger.list_captures(order.merchant_id, order.order_id) == [capture, later]


def test_the_provider_reference_is_noted_only_while_pending(ledger: OrderRepository) -> None:
    order, capture = stored_with_capture(ledger)
    noted = capture.model_copy(
        update={"provider_reference": "cap_a", "status_at_provider": "pending"}
    )
    ledger.await_provider(noted)
    assert ledger.get_capture(order.merchant_id, order.order_id, capture.capture_id) == noted
    ledger.confirm(noted.model_copy(update={"status": CaptureStatus.CAPTURED}))
    ledger.await_provider(noted.model_copy(update={"provider_reference": "cap_b"}))
    stored = ledger.get_capture(order.merchant_id, order.order_id, capture.capture_id)
    assert stored is not None
    assert (stored.status, stored.provider_reference) == (CaptureStatus.CAPTURED, "cap_a")


# --- confirmations ---------------------------------------------------------------------------


def test_a_task_token_is_noted_only_beside_a_pending_capture(ledger: OrderRepository) -> None:
    order, capture = stored_with_capture(ledger)
    assert (
        ledger.confirmation_state(order.merchant_id, order.order_id, capture.capture_id).task_token
        is None
    )
    assert ledger.await_confirmation(capture, "token-1")
    state = ledger.confirmation_state(order.merchant_id, order.order_id, capture.capture_id)
    assert (state.task_token, state.announced) == ("token-1", None)
    assert ledger.claim_announcement(
        order.merchant_id, order.order_id, capture.capture_id, CaptureStatus.CAPTURED
    )
    assert ledger.confirmation_state(
        order.merchant_id, order.order_id, capture.capture_id
    ).announced == (CaptureStatus.CAPTURED)
    ledger.confirm(capture.model_copy(update={"status": CaptureStatus.CAPTURED}))
    assert not ledger.await_confirmation(capture, "token-2")
    assert (
        ledger.confirmation_state(order.merchant_id, order.order_id, capture.capture_id).task_token
        == "token-1"
    )
    assert ledger.find_capture(order.merchant_id, "cap-unknown") is None
    # taken back
    assert ledger.withdraw_announcement(
        order.merchant_id, order.order_id, capture.capture_id, CaptureStatus.CAPTURED
    )
    assert (
        ledger.confirmation_state(order.merchant_id, order.order_id, capture.capture_id).announced
        is None
    )


def test_defect_16_an_announcement_on_an_unknown_capture_writes_nothing(
    ledger: OrderRepository,
) -> None:
    # An unconditional UpdateItem created a CAPTURE_REF holding only its key, which
    # find_capture then failed to read (KeyError on order_id).
    order = new_order()
    captured = CaptureStatus.CAPTURED
    assert not ledger.claim_announcement(
        order.merchant_id, order.order_id, "cap-never-reserved", captured
    )
    assert not ledger.withdraw_announcement(
        order.merchant_id, order.order_id, "cap-never-reserved", captured
    )
    assert ledger.find_capture(order.merchant_id, "cap-never-reserved") is None
    state = ledger.confirmation_state(order.merchant_id, order.order_id, "cap-never-reserved")
    assert (state.task_token, state.announced) == (None, None)


def test_campaign_an_announcement_is_claimed_by_one_caller_and_withdrawn_by_its_holder(
    ledger: OrderRepository,
) -> None:
    order, capture = stored_with_capture(ledger)
    merchant, order_id, capture_id = order.merchant_id, order.order_id, capture.capture_id
    # Of two callers that find no note, one claims it
    assert ledger.claim_announcement(merchant, order_id, capture_id, CaptureStatus.CAPTURED)
    assert not ledger.claim_announcement(merchant, order_id, capture_id, CaptureStatus.CAPTURED)
    # Only the note that is there is withdrawn (a reversal's note is not a capture's)
    assert not ledger.withdraw_announcement(merchant, order_id, capture_id, CaptureStatus.FAILED)
    assert ledger.withdraw_announcement(merchant, order_id, capture_id, CaptureStatus.CAPTURED)
    assert not ledger.withdraw_announcement(merchant, order_id, capture_id, CaptureStatus.CAPTURED)
    # Withdrawn, it can be claimed again (the retry of a failed announcement)
    assert ledger.claim_announcement(merchant, order_id, capture_id, CaptureStatus.CAPTURED)
    # A later outcome (a reversal) is a new note
    assert ledger.claim_announcement(merchant, order_id, capture_id, CaptureStatus.FAILED)
    assert (
        ledger.confirmation_state(merchant, order_id, capture_id).announced is CaptureStatus.FAILED
    )
    # A failed note is final: a success read before the reversal claims nothing (issue 12)
    assert not ledger.claim_announcement(merchant, order_id, capture_id, CaptureStatus.CAPTURED)
    assert (
        ledger.confirmation_state(merchant, order_id, capture_id).announced is CaptureStatus.FAILED
    )


@pytest.mark.parametrize("announced", [True, False])
def test_a_confirm_notes_the_announcement_only_when_its_confirmer_announces(
    ledger: OrderRepository, announced: bool
) -> None:
    order, capture = stored_with_capture(ledger)
    done = capture.model_copy(update={"status": CaptureStatus.CAPTURED})
    assert ledger.confirm(done, announced=announced)
    state = ledger.confirmation_state(order.merchant_id, order.order_id, capture.capture_id)
    assert state.announced == (CaptureStatus.CAPTURED if announced else None)
    # A confirm that finds it settled writes nothing, the marker included.
    ledger.withdraw_announcement(
        order.merchant_id, order.order_id, capture.capture_id, CaptureStatus.CAPTURED
    )
    assert not ledger.confirm(done, announced=True)
    assert (
        ledger.confirmation_state(order.merchant_id, order.order_id, capture.capture_id).announced
        is None
    )


# --- history -----------------------------------------------------------------------------------


def test_every_accepted_change_writes_one_history_entry_and_a_refused_one_none(
    ledger: OrderRepository,
) -> None:
    """Both ledgers keep the same history: reserved, sent, confirmed, refund_reserved, refunded
    (a refused write, here a second confirm, writes no entry)."""
    assert isinstance(ledger, HistoryReader)
    order, capture = stored_with_capture(ledger)
    sent = capture.model_copy(
        update={"provider_reference": "cap_1", "status_at_provider": "pending"}
    )
    ledger.await_provider(sent)
    done = sent.model_copy(
        update={
            "status": CaptureStatus.CAPTURED,
            "updated_at": T0 + timedelta(seconds=1),
        }
    )
    assert ledger.confirm(done)
    assert not ledger.confirm(done)
    stored = ledger.get_capture(order.merchant_id, order.order_id, capture.capture_id)
    assert stored is not None
    refund = new_refund(stored).model_copy(update={"updated_at": T0 + timedelta(seconds=2)})
    assert ledger.reserve_refund(stored, refund) is None
    settled = refund.model_copy(
        update={
            "status": RefundStatus.REFUNDED,
            "provider_reference": "re_1",
            "updated_at": T0 + timedelta(seconds=3),
        }
    )
    assert ledger.confirm_refund(settled)

    entries = ledger.capture_history(order.merchant_id, order.order_id, capture.capture_id)

    assert [(e.change, e.from_status, e.to_status) for e in entries] == [
        ("reserved", None, "pending"),
        ("sent", "pending", "pending"),
        ("confirmed", "pending", "captured"),
        ("refund_reserved", None, "pending"),
        ("refunded", "pending", "refunded"),
    ]
    assert [e.provider_reference for e in entries] == [None, "cap_1", "cap_1", None, "re_1"]
    assert ledger.capture_history(order.merchant_id, order.order_id, "cap-unknown") == []


def test_defect_6_the_note_names_its_announcer_written_by_the_settle_or_the_claim(
    ledger: OrderRepository,
) -> None:
    # Given a capture confirmed by its execution, noting the announcement (issue 12: the
    # retry of the same announcer asks "is the note mine")
    order, capture = stored_with_capture(ledger)
    ids = order.merchant_id, order.order_id, capture.capture_id
    done = capture.model_copy(update={"status": CaptureStatus.CAPTURED})
    assert ledger.confirm(done, announced=True)
    mine = announcer_for(capture.execution_id)
    captured = CaptureStatus.CAPTURED
    # Then the note is that execution's, of that outcome, and nobody else's
    assert ledger.is_announcer(*ids, captured, mine)
    assert not ledger.is_announcer(*ids, CaptureStatus.FAILED, mine)
    assert not ledger.is_announcer(*ids, captured, "reconciliation::")
    # Withdrawn, it is nobody's; claimed by another, it is the claimer's
    assert ledger.withdraw_announcement(*ids, captured)
    assert not ledger.is_announcer(*ids, captured, mine)
    with acting(Actor(kind="webhook"), notification="CAPTURE psp-1 succeeded"):
        webhook = announcer_for(capture.execution_id)
    assert webhook == "webhook::CAPTURE psp-1 succeeded"
    assert ledger.claim_announcement(*ids, captured, webhook)
    assert ledger.is_announcer(*ids, captured, webhook)
    assert not ledger.is_announcer(*ids, captured, mine)
    # A capture never reserved has no note
    assert not ledger.is_announcer(order.merchant_id, order.order_id, "cap-none", captured, mine)
