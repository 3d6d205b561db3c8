"""The in-memory ledger and the DynamoDB adapter (moto) given the same random sequence of
writes, fresh and stale, answer each the same way and end up holding the same ledger."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from order_capture.errors import OrderChangedError
from order_capture.models import CaptureStatus, FailureReason, RefundStatus
from order_capture.ports import OrderRepository
from order_capture_local.memory_ledger import MemoryLedger
from tests.integration.ledger_contract_support import (
    T0,
    new_order,
    new_refund,
    pending_capture,
    reserved,
)

SHIPMENTS = ["s1", "s2"]
REFUNDS = ["r1", "r2"]
FAILURE = FailureReason(reason="declined", message="no", error="ProviderDeclinedError")

operations = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), st.sampled_from(SHIPMENTS), st.booleans()),
        st.tuples(
            st.just("confirm"), st.sampled_from(SHIPMENTS), st.tuples(st.booleans(), st.booleans())
        ),
        st.tuples(
            st.just("settle_failure"),
            st.sampled_from(SHIPMENTS),
            st.sampled_from([None, *CaptureStatus]),
        ),
        st.tuples(st.just("await_confirmation"), st.sampled_from(SHIPMENTS), st.just(None)),
        st.tuples(st.just("reserve_refund"), st.sampled_from(SHIPMENTS), st.sampled_from(REFUNDS)),
        st.tuples(
            st.just("settle_refund"),
            st.sampled_from(SHIPMENTS),
            st.sampled_from(
                [
                    (refund_id, outcome)
                    for refund_id in REFUNDS
                    for outcome in ("confirm", "fail", "reverse", "note")
                ]
            ),
        ),
    ),
    min_size=1,
    max_size=12,
)


#: Every example writes an order of its own, to a table of its own.
ORDER_IDS = (f"order-{n}" for n in itertools.count())


def apply(
    ledger: OrderRepository, order_id: str, step: int, operation: tuple[str, str, Any]
) -> Any:
    """One write, built from what ``ledger`` holds now; its answer or the error's class."""
    name, shipment, argument = operation
    order = ledger.get_order("merchant-1", order_id)
    assert order is not None
    capture = pending_capture(order, shipment, amount=500 + step)
    stored = ledger.get_capture("merchant-1", order_id, capture.capture_id)
    moment = T0 + timedelta(seconds=step)
    try:
        if name == "reserve":
            stale = argument
            return ledger.reserve(reserved(order, capture), order.version - stale, capture)
        if stored is None:
            return "no capture"
        if name == "confirm":
            releases, announced = argument
            return ledger.confirm(
                stored.model_copy(
                    update={
                        "status": CaptureStatus.CAPTURED,
                        "provider_reference": f"ref-{step}",
                        "releases_authorization": releases,
                        "updated_at": moment,
                    }
                ),
                announced=announced,
            )
        if name == "settle_failure":
            failed = stored.model_copy(
                update={"status": CaptureStatus.FAILED, "failure": FAILURE, "updated_at": moment}
            )
            released = order.model_copy(update={"version": order.version + 1})
            return ledger.settle_failure(released, order.version, failed, argument)
        if name == "await_confirmation":
            return ledger.await_confirmation(stored, f"token-{step}")
        if name == "reserve_refund":
            new = new_refund(stored, f"{order_id}-{argument}", amount=100)
            return ledger.reserve_refund(stored, new)
        refund_id, outcome = argument
        refund = next(
            (
                r
                for r in ledger.list_refunds("merchant-1", order_id)
                if r.refund_id == f"{order_id}-{refund_id}"
            ),
            None,
        )
        if refund is None:
            return "no refund"
        if outcome == "note":
            return ledger.await_refund(refund.model_copy(update={"provider_reference": "re"}))
        status = RefundStatus.REFUNDED if outcome == "confirm" else RefundStatus.FAILED
        settled = refund.model_copy(
            update={"status": status, "updated_at": moment, "failure": FAILURE}
        )
        settle = {
            "confirm": ledger.confirm_refund,
            "fail": ledger.fail_refund,
            "reverse": ledger.reverse_refund,
        }[outcome]
        return settle(settled)
    except OrderChangedError as error:
        return type(error).__name__


def held(ledger: OrderRepository, order_id: str) -> dict[str, Any]:
    """Everything the ledger's reads show of the order."""
    far = T0 + timedelta(days=365 * 200)
    captures = ledger.list_captures("merchant-1", order_id)
    return {
        "order": ledger.get_order("merchant-1", order_id),
        "captures": captures,
        "refunds": ledger.list_refunds("merchant-1", order_id),
        "open captures": [c for c in ledger.list_open_captures(far) if c.order_id == order_id],
        "open refunds": [r for r in ledger.list_open_refunds(far) if r.order_id == order_id],
        "expiring": [o for o in ledger.list_orders_expiring_before(far) if o.order_id == order_id],
        "confirmations": [
            ledger.confirmation_state("merchant-1", capture.order_id, capture.capture_id)
            for capture in captures
        ],
        "found": [ledger.find_capture("merchant-1", capture.capture_id) for capture in captures],
    }


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(sequence=operations)
def test_both_ledgers_answer_every_sequence_of_writes_alike(
    fresh_repository: Callable[[], OrderRepository], sequence: list[tuple[str, str, Any]]
) -> None:
    memory, repository, order_id = MemoryLedger(), fresh_repository(), next(ORDER_IDS)
    for ledger in (memory, repository):
        assert ledger.create_order(new_order(order_id)) is None
    for step, operation in enumerate(sequence):
        answers = [apply(ledger, order_id, step, operation) for ledger in (memory, repository)]
        assert answers[0] == answers[1], (step, operation)
    assert held(memory, order_id) == held(repository, order_id)
