"""An operator who settles an order's last capture by hand (``captures settle --captured``,
``captures retry``) finishes the order as Record would: what its authorization has left is
released once, through the same release path (domain.releases), recorded in the ledger.
On moto, the sandbox over HTTP, the CLI as an operator runs it."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.domain import capture_rules, failures, service
from order_capture.errors import CaptureOutcomeUnknownError
from order_capture.models import (
    Capture,
    CaptureRequest,
    CaptureStatus,
    ItemQuantity,
    PlannedCapture,
    ReleaseStatus,
)
from order_capture_local.sandbox import SandboxServer
from tests.factories import EXAMPLE_ORDER_TOTAL
from tests.integration.capture_support import announced, cli, register
from tests.support import FixedClock

__all__ = ["announced"]  # fixture

MERCHANT, ORDER = "merchant-1", "order-op"
LEFT = 500  # authorized beyond the order's total: what the release gives back


def send(
    repository: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
    shipment: str,
    items: list[tuple[str, int]] | None = None,
) -> Capture:
    """One shipment through the Capture step (reserved and captured at the sandbox)."""
    request = CaptureRequest(
        merchant_id=MERCHANT,
        order_id=ORDER,
        shipment_id=shipment,
        items=None if items is None else [ItemQuantity(item_id=i, quantity=q) for i, q in items],
    )
    order = repository.get_order(MERCHANT, ORDER)
    plan = capture_rules.plan_capture(order, request, clock.now())
    return service.execute_capture(
        repository,
        SandboxProvider(sandbox.url),
        planned=PlannedCapture(request=request, plan=plan),
        execution_id=f"exec-{shipment}",
        now=clock.now(),
    )


def last_capture_stuck(repository: Any, clock: FixedClock, sandbox: SandboxServer) -> Capture:
    """Two shipments in flight together, the first recorded, the last (closing the order)
    captured at the sandbox but its Capture step timed out: requires_action."""
    register(
        repository, clock, sandbox, order_id=ORDER, authorized_amount=EXAMPLE_ORDER_TOTAL + LEFT
    )
    first = send(repository, clock, sandbox, "s-1", [("line-1", 3)])
    last = send(repository, clock, sandbox, "s-2")
    assert last.may_finish_order and not last.releases_authorization
    service.record_capture(repository, first, clock.now())
    failures.record_failure(
        repository,
        request=last.request(),
        error_type=CaptureOutcomeUnknownError.__name__,
        error_reason=CaptureOutcomeUnknownError.reason,
        message="the Capture step timed out",
        execution_id=last.execution_id,
        now=clock.now(),
    )
    stuck = repository.get_capture(MERCHANT, ORDER, last.capture_id)
    assert stuck.status is CaptureStatus.REQUIRES_ACTION
    assert repository.get_release(MERCHANT, ORDER) is None
    return stuck  # type: ignore[no-any-return]


def released_once(repository: Any, sandbox: SandboxServer) -> None:
    release = repository.get_release(MERCHANT, ORDER)
    assert release is not None and release.status is ReleaseStatus.RELEASED
    assert (release.amount, release.attempts) == (LEFT, 1)
    with sandbox.state.lock:
        authorization = dict(sandbox.state.authorizations[f"auth_{MERCHANT}_{ORDER}"])
    assert authorization.get("released")
    order = repository.get_order(MERCHANT, ORDER)
    assert (order.captured_amount, order.reserved_amount) == (EXAMPLE_ORDER_TOTAL, 0)


def test_defect_11_an_operator_settling_the_last_capture_releases_the_rest_once(
    repository: Any,
    ledger_table: str,
    clock: FixedClock,
    sandbox: SandboxServer,
    announced: list[tuple[str, str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the order's last capture stuck, captured at the provider
    stuck = last_capture_stuck(repository, clock, sandbox)
    monkeypatch.setenv("SANDBOX_PROVIDER_URL", sandbox.url)
    with sandbox.state.lock:
        made = [c["id"] for c in sandbox.state.captures]

    # When the operator settles it captured
    status, out, err = cli(
        capsys,
        "captures",
        "settle",
        stuck.capture_id,
        "--captured",
        "--provider-reference",
        made[-1],
        "--operator",
        "alice",
        "--table",
        ledger_table,
    )

    # Then the order is finished and what the authorization has left is released, once
    assert status == 0, err
    assert "released" in out
    released_once(repository, sandbox)
    assert announced == [("Payment Captured", stuck.capture_id)]


def test_defect_11_an_operator_retrying_the_last_capture_releases_the_rest_once(
    repository: Any,
    ledger_table: str,
    clock: FixedClock,
    sandbox: SandboxServer,
    announced: list[tuple[str, str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the order's last capture stuck, captured at the provider
    stuck = last_capture_stuck(repository, clock, sandbox)
    monkeypatch.setenv("SANDBOX_PROVIDER_URL", sandbox.url)

    # When the operator retries it (the sandbox answers with its first capture: same key)
    status, out, err = cli(
        capsys, "captures", "retry", stuck.capture_id, "--operator", "bob", "--table", ledger_table
    )

    # Then it is captured once and the rest of the authorization released, once
    assert status == 0, err
    assert "released" in out
    released_once(repository, sandbox)
    with sandbox.state.lock:
        assert len(sandbox.state.captures) == 2
    assert announced == [("Payment Captured", stuck.capture_id)]
