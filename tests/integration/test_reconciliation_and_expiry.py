"""Reconciliation of open captures and the authorization-expiry sweep, on moto and the sandbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.domain import capture_rules, service
from order_capture.domain.expiry import sweep_expiring_authorizations
from order_capture.domain.reconciliation import reconcile_open_captures
from order_capture.errors import ProviderUnavailableError
from order_capture.handlers import expiry_sweep
from order_capture.models import CaptureRequest, Model, OrderPlacedDetail, PlannedCapture
from order_capture_local.sandbox import SandboxServer
from tests.conftest import FixedClock
from tests.factories import EXAMPLE_ORDER_TOTAL, order_placed


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, list[Model]]] = []

    def publish(self, detail_type: str, details: list[Model]) -> None:
        self.published.append((detail_type, details))


def register(
    repository: Any, clock: FixedClock, sandbox: SandboxServer | None = None, **overrides: Any
) -> Any:
    detail = OrderPlacedDetail.model_validate(order_placed(**overrides)["detail"])
    if sandbox is not None:
        sandbox.authorize(detail.payment.reference, detail.payment.authorized_amount, "EUR")
    return service.register_order(repository, detail, clock)


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
    repository: Any, sandbox: SandboxServer, moment: Any, provider: type = SandboxProvider
) -> Any:
    return reconcile_open_captures(repository, lambda _: provider(sandbox.url), moment)


def test_a_capture_the_provider_made_is_confirmed(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    captured_but_not_recorded(repository, clock, sandbox)
    report = reconcile_at(repository, sandbox, clock.now() + timedelta(hours=1))
    assert (report.examined, report.confirmed) == (1, 1)
    order = repository.get_order("merchant-1", "order-1001")
    assert (order.captured_amount, order.reserved_amount) == (EXAMPLE_ORDER_TOTAL, 0)
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
    )
    assert [(w.order_id, w.kind) for w in warnings] == [("expiring", "unshipped")]
    assert warnings[0].capturable_amount == EXAMPLE_ORDER_TOTAL
    ((detail_type, details),) = publisher.published
    assert detail_type == "Authorization Expiring"
    assert details == warnings


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
