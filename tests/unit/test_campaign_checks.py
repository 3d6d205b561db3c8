"""The campaign's announcement and release figures count what they name: given events or
provider records that show a defect, its figure counts it; given consistent ones, nothing.
(The campaign itself is in tests/statemachine/test_fault_campaign.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from order_capture.models import Authorization, CaptureStatus, Order, OrderLine
from order_capture.public_events import capture_failed_id, captured_id
from order_capture_local.aplazame_sandbox import AplazameState
from order_capture_local.chaos.checks import announcement_figures, release_figures
from order_capture_local.chaos.events import lost_shipments
from order_capture_local.sandbox_state import SandboxState

AUTHORIZED = 12000  # an order of 10000, authorized for 12000: 2000 to release once finished


def event(
    detail_type: str, capture_id: str, status: str, announcement_id: str | None = None
) -> dict[str, Any]:
    """An emitted event; its ``announcement_id`` as the service derives it unless given."""
    if announcement_id is None:
        announcement_id = (
            captured_id(capture_id)
            if detail_type == "Payment Captured"
            else capture_failed_id(capture_id, CaptureStatus(status), "x:run-1")
        )
    return {
        "source": "order-capture",
        "detail-type": detail_type,
        "detail": {
            "announcement_id": announcement_id,
            "capture_id": capture_id,
            "status": status,
            "execution_id": "x:run-1",
        },
    }


def captured(capture_id: str) -> dict[str, Any]:
    return {"capture_id": capture_id, "order_id": "o-1", "status": "captured"}


def failed(capture_id: str) -> dict[str, Any]:
    return {"capture_id": capture_id, "order_id": "o-1", "status": "failed"}


def figures(emitted: list[dict[str, Any]], captures: list[dict[str, Any]]) -> dict[str, int]:
    return {name: count for name, (count, _) in announcement_figures(emitted, captures).items()}


def test_captures_and_failures_announced_once_count_nothing() -> None:
    emitted = [
        event("Payment Captured", "c-1", "captured"),
        event("Payment Capture Failed", "c-2", "failed"),
    ]
    assert figures(emitted, [captured("c-1"), failed("c-2")]) == {
        "captures_announced_wrongly": 0,
        "failures_announced_wrongly": 0,
        "announcements_repeated": 0,
    }


def test_a_failure_announced_under_two_announcement_ids_is_counted() -> None:
    emitted = [
        event("Payment Capture Failed", "c-2", "failed"),
        event("Payment Capture Failed", "c-2", "failed", announcement_id="c-2:other"),
    ]
    assert figures(emitted, [failed("c-2")])["failures_announced_wrongly"] == 1


def test_defect_6_a_repeat_with_the_same_announcement_id_is_reported_apart_never_hidden() -> None:
    # Given a capture announced three times under one announcement_id (its Record died right
    # after PutEvents answered, twice) and a failure announced twice under one
    emitted = [event("Payment Captured", "c-1", "captured")] * 3 + [
        event("Payment Capture Failed", "c-2", "failed")
    ] * 2
    # Then the repeats are counted in their own figure, and nothing is wrong
    assert figures(emitted, [captured("c-1"), failed("c-2")]) == {
        "captures_announced_wrongly": 0,
        "failures_announced_wrongly": 0,
        "announcements_repeated": 3,
    }
    # And a repeat without an announcement_id, or a capture never announced, still is
    unnamed = [event("Payment Captured", "c-1", "captured", announcement_id="None")]
    assert figures(emitted[:1] + unnamed, [captured("c-1")])["captures_announced_wrongly"] == 1
    assert figures([], [captured("c-1")])["captures_announced_wrongly"] == 1


def test_a_failure_announced_for_money_that_was_captured_is_counted() -> None:
    emitted = [
        event("Payment Capture Failed", "c-1", "failed"),
        event("Payment Captured", "c-1", "captured"),
    ]
    assert figures(emitted, [captured("c-1")]) == {
        "captures_announced_wrongly": 0,
        "failures_announced_wrongly": 1,
        "announcements_repeated": 0,
    }


def test_a_capture_never_announced_or_announced_under_two_ids_is_counted() -> None:
    emitted = [
        event("Payment Captured", "c-2", "captured"),
        event("Payment Captured", "c-2", "captured", announcement_id="c-2:other"),
    ]
    assert figures(emitted, [captured("c-1"), failed("c-2")])["captures_announced_wrongly"] == 2


def order(provider: str = "sandbox", captured_amount: int = 10000, reserved: int = 0) -> Order:
    return Order(
        merchant_id="m",
        order_id="o-1",
        currency="EUR",
        lines=[OrderLine(item_id="101", sku="A", quantity=1, unit_amount=10000)],
        shipping_amount=0,
        payment=Authorization(
            provider=provider,
            reference="auth-1",
            authorized_amount=AUTHORIZED,
            expires_at=datetime(2099, 1, 1, tzinfo=UTC),
        ),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
        captured_amount=captured_amount,
        reserved_amount=reserved,
    )


def sandbox(*releases: dict[str, Any], released: bool = True) -> SandboxState:
    state = SandboxState()
    state.authorizations["auth-1"] = {"id": "auth-1", "amount": AUTHORIZED, "released": released}
    state.releases.extend(releases)
    return state


def release(
    by: str = "release", in_flight: list[str] | None = None, key: str = "key-1"
) -> dict[str, Any]:
    return {
        "authorization_id": "auth-1",
        "by": by,
        "key": key,
        "captures_in_flight": in_flight or [],
    }


def counts(orders: list[Order], state: SandboxState, aplazame: AplazameState | None = None) -> Any:
    return {name: count for name, (count, _) in release_figures(orders, state, aplazame).items()}


def test_a_finished_order_released_once_counts_nothing() -> None:
    assert counts([order()], sandbox(release("final capture"))) == {
        "releases_twice": 0,
        "releases_while_capturing": 0,
        "releases_missing": 0,
        "captures_after_a_reversal": 0,
    }


def test_an_authorization_released_twice_is_counted() -> None:
    state = sandbox(release("final capture"), release("release"))
    assert counts([order()], state)["releases_twice"] == 1


def test_an_authorization_released_twice_names_each_release_and_its_key() -> None:
    # Given a final capture that released the rest and a release request after it
    state = sandbox(release("final capture", key="cap-key"), release("release", key="rel-key"))
    aplazame = AplazameState()
    aplazame.orders["ap-1"] = {"amount": AUTHORIZED, "captured": 0, "voided": 2000}
    aplazame.voids += [{"order_id": "ap-1", "amount": 2000, "voided": 2000}]
    aplazame.voids += [{"order_id": "ap-1", "amount": 2000, "voided": 0}]
    # Then the examples say who released each, under which key, and what each void voided
    _, examples = release_figures([order()], state, aplazame)["releases_twice"]
    assert examples == [
        "auth-1 released 2x: final capture under key cap-key; release under key rel-key",
        "ap-1 released 2x: void of 2000 (voided 2000); void of 2000 (voided 0)",
    ]


def test_a_capture_after_its_release_names_the_capture_and_who_released() -> None:
    state = sandbox(release("release", key="rel-key"))
    state.captures_after_release.append("auth-1")
    state.refused_after_release.append(
        {"authorization_id": "auth-1", "key": "cap-key", "amount": 700, "final": True}
    )
    _, examples = release_figures([order()], state)["releases_while_capturing"]
    assert examples == [
        "auth-1: a capture after its release (700 under key cap-key, final; "
        "released by: release under key rel-key)"
    ]


def test_a_release_while_a_capture_is_in_flight_and_a_capture_after_it_are_counted() -> None:
    state = sandbox(release(in_flight=["cap_1"]))
    state.captures_after_release.append("auth-1")
    assert counts([order()], state)["releases_while_capturing"] == 2


def test_a_finished_order_whose_remainder_is_still_held_is_counted() -> None:
    assert counts([order()], sandbox(released=False))["releases_missing"] == 1
    # An order still capturing (or with a capture in flight) has nothing to release yet
    assert counts([order(captured_amount=4000)], sandbox(released=False))["releases_missing"] == 0
    in_flight = order(captured_amount=4000, reserved=6000)
    assert counts([in_flight], sandbox(released=False))["releases_missing"] == 0


def test_aplazame_voided_twice_or_never_is_counted() -> None:
    aplazame = AplazameState()
    aplazame.orders["auth-1"] = {"amount": AUTHORIZED, "captured": 10000, "voided": 0}
    finished = order("aplazame")
    assert counts([finished], SandboxState(), aplazame)["releases_missing"] == 1
    aplazame.orders["auth-1"]["voided"] = 2000
    aplazame.voids += [{"order_id": "auth-1", "amount": 2000, "voided": 2000}] * 2
    aplazame.captures_after_void.append("auth-1")
    assert counts([finished], SandboxState(), aplazame) == {
        "releases_twice": 1,
        "releases_while_capturing": 1,
        "releases_missing": 0,
        "captures_after_a_reversal": 0,
    }


def test_a_final_capture_the_sandbox_confirmed_then_reversed_is_not_judged() -> None:
    # No provider both releases on a final capture (Stripe) and reverses a confirmed capture
    # (Adyen): the service's release after the reversal, and the captures refused, are the
    # sandbox's hybrid, not the service's
    state = sandbox(release("final capture"), release("release"))
    state.captures.append({"authorization_id": "auth-1", "final": True, "status": "failed"})
    state.captures_after_release.append("auth-1")
    assert counts([order(captured_amount=0)], state) == {
        "releases_twice": 0,
        "releases_while_capturing": 0,
        "releases_missing": 0,
        "captures_after_a_reversal": 0,
    }
    # while a final capture that failed without being confirmed released nothing to excuse
    state = sandbox(release("release"), release("release"))
    state.captures.append({"authorization_id": "auth-1", "final": True, "status": "failed"})
    assert counts([order()], state)["releases_twice"] == 1


def test_review_captures_refused_after_a_reversal_are_reported_apart_not_judged() -> None:
    # A capture confirmed, then reversed (Adyen's late CAPTURE_FAILED), on an authorization
    # another, final, capture released (Stripe's final_capture): its units are capturable
    # again and the sandbox refuses every capture of them. No provider does both.
    state = sandbox(release("final capture", key="final-key"))
    refused = {"authorization_id": "auth-1", "key": "again", "amount": 700, "final": True}
    state.captures_after_release.append("auth-1")
    state.refused_after_release.append(refused)
    assert counts([order(captured_amount=9300)], state)["releases_while_capturing"] == 1
    state.reversed_captures.add("auth-1")
    figures = release_figures([order(captured_amount=9300)], state)
    assert figures["releases_while_capturing"] == (0, [])
    assert figures["captures_after_a_reversal"] == (
        1,
        ["auth-1: 700 under key again after a reversal"],
    )
    # Released by the service's own release request, not a final capture: judged
    state = sandbox(release("release"))
    state.captures_after_release.append("auth-1")
    state.refused_after_release.append(refused)
    state.reversed_captures.add("auth-1")
    assert counts([order(captured_amount=9300)], state)["releases_while_capturing"] == 1


def test_a_capture_announced_wrongly_names_who_emitted_each_event() -> None:
    # Given a capture announced twice under two ids, by a step's retry and by a webhook's
    # second copy
    emitted = [
        {
            **event("Payment Captured", "c-1", "captured", announcement_id=f"c-1:{n}"),
            "emitted_by": by,
        }
        for n, by in enumerate(
            (
                "12:00:01.000 RecordFunction exec run-1 attempt 2",
                "12:00:01.500 ApiFunction POST /webhooks/sandbox body 1a2b3c4d copy 2",
            )
        )
    ]
    # Then its example names both emitters and their moments, in the order they emitted
    count, (example,) = announcement_figures(emitted, [captured("c-1")])[
        "captures_announced_wrongly"
    ]
    assert count == 1
    assert example.endswith(
        "(captured by 12:00:01.000 RecordFunction exec run-1 attempt 2; captured by "
        "12:00:01.500 ApiFunction POST /webhooks/sandbox body 1a2b3c4d copy 2)"
        " [note None held by None]"
    )


def test_a_capture_never_announced_says_what_its_ledger_item_notes() -> None:
    # Given a capture confirmed by reconciliation, its note held, and nothing announced
    item = {
        **captured("c-1"),
        "announced": "captured",
        "announced_by": "reconciliation::",
        "history": [
            {"change": "reserved"},
            {"change": "confirmed", "by": {"kind": "reconciliation"}},
        ],
    }
    # Then its example says who settled it and who holds its note
    _, (example,) = announcement_figures([], [item])["captures_announced_wrongly"]
    assert example.endswith(
        "announced captured 0x, failed 0x [note captured held by reconciliation::; "
        "reserved by execution; confirmed by reconciliation]"
    )


def test_a_succeeded_execution_without_output_is_counted_lost_not_a_crash() -> None:
    """Session 10's campaign crashed on an execution read as SUCCEEDED before its output was
    set: such an outcome proves nothing was due, so its unsettled shipment counts as lost."""
    outcomes: dict[str, dict[str, Any]] = {
        "o-1/s-1": {"states": [], "status": "SUCCEEDED", "output": None},
        "o-1/s-2": {
            "states": [],
            "status": "SUCCEEDED",
            "output": {"nothing_to_capture": {"amount": 0}},
        },
        "o-1/s-3": {"states": [], "status": "FAILED"},
        "o-1/s-4": {"states": [], "status": "SUCCEEDED", "output": None},
    }
    settled = {("o-1", "s-4")}

    assert lost_shipments(outcomes, settled) == 2  # s-1 (no output) and s-3 (failed)
    assert lost_shipments({"o-1/s-2": outcomes["o-1/s-2"]}, set()) == 0
