"""Ledger states the handler, reconciliation and operations tests start from: a registered order,
the first three steps run, a capture sent but never recorded, one left requires_action; and
the CLI as an operator runs it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from order_capture.adapters.eventbridge import EventBridgePublisher
from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.domain import capture_rules, failures, service
from order_capture.errors import CaptureOutcomeUnknownError
from order_capture.handlers import capture, compute_amount, validate
from order_capture.models import (
    Capture,
    CaptureRequest,
    CaptureStatus,
    ItemQuantity,
    OrderPlacedDetail,
    PlannedCapture,
    capture_id_for,
)
from order_capture.ports import PaymentProvider, ProviderNotification
from order_capture_local.cli import main
from order_capture_local.sandbox import SandboxServer
from tests.factories import order_placed, order_shipped
from tests.support import FixedClock


def register(
    repository: Any, clock: FixedClock, sandbox: SandboxServer | None = None, **overrides: Any
) -> Any:
    detail = OrderPlacedDetail.model_validate(order_placed(**overrides)["detail"])
    if sandbox is not None:
        sandbox.authorize(detail.payment.reference, detail.payment.authorized_amount, "EUR")
    return service.register_order(repository, detail, clock)


def run_until_capture(
    repository: Any, context: Any, clock: FixedClock, sandbox: SandboxServer, event: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Validate, ComputeAmount and Capture (sandbox) of ``event`` as execution ``exec-1``."""
    validated = validate.handle(event, context, repository=repository)
    plan = compute_amount.handle(validated, context, clock=clock)
    captured = capture.handle(
        {"planned": plan, "execution_id": "exec-1"},
        context,
        repository=repository,
        provider=SandboxProvider(sandbox.url),
        clock=clock,
    )
    return validated, plan, captured


#: What ``run_until_capture`` gives: the Validate, ComputeAmount and Capture outputs.
Shipped = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]


@pytest.fixture
def until_capture(
    registered: Any, repository: Any, lambda_context: Any, clock: FixedClock, sandbox: SandboxServer
) -> Shipped:
    """Shipment ``s1`` of the registered order run until its capture (the provider captured,
    Record has not run): ``run_until_capture``'s outputs."""
    return run_until_capture(repository, lambda_context, clock, sandbox, order_shipped("s1"))


def captured_but_not_recorded(
    repository: Any, clock: FixedClock, sandbox: SandboxServer, order_id: str
) -> str:
    """A capture sent to the provider whose execution died before Record; its capture id."""
    register(repository, clock, sandbox, order_id=order_id)
    order = repository.get_order("merchant-1", order_id)
    request = CaptureRequest(merchant_id="merchant-1", order_id=order_id, shipment_id="s1")
    plan = capture_rules.plan_capture(order, request, clock.now())
    service.execute_capture(
        repository,
        SandboxProvider(sandbox.url),
        planned=PlannedCapture(request=request, plan=plan),
        execution_id=f"exec-{order_id}",
        now=clock.now(),
    )
    return capture_id_for("merchant-1", order_id, "s1")


def free_gift_not_recorded(
    repository: Any, clock: FixedClock, sandbox: SandboxServer, provider: PaymentProvider
) -> Capture:
    """The example order with a free gift and no shipping: the gift's shipment, a capture of
    0, reserved by its Capture step (``provider`` is never asked) whose execution died
    before Record. The capture, pending."""
    paid = order_placed()["detail"]["items"]
    gift = {"item_id": "gift", "sku": "GIFT", "quantity": 1, "unit_amount": 0}
    no_shipping = {"shipping_amount": 0, "authorized_amount": 10171 - 495}
    register(repository, clock, sandbox, items=[*paid, gift], **no_shipping)
    order = repository.get_order("merchant-1", "order-1001")
    gift_only = [ItemQuantity(item_id="gift", quantity=1)]
    request = CaptureRequest(
        merchant_id="merchant-1", order_id="order-1001", shipment_id="s-gift", items=gift_only
    )
    plan = capture_rules.plan_capture(order, request, clock.now())
    assert (plan.amount, plan.nothing_to_capture) == (0, False)
    sent = service.execute_capture(
        repository,
        provider,
        planned=PlannedCapture(request=request, plan=plan),
        execution_id="exec-gift",
        now=clock.now(),
    )
    assert (sent.amount, sent.status) == (0, CaptureStatus.PENDING)
    return sent


class NoProviders:
    def provider(self, name: str, merchant_id: str) -> Any:
        raise AssertionError("no refund is open")


def requires_action(repository: Any, clock: FixedClock, sandbox: SandboxServer, order: str) -> Any:
    """A capture whose Capture step timed out: reserved, outcome unknown (requires_action)."""
    capture_id = captured_but_not_recorded(repository, clock, sandbox, order)
    capture = repository.get_capture("merchant-1", order, capture_id)
    failures.record_failure(
        repository,
        request=capture.request(),
        error_type=CaptureOutcomeUnknownError.__name__,
        error_reason=CaptureOutcomeUnknownError.reason,
        message="the Capture step timed out",
        execution_id=capture.execution_id,
        now=clock.now(),
    )
    stuck = repository.get_capture("merchant-1", order, capture_id)
    assert stuck.status is CaptureStatus.REQUIRES_ACTION
    return stuck


@pytest.fixture
def announced(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """What the CLI put on the bus: (detail-type, capture id)."""
    seen: list[tuple[str, str]] = []

    def publish(self: Any, detail_type: str, details: list[Any]) -> None:
        seen.extend((detail_type, detail.capture_id) for detail in details)

    monkeypatch.setattr(EventBridgePublisher, "publish", publish)
    return seen


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    message = ""
    try:
        status = main(list(argv))
    except SystemExit as stop:
        status, message = (1 if stop.code else 0), str(stop.code)
    out, err = capsys.readouterr()
    return status, out, err + message


def capture_of_5000(
    repository: Any,
    provider: PaymentProvider,
    now: datetime,
    *,
    paid_with: str | None = None,
    execution_id: str | None = None,
) -> Capture:
    """5000 of the example order (paid with ``paid_with``: the factory's provider if None)
    captured through the domain service with ``provider``, as the provider answered: pending
    in the ledger until recorded."""
    placed = order_placed() if paid_with is None else order_placed(provider=paid_with)
    detail = OrderPlacedDetail.model_validate(placed["detail"])
    service.register_order(repository, detail, FixedClock(now))
    request = CaptureRequest(
        merchant_id=detail.merchant_id, order_id=detail.order_id, shipment_id="s-1", amount=5000
    )
    plan = capture_rules.plan_capture(
        service.load_for_capture(repository, request).order, request, now
    )
    return service.execute_capture(
        repository,
        provider,
        planned=PlannedCapture(request=request, plan=plan),
        execution_id=execution_id,
        now=now,
    )


def capture_notification(
    capture: Capture, succeeded: bool, *, psp_prefix: str = "psp-", reason: str = "refused"
) -> ProviderNotification:
    """The provider's CAPTURE (or CAPTURE_FAILED) notification of ``capture``."""
    return ProviderNotification(
        subject="capture",
        outcome="succeeded" if succeeded else "failed",
        reference=capture.capture_id,
        provider_reference=f"{psp_prefix}{capture.capture_id}",
        event="CAPTURE" if succeeded else "CAPTURE_FAILED",
        reason=reason,
    )
