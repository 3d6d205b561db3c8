"""Reconciliation of open captures and the authorization-expiry sweep, on moto and the sandbox."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from order_capture.adapters.aplazame import AplazameProvider
from order_capture.adapters.credentials import ProviderCredentials
from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.domain import capture_rules, failures, service
from order_capture.domain.expiry import sweep_expiring_authorizations
from order_capture.domain.reconciliation import reconcile_open_captures
from order_capture.errors import OutcomeUnknownNotRetryableError, ProviderUnavailableError
from order_capture.handlers import expiry_sweep
from order_capture.models import (
    CaptureRequest,
    PlannedCapture,
    capture_id_for,
)
from order_capture.public_events import authorization_expiring
from order_capture_local.sandbox import SandboxServer
from tests.factories import EXAMPLE_ORDER_TOTAL
from tests.integration.capture_support import free_gift_not_recorded, register
from tests.support import FixedClock, RecordingPublisher


def captured_but_not_recorded(repository: Any, clock: FixedClock, sandbox: SandboxServer) -> None:
    """An order whose Capture step reserved and captured at the provider, after which its
    execution died before Record: the capture stays pending in the ledger."""
    register(repository, clock, sandbox)
    order = repository.get_order("merchant-1", "order-1001")
    request = CaptureRequest(merchant_id="merchant-1", order_id="order-1001", shipment_id="s1")
    plan = capture_rules.plan_capture(order, request, clock.now())
    service.execute_capture(
        repository,
        SandboxProvider(sandbox.url),
        planned=PlannedCapture(request=request, plan=plan),
        execution_id="exec-1",
        now=clock.now(),
    )


def reconcile_at(
    repository: Any,
    sandbox: SandboxServer,
    moment: Any,
    provider: type = SandboxProvider,
    publisher: RecordingPublisher | None = None,
) -> Any:
    return reconcile_open_captures(
        repository,
        lambda _: provider(sandbox.url),
        moment,
        publisher=publisher or RecordingPublisher(),
    )


def test_a_capture_the_provider_made_is_confirmed(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    captured_but_not_recorded(repository, clock, sandbox)
    publisher = RecordingPublisher()
    report = reconcile_at(
        repository, sandbox, clock.now() + timedelta(hours=1), publisher=publisher
    )
    assert (report.examined, report.confirmed) == (1, 1)
    order = repository.get_order("merchant-1", "order-1001")
    assert (order.captured_amount, order.reserved_amount) == (EXAMPLE_ORDER_TOTAL, 0)
    # Its execution died before announcing it: reconciliation does
    ((detail_type, (announced,)),) = publisher.published
    assert (detail_type, announced.status.value, announced.amount) == (
        "Payment Captured",
        "captured",
        EXAMPLE_ORDER_TOTAL,
    )
    # A second run finds nothing left open.
    assert reconcile_at(repository, sandbox, clock.now() + timedelta(hours=1)).examined == 0


def test_young_captures_are_left_to_their_execution(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    captured_but_not_recorded(repository, clock, sandbox)
    assert reconcile_at(repository, sandbox, clock.now() + timedelta(minutes=5)).examined == 0


def test_an_unreachable_provider_leaves_the_capture_open(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    captured_but_not_recorded(repository, clock, sandbox)

    class Unreachable(SandboxProvider):
        def find_capture(self, lookup: Any) -> Any:
            raise ProviderUnavailableError("down")

    report = reconcile_at(repository, sandbox, clock.now() + timedelta(hours=1), Unreachable)
    assert (report.unanswered, report.confirmed, report.released) == (1, 0, 0)
    assert repository.get_order("merchant-1", "order-1001").reserved_amount == EXAMPLE_ORDER_TOTAL


def test_expiry_sweep_warns_about_open_orders_only(repository: Any, clock: FixedClock) -> None:
    soon = (clock.now() + timedelta(hours=3)).isoformat()
    later = (clock.now() + timedelta(days=5)).isoformat()
    register(repository, clock, order_id="expiring", expires_at=soon)
    register(repository, clock, order_id="later", expires_at=later)
    fully_canceled = register(repository, clock, order_id="canceled", expires_at=soon)
    repository.replace_order(_cancel_everything(fully_canceled, clock), fully_canceled.version)
    publisher = RecordingPublisher()
    warnings = sweep_expiring_authorizations(
        repository, publisher, clock.now(), timedelta(hours=24)
    ).warnings
    assert [(w.order_id, w.kind) for w in warnings] == [("expiring", "unshipped")]
    assert warnings[0].capturable_amount == EXAMPLE_ORDER_TOTAL
    ((detail_type, details),) = publisher.published
    assert detail_type == "Authorization Expiring"
    assert details == [authorization_expiring(warning) for warning in warnings]


def _cancel_everything(order: Any, clock: FixedClock) -> Any:
    from order_capture.models import ItemQuantity

    return capture_rules.cancel_items(
        order,
        [ItemQuantity(item_id=line.item_id, quantity=line.quantity) for line in order.lines],
        clock.now(),
    )


def test_expiry_sweep_handler_publishes_on_eventbridge(
    repository: Any, clock: FixedClock, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from order_capture.adapters.eventbridge import EventBridgePublisher

    register(repository, clock, expires_at=(clock.now() + timedelta(hours=2)).isoformat())
    events = boto3.client("events", region_name="us-east-1")
    sent: list[Any] = []
    events.meta.events.register(
        "before-parameter-build.events.PutEvents",
        lambda params, **_: sent.extend(params["Entries"]),
    )
    result = expiry_sweep.handle(
        {"margin_hours": 6},
        lambda_context,
        repository=repository,
        publisher=EventBridgePublisher("default", events),
        clock=clock,
    )
    assert result["expiring"] == 1
    assert [entry["DetailType"] for entry in sent] == ["Authorization Expiring"]
    assert sent[0]["Source"] == "order-capture"
    assert '"kind":"unshipped"' in sent[0]["Detail"]


class FakeAplazame:
    """Aplazame's captures endpoints over httpx.MockTransport: POST captures (those numbered in
    ``lost`` capture and then time out, as a lost answer), GET lists them."""

    def __init__(self, lost: frozenset[int] = frozenset({2})) -> None:
        self.captures: list[dict[str, Any]] = []
        self.lost = lost

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"results": self.captures})
        amount = json.loads(request.content)["amount"]
        self.captures.append({"id": f"cap-{len(self.captures) + 1}", "amount": amount})
        if len(self.captures) in self.lost:
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(201, json=self.captures[-1])

    def provider(self) -> AplazameProvider:
        credentials = ProviderCredentials(api_key="test-key")
        return AplazameProvider(credentials, 5, httpx.MockTransport(self))


def ship_twice_at_aplazame(repository: Any, clock: FixedClock, aplazame: FakeAplazame) -> list[int]:
    """Two shipments of the example order captured at (fake) Aplazame; an answer lost ends its
    capture requires_action, as RecordFailure would. The amounts planned."""
    register(repository, clock, provider="aplazame")
    amounts = []
    for shipment, items in (("s1", [{"item_id": "line-1", "quantity": 1}]), ("s2", None)):
        request = CaptureRequest(
            merchant_id="merchant-1", order_id="order-1001", shipment_id=shipment, items=items
        )
        order = repository.get_order("merchant-1", "order-1001")
        plan = capture_rules.plan_capture(order, request, clock.now())
        amounts.append(plan.amount)
        planned = PlannedCapture(request=request, plan=plan)
        try:
            pending = service.execute_capture(
                repository,
                aplazame.provider(),
                planned=planned,
                execution_id=shipment,
                now=clock.now(),
            )
            service.record_capture(repository, pending, clock.now())
        except OutcomeUnknownNotRetryableError as error:
            failures.record_failure(
                repository,
                request=request,
                error_type=type(error).__name__,
                error_reason=error.reason,
                message=str(error),
                execution_id=shipment,
                now=clock.now(),
            )
    return amounts


def stored_capture(repository: Any, shipment_id: str) -> Any:
    capture_id = capture_id_for("merchant-1", "order-1001", shipment_id)
    return repository.get_capture("merchant-1", "order-1001", capture_id)


def test_a_lost_aplazame_answer_is_found_by_elimination(repository: Any, clock: FixedClock) -> None:
    """Aplazame takes no idempotency key: after a capture whose answer was lost, reconciliation
    finds it as the one capture at Aplazame the ledger does not know, and confirms it."""
    aplazame = FakeAplazame(lost=frozenset({2}))
    amounts = ship_twice_at_aplazame(repository, clock, aplazame)
    stuck = stored_capture(repository, "s2")
    assert (stuck.status.value, stuck.provider_reference) == ("requires_action", None)

    publisher = RecordingPublisher()
    report = reconcile_open_captures(
        repository,
        lambda _: aplazame.provider(),
        clock.now() + timedelta(hours=1),
        publisher=publisher,
    )

    assert (report.examined, report.confirmed) == (1, 1)
    assert [(kind, d.capture_id) for kind, (d,) in publisher.published] == [
        ("Payment Captured", stuck.capture_id)
    ]
    settled = stored_capture(repository, "s2")
    assert (settled.status.value, settled.provider_reference) == ("captured", "cap-2")
    order = repository.get_order("merchant-1", "order-1001")
    assert (order.captured_amount, order.reserved_amount) == (sum(amounts), 0)
    assert [c["amount"] for c in aplazame.captures] == amounts


def test_two_lost_aplazame_answers_are_never_told_apart_by_guessing(
    repository: Any, clock: FixedClock
) -> None:
    aplazame = FakeAplazame(lost=frozenset({1, 2}))
    amounts = ship_twice_at_aplazame(repository, clock, aplazame)

    publisher = RecordingPublisher()
    report = reconcile_open_captures(
        repository,
        lambda _: aplazame.provider(),
        clock.now() + timedelta(hours=1),
        publisher=publisher,
    )
    assert publisher.published == []

    # Either could be either: both stay reserved, requires_action, for a person
    assert (report.examined, report.still_open, report.confirmed, report.released) == (2, 2, 0, 0)
    assert {stored_capture(repository, s).status.value for s in ("s1", "s2")} == {"requires_action"}
    order = repository.get_order("merchant-1", "order-1001")
    assert (order.captured_amount, order.reserved_amount) == (0, sum(amounts))


class _Unreachable(SandboxProvider):
    """A provider that never answers: a capture of 0 must not need it."""

    def capture(self, request: Any) -> Any:
        raise ProviderUnavailableError("unreachable")

    def find_capture(self, lookup: Any) -> Any:
        raise ProviderUnavailableError("unreachable")


def test_review_a_capture_of_nothing_left_pending_is_confirmed_without_the_provider(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    """A free gift's shipment whose execution died after its Capture step: its capture of 0
    was never sent, so the provider has nothing under its key. Reconciliation would have
    released it as not found at the provider, giving the shipped unit back as unshipped."""
    sent = free_gift_not_recorded(repository, clock, sandbox, _Unreachable(sandbox.url))
    publisher = RecordingPublisher()
    report = reconcile_open_captures(
        repository,
        lambda _: _Unreachable(sandbox.url),
        clock.now() + timedelta(hours=1),
        publisher=publisher,
    )
    assert (report.examined, report.confirmed) == (1, 1)
    stored = repository.get_capture("merchant-1", "order-1001", sent.capture_id)
    assert (stored.status.value, stored.amount, stored.provider_reference) == ("captured", 0, None)
    line = next(line for line in repository.get_order("merchant-1", "order-1001").lines
                if line.item_id == "gift")  # fmt: skip
    assert line.shipped_quantity == 1
    ((detail_type, (announced,)),) = publisher.published
    assert (detail_type, announced.amount) == ("Payment Captured", 0)
    with sandbox.state.lock:
        assert sandbox.state.captures == []
