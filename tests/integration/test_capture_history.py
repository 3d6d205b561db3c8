"""A capture's history on the moto ledger: each change of its state (and of its refunds') is
written in the same write as the change (a capture's own changes on its ``CAPTURE#`` item, a
refund's as an item of its own): no extra request; who made it, from what to what, when, the
provider's reference or error."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from order_capture.domain import capture_rules, failures, provider_webhooks, refunds, service
from order_capture.domain.reconciliation import reconcile_open_captures
from order_capture.models import CaptureRequest, OrderPlacedDetail, PlannedCapture
from order_capture.ports import ProviderNotification
from tests.factories import order_placed
from tests.fake_providers import RecordingProvider
from tests.integration.api_support import Merchant, captured, local_api, merchant, refund
from tests.support import FixedClock, NothingWaits, RecordingPublisher

__all__ = ["local_api", "merchant"]  # fixtures


@pytest.fixture
def requests_made(repository: Any) -> Iterator[Counter[str]]:
    """Every DynamoDB request the repository's client makes, by operation."""
    made: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        made[model.name] += 1

    events = repository.client.meta.events
    events.register("before-call.dynamodb", count)
    try:
        yield made
    finally:
        events.unregister("before-call.dynamodb", count)


def changes(repository: Any, capture: Any) -> list[tuple[str, str | None, str, str, str | None]]:
    history = repository.capture_history(capture.merchant_id, capture.order_id, capture.capture_id)
    return [
        (e.change, e.from_status, e.to_status, e.by.kind, e.provider_reference) for e in history
    ]


def reserved_and_sent(repository: Any, clock: FixedClock, answer: str = "pending") -> Any:
    detail = OrderPlacedDetail.model_validate(order_placed()["detail"])
    service.register_order(repository, detail, clock)
    request = CaptureRequest(
        merchant_id=detail.merchant_id, order_id=detail.order_id, shipment_id="s-1", amount=5000
    )
    plan = capture_rules.plan_capture(
        service.load_for_capture(repository, request).order, request, clock.now()
    )
    provider = RecordingProvider()
    provider.answer = answer  # type: ignore[assignment]
    return service.execute_capture(
        repository,
        provider,
        planned=PlannedCapture(request=request, plan=plan),
        execution_id="exec-1",
        now=clock.now(),
    )


def test_a_capture_reserved_sent_and_confirmed_has_three_history_entries_and_no_extra_request(
    repository: Any, clock: FixedClock, requests_made: Counter[str]
) -> None:
    # Reserved and sent: the provider received it and confirms later (Adyen's way)
    sent = reserved_and_sent(repository, clock)
    # Then its webhook confirms it
    clock.current += timedelta(seconds=5)
    provider_webhooks.apply_notification(
        repository,
        NothingWaits(),
        RecordingPublisher(),
        merchant_id=sent.merchant_id,
        provider=sent.provider,
        notification=ProviderNotification(
            subject="capture",
            outcome="succeeded",
            event="CAPTURE",
            reference=sent.capture_id,
            provider_reference=str(sent.provider_reference),
        ),
        now=clock.now(),
    )
    # Each state change was one write request, its history entry within it
    writes = {op: n for op, n in requests_made.items() if op not in {"GetItem", "BatchGetItem"}}
    # register, reserve, confirmed: one transaction each; sent: one UpdateItem (its entry
    # folded into the capture item, issue 15). No announcement here: the confirmation
    # workflow that waits for it announces it
    assert writes == {"TransactWriteItems": 3, "UpdateItem": 1}
    reference = sent.provider_reference
    assert changes(repository, sent) == [
        ("reserved", None, "pending", "execution", None),
        ("sent", "pending", "pending", "execution", reference),
        ("confirmed", "pending", "captured", "webhook", reference),
    ]
    history = repository.capture_history(sent.merchant_id, sent.order_id, sent.capture_id)
    assert history[0].by.name == "exec-1" and history[2].by.reason == "CAPTURE"
    assert [entry.at for entry in history] == sorted(entry.at for entry in history)
    # The entries are the capture item's own: no item of their own (issue 15), and the
    # capture item stays within two write units (2 KB) with three of them
    items = repository.client.scan(TableName=repository.table_name)["Items"]
    assert not [item for item in items if item["SK"]["S"].startswith("HISTORY#")]
    (capture_item,) = [item for item in items if item["SK"]["S"].startswith("CAPTURE#")]
    assert len(capture_item["history"]["L"]) == 3
    assert len(json.dumps(capture_item)) < 2048


def test_an_unknown_outcome_released_by_reconciliation_is_named_in_the_history(
    repository: Any, clock: FixedClock
) -> None:
    sent = reserved_and_sent(repository, clock, answer="succeeded")
    failures.record_failure(
        repository,
        request=sent.request(),
        error_type="CaptureOutcomeUnknownError",
        error_reason="outcome_unknown",
        message="the Capture step timed out",
        execution_id="exec-1",
        now=clock.now(),
    )
    clock.current += timedelta(hours=1)

    class NotThere(RecordingProvider):
        def find_capture(self, lookup: Any) -> Any:
            return None

    reconcile_open_captures(
        repository, lambda _: NotThere(), clock.now(), publisher=RecordingPublisher()
    )
    history = repository.capture_history(sent.merchant_id, sent.order_id, sent.capture_id)
    assert [(e.change, e.from_status, e.to_status, e.by.kind) for e in history] == [
        ("reserved", None, "pending", "execution"),
        ("requires_action", "pending", "requires_action", "execution"),
        ("released", "requires_action", "failed", "reconciliation"),
    ]
    assert history[1].error is not None and "outcome_unknown" in history[1].error
    assert history[2].error is not None and "not_captured" in history[2].error


def test_refunds_are_in_their_captures_history(repository: Any, clock: FixedClock) -> None:
    sent = reserved_and_sent(repository, clock, answer="succeeded")
    confirmed = service.record_capture(repository, sent, clock.now())
    clock.current += timedelta(seconds=10)
    refunds.refund_capture(
        repository,
        RecordingProvider(),
        merchant_id=confirmed.merchant_id,
        order_id=confirmed.order_id,
        capture_id=confirmed.capture_id,
        amount=1200,
        idempotency_key="k-1",
        clock=clock,
    )
    history = repository.capture_history(sent.merchant_id, sent.order_id, sent.capture_id)
    assert [(e.change, e.to_status, e.amount) for e in history] == [
        ("reserved", "pending", 5000),
        ("confirmed", "captured", 5000),
        ("refund_reserved", "pending", 1200),
        ("refunded", "refunded", 1200),
    ]
    assert history[2].refund_id == history[3].refund_id is not None
    assert history[2].by.kind == "api"


def test_the_native_dialect_expands_the_history_and_the_others_keep_their_shape(
    merchant: Merchant,
) -> None:
    order_id, capture = captured(merchant)
    assert refund(merchant, order_id, capture["id"], 1000).status_code == 200
    with merchant.client() as client:
        plain = client.get(f"/orders/{order_id}/captures/{capture['id']}")
        expanded = client.get(f"/orders/{order_id}/captures/{capture['id']}?expand=history")
        unknown = client.get(f"/orders/{order_id}/captures/{capture['id']}?expand=everything")
    assert plain.status_code == 200 and "history" not in plain.json()
    assert expanded.status_code == 200, expanded.text
    body = expanded.json()
    assert {k: v for k, v in body.items() if k != "history"} == plain.json()
    assert [entry["change"] for entry in body["history"]] == [
        "reserved",
        "confirmed",
        "refund_reserved",
        "refunded",
    ]
    first = body["history"][0]
    assert first["by"]["kind"] == "execution" and first["from_status"] is None
    assert set(first) == {
        "change",
        "refund_id",
        "from_status",
        "to_status",
        "by",
        "at",
        "amount",
        "provider_reference",
        "error",
    }
    assert unknown.status_code == 400
