"""The API campaign's verdict counts each kind of defect the issue lists: given a ledger and
provider records that show one, its figure is one; given consistent ones, every figure is zero.
(The campaign itself is in tests/statemachine/test_fault_campaign.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from order_capture.adapters.dynamodb.layout import order_catalog, order_counters, order_header
from order_capture.domain.merchant_api import api_shipment_id
from order_capture.models import Authorization, Order, OrderLine, capture_id_for
from order_capture_local.aplazame_sandbox import AplazameState
from order_capture_local.chaos.api import ApiCampaign, World
from order_capture_local.chaos.api_plan import MERCHANT, Sent
from order_capture_local.chaos.api_verdict import ApiVerdict
from order_capture_local.sandbox_state import SandboxState

ORDER_TOTAL = 10171  # two lines: 101 of 6651, 102 of 3520


def order(provider: str = "sandbox", **totals: int) -> list[dict[str, Any]]:
    """The order's ledger items (header, catalog, line counters)."""
    placed = Order(
        merchant_id=MERCHANT,
        order_id="o-1",
        currency="EUR",
        lines=[
            OrderLine(item_id="101", sku="A", quantity=1, unit_amount=6651),
            OrderLine(item_id="102", sku="B", quantity=1, unit_amount=3520),
        ],
        shipping_amount=0,
        payment=Authorization(
            provider=provider,
            reference="auth-1",
            authorized_amount=ORDER_TOTAL,
            expires_at=datetime(2099, 1, 1, tzinfo=UTC),
        ),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
        **totals,
    )
    key = f"ORDER#{MERCHANT}#o-1"
    return [
        {"PK": key, "SK": "ORDER", **order_header(placed)},
        {"PK": key, "SK": "LINES", **order_catalog(placed)},
        {"PK": key, "SK": "LINE_COUNTERS", **order_counters(placed)},
    ]


def capture(capture_id: str, amount: int, **fields: Any) -> dict[str, Any]:
    return {
        "PK": f"ORDER#{MERCHANT}#o-1",
        "SK": f"CAPTURE#{capture_id}",
        "capture_id": capture_id,
        "order_id": "o-1",
        "status": "captured",
        "amount": amount,
        "provider_reference": None,
        "lines": [],
        "refunded_amount": 0,
        "refund_pending_amount": 0,
    } | fields


def refund(
    capture_id: str, refund_id: str, amount: int, status: str = "refunded"
) -> dict[str, Any]:
    return {
        "PK": f"ORDER#{MERCHANT}#o-1",
        "SK": f"REFUND#{capture_id}#{refund_id}",
        "refund_id": refund_id,
        "capture_id": capture_id,
        "amount": amount,
        "status": status,
    }


def at_sandbox(key: str, amount: int, status: str = "succeeded", **fields: Any) -> dict[str, Any]:
    return {
        "id": f"cap_{key}",
        "authorization_id": "auth-1",
        "amount": amount,
        "status": status,
        "idempotency_key": key,
        "metadata": {"merchant_id": MERCHANT},
        "refunded_amount": 0,
        "refunds": [],
    } | fields


def figures(
    ledger: list[dict[str, Any]],
    sandbox: list[dict[str, Any]] | None = None,
    aplazame: list[dict[str, Any]] | None = None,
    sent: list[Sent] | None = None,
) -> dict[str, int]:
    sandbox_state = SandboxState(captures=sandbox or [])
    aplazame_state = AplazameState(captures={"auth-1": aplazame or []})
    world = cast(
        World, SimpleNamespace(sandbox=SimpleNamespace(state=sandbox_state),
                               aplazame=SimpleNamespace(state=aplazame_state))
    )  # fmt: skip
    campaign = ApiCampaign(seed=1, orders_wanted=0, sent=sent or [])
    found = ApiVerdict(campaign, world, ledger).check()["figures"]
    return {name: n for name, n in found.items() if n}


def test_a_consistent_ledger_and_provider_count_nothing() -> None:
    ledger = [
        *order(captured_amount=ORDER_TOTAL, refunded_amount=1000),
        capture("c1", ORDER_TOTAL, refunded_amount=1000),
        refund("c1", "r1", 1000),
    ]
    made_refund = {"idempotency_key": "r1", "amount": 1000, "status": "succeeded"}
    made = at_sandbox("c1", ORDER_TOTAL, refunded_amount=1000, refunds=[made_refund])
    assert figures(ledger, [made]) == {}


def test_defect_1_an_aplazame_refund_made_twice_is_counted() -> None:
    ledger = [
        *order("aplazame", captured_amount=ORDER_TOTAL, refunded_amount=1000),
        capture("c1", ORDER_TOTAL, provider_reference="apl-1", refunded_amount=1000),
        refund("c1", "r1", 1000),
    ]
    made = {"id": "apl-1", "amount": ORDER_TOTAL, "refunds": [{"amount": 1000}, {"amount": 1000}]}
    found = figures(ledger, aplazame=[made])
    assert found["refunds_twice_at_provider"] == 1


def test_defect_2_a_retry_that_captured_lines_nobody_asked_for_is_counted() -> None:
    key = "capture_omnitron-1"
    capture_id = capture_id_for(MERCHANT, "o-1", api_shipment_id(MERCHANT, key))
    # The capture's lines, as the ledger keeps them: by position in the order's catalog.
    lines = {"positions": [0, 1], "quantities": [1, 1], "amounts": [6651, 3520]}
    ledger = [
        *order(captured_amount=ORDER_TOTAL),
        capture(capture_id, ORDER_TOTAL),
        {"PK": f"ORDER#{MERCHANT}#o-1", "SK": f"CAPTURE_LINES#{capture_id}", **lines},
    ]
    sent = Sent("capture_omnitron", "o-1", "POST", "/api/v1/capture-order/", {}, key,
                asked={"101": None}, status=200)  # fmt: skip
    found = figures(ledger, [at_sandbox(capture_id, ORDER_TOTAL)], sent=[sent])
    assert found == {"over_captures": 1}


def test_defect_3_a_cancellation_that_took_captured_money_is_counted() -> None:
    ledger = [
        *order(captured_amount=ORDER_TOTAL, canceled_amount=ORDER_TOTAL),
        capture("c1", ORDER_TOTAL),
    ]
    found = figures(ledger, [at_sandbox("c1", ORDER_TOTAL)])
    assert found == {"cancellations_took_captured_money": 1}


def test_a_capture_the_provider_made_twice_or_failed_is_counted() -> None:
    ledger = [*order(captured_amount=5000), capture("c1", 5000)]
    twice = figures(ledger, [at_sandbox("c1", 5000), at_sandbox("c1", 5000)])
    assert twice["double_provider_captures"] == 1
    failed = figures(ledger, [at_sandbox("c1", 5000, status="failed")])
    assert failed["ledger_provider_mismatches"] >= 1


def test_a_refund_beyond_its_capture_is_counted() -> None:
    ledger = [
        *order(captured_amount=5000, refunded_amount=6000),
        capture("c1", 5000, refunded_amount=6000),
        refund("c1", "r1", 6000),
    ]
    made = at_sandbox("c1", 5000, refunds=[{"idempotency_key": "r1", "amount": 6000,
                                            "status": "succeeded"}])  # fmt: skip
    assert figures(ledger, [made])["refunds_over_refunded"] >= 1


def test_a_success_the_ledger_lacks_and_an_answer_never_given_are_lost() -> None:
    answered = Sent("capture_amount", "o-1", "POST", "/orders/o-1/captures", {"amount": 1},
                    "capture_amount-1", status=200)  # fmt: skip
    unanswered = Sent("refund", "o-1", "POST", "/orders/o-1/captures/c/refunds", {"amount": 1},
                      "refund-1", status=503)  # fmt: skip
    assert figures(order(), sent=[answered, unanswered]) == {"lost_shipments": 2}
