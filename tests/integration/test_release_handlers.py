"""The remainder released by the steps that already run (on moto, the sandbox over HTTP):
Record after the final capture, the cancellation that leaves nothing to capture, and
reconciliation for a release whose provider call failed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.domain import failures
from order_capture.handlers import (
    capture,
    compute_amount,
    order_events,
    reconcile,
    record,
    validate,
)
from order_capture.models import ReleaseStatus
from order_capture.ports import PaymentProvider
from order_capture_local.sandbox import SandboxServer
from tests.factories import EXAMPLE_ORDER_TOTAL, items_canceled, order_placed, order_shipped
from tests.support import FixedClock, RecordingPublisher

MERCHANT, ORDER = "merchant-1", "order-1001"


class Sandboxes:
    """PaymentProviders for the sandbox at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url

    def provider(self, name: str, merchant_id: str) -> PaymentProvider:
        return SandboxProvider(self.url, 2)


def register(
    repository: Any, context: Any, clock: FixedClock, sandbox: SandboxServer, authorized: int
) -> str:
    event = order_placed(authorized_amount=authorized)
    reference = event["detail"]["payment"]["reference"]
    sandbox.authorize(reference, authorized, "EUR")
    order_events.handle(event, context, repository=repository, clock=clock)
    return str(reference)


def ship_and_record(
    repository: Any,
    context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
    shipment: str,
    items: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    validated = validate.handle(order_shipped(shipment, items), context, repository=repository)
    plan = compute_amount.handle(validated, context, clock=clock)
    captured = capture.handle(
        {"planned": plan, "execution_id": f"exec-{shipment}"},
        context,
        repository=repository,
        provider=SandboxProvider(sandbox.url),
        clock=clock,
    )
    return record.handle_success(
        {"capture": captured, "execution_id": f"exec-{shipment}"},
        context,
        repository=repository,
        clock=clock,
        publisher=RecordingPublisher(),
        providers=Sandboxes(sandbox.url),
    )


def authorization(sandbox: SandboxServer, reference: str) -> dict[str, Any]:
    with sandbox.state.lock:
        return dict(sandbox.state.authorizations[reference])


def test_record_after_the_final_capture_at_a_provider_that_released_it_sends_nothing(
    repository: Any, lambda_context: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    reference = register(repository, lambda_context, clock, sandbox, EXAMPLE_ORDER_TOTAL + 500)

    recorded = ship_and_record(repository, lambda_context, clock, sandbox, "s-1")

    assert recorded["status"] == "captured" and recorded["releases_authorization"]
    assert repository.get_release(MERCHANT, ORDER) is None  # the final capture is the record
    assert authorization(sandbox, reference).get("released")  # by the final capture


def test_a_cancellation_leaving_nothing_to_capture_releases_the_rest_once(
    repository: Any, lambda_context: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    reference = register(repository, lambda_context, clock, sandbox, EXAMPLE_ORDER_TOTAL)
    first = ship_and_record(
        repository, lambda_context, clock, sandbox, "s-1", [{"item_id": "line-1", "quantity": 3}]
    )
    assert repository.get_release(MERCHANT, ORDER) is None  # line-2 still to ship

    event = items_canceled([{"item_id": "line-2", "quantity": 2}])
    order_events.handle(
        event, lambda_context, repository=repository, clock=clock, providers=Sandboxes(sandbox.url)
    )

    release = repository.get_release(MERCHANT, ORDER)
    assert release is not None and release.status is ReleaseStatus.RELEASED
    assert (release.amount, release.attempts) == (EXAMPLE_ORDER_TOTAL - first["amount"], 1)
    assert authorization(sandbox, reference).get("released")


def test_a_release_the_provider_did_not_take_is_sent_again_by_reconciliation(
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
    refused_url: str,
) -> None:
    reference = register(repository, lambda_context, clock, sandbox, EXAMPLE_ORDER_TOTAL)
    ship_and_record(
        repository, lambda_context, clock, sandbox, "s-1", [{"item_id": "line-1", "quantity": 3}]
    )
    order_events.handle(
        items_canceled([{"item_id": "line-2", "quantity": 2}]),
        lambda_context,
        repository=repository,
        clock=clock,
        providers=Sandboxes(refused_url),  # unreachable: nothing sent
    )
    pending = repository.get_release(MERCHANT, ORDER)
    assert pending is not None and pending.status is ReleaseStatus.PENDING
    assert pending.failure is not None and pending.failure.error == "ProviderUnavailableError"
    assert not authorization(sandbox, reference).get("released")

    report = reconcile.handle(
        {"grace_seconds": 0},
        lambda_context,
        repository=repository,
        clock=FixedClock(clock.now() + timedelta(seconds=1)),
        providers=Sandboxes(sandbox.url),
        publisher=RecordingPublisher(),
    )

    assert report["releases"]["released"] == 1
    assert [item["kind"] for item in report["items"]] == ["release"]
    released = repository.get_release(MERCHANT, ORDER)
    assert released is not None and released.status is ReleaseStatus.RELEASED
    assert authorization(sandbox, reference).get("released")


def ship_without_record(
    repository: Any,
    context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
    shipment: str,
    items: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A shipment through Validate, ComputeAmount and Capture: captured at the provider, its
    Record not run yet (in flight, or its execution died there)."""
    validated = validate.handle(order_shipped(shipment, items), context, repository=repository)
    plan = compute_amount.handle(validated, context, clock=clock)
    return capture.handle(
        {"planned": plan, "execution_id": f"exec-{shipment}"},
        context,
        repository=repository,
        provider=SandboxProvider(sandbox.url),
        clock=clock,
    )


def record_step(
    repository: Any, context: Any, clock: FixedClock, sandbox: SandboxServer, sent: dict[str, Any]
) -> dict[str, Any]:
    return record.handle_success(
        {"capture": sent, "execution_id": sent["execution_id"]},
        context,
        repository=repository,
        clock=clock,
        publisher=RecordingPublisher(),
        providers=Sandboxes(sandbox.url),
    )


def test_defect_11_the_record_of_the_last_of_two_captures_in_flight_releases_the_rest(
    repository: Any, lambda_context: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    # Given two shipments captured together: neither was sent final (the other was in flight)
    reference = register(repository, lambda_context, clock, sandbox, EXAMPLE_ORDER_TOTAL + 500)
    first = ship_without_record(
        repository, lambda_context, clock, sandbox, "s-1", [{"item_id": "line-1", "quantity": 3}]
    )
    second = ship_without_record(repository, lambda_context, clock, sandbox, "s-2")
    assert not first["releases_authorization"] and not second["releases_authorization"]

    # When the first is recorded (s-2 still in flight), then the second
    record_step(repository, lambda_context, clock, sandbox, first)
    assert repository.get_release(MERCHANT, ORDER) is None
    assert not authorization(sandbox, reference).get("released")
    record_step(repository, lambda_context, clock, sandbox, second)

    # Then the second Record released the rest, once, and the ledger says so
    release = repository.get_release(MERCHANT, ORDER)
    assert release is not None and release.status is ReleaseStatus.RELEASED
    assert (release.amount, release.attempts) == (500, 1)
    assert authorization(sandbox, reference).get("released")


def test_defect_11_reconciliation_confirming_the_last_capture_releases_the_rest(
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the last shipment recorded while an earlier one's execution died after its
    # provider captured it (pending in the ledger)
    reference = register(repository, lambda_context, clock, sandbox, EXAMPLE_ORDER_TOTAL + 500)
    ship_without_record(
        repository, lambda_context, clock, sandbox, "s-1", [{"item_id": "line-1", "quantity": 3}]
    )
    last = ship_without_record(repository, lambda_context, clock, sandbox, "s-2")
    record_step(repository, lambda_context, clock, sandbox, last)
    waiting = repository.get_release(MERCHANT, ORDER)
    assert waiting is not None and waiting.status is ReleaseStatus.WAITING
    assert not authorization(sandbox, reference).get("released")

    # When reconciliation finds the earlier capture at the provider and confirms it
    monkeypatch.setattr(reconcile, "_provider_of", lambda _: SandboxProvider(sandbox.url))
    report = reconcile.handle(
        {"grace_seconds": 0},
        lambda_context,
        repository=repository,
        clock=FixedClock(clock.now() + timedelta(seconds=1)),
        providers=Sandboxes(sandbox.url),
        publisher=RecordingPublisher(),
    )

    # Then the order can capture nothing more and its rest is released in the same run, once:
    # by the confirmation itself (the capture was noted as one a release waits for), so the
    # releases' own pass finds nothing open
    assert (report["confirmed"], report["releases"]["examined"]) == (1, 0)
    release = repository.get_release(MERCHANT, ORDER)
    assert release is not None and release.status is ReleaseStatus.RELEASED
    assert release.amount == 500
    assert authorization(sandbox, reference).get("released")


def test_defect_11_a_capture_reserved_alone_and_recorded_after_the_order_closed_releases_at_once(
    repository: Any, lambda_context: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    # Given the shipment reserved last (closing the order) recorded first: its Record finds
    # the first, reserved alone, still in flight and stores the release waiting
    reference = register(repository, lambda_context, clock, sandbox, EXAMPLE_ORDER_TOTAL + 500)
    first = ship_without_record(
        repository, lambda_context, clock, sandbox, "s-1", [{"item_id": "line-1", "quantity": 3}]
    )
    second = ship_without_record(repository, lambda_context, clock, sandbox, "s-2")
    assert not first["may_finish_order"] and second["may_finish_order"]
    record_step(repository, lambda_context, clock, sandbox, second)
    waiting = repository.get_release(MERCHANT, ORDER)
    assert waiting is not None and waiting.status is ReleaseStatus.WAITING

    # When the first one's Record runs, with the payload its Capture step gave it
    recorded = record_step(repository, lambda_context, clock, sandbox, first)

    # Then that Record releases the rest at once (no reconciliation run), once
    assert recorded["status"] == "captured"
    release = repository.get_release(MERCHANT, ORDER)
    assert release is not None and release.status is ReleaseStatus.RELEASED
    assert (release.amount, release.attempts) == (500, 1)
    assert authorization(sandbox, reference).get("released")
    order = repository.get_order(MERCHANT, ORDER)
    assert order is not None and order.captured_amount == EXAMPLE_ORDER_TOTAL


def test_defect_11_the_rest_canceled_while_a_shipment_is_in_flight_releases_at_its_record(
    repository: Any, lambda_context: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    # Given a shipment in flight when the rest of the order is canceled: the release waits
    reference = register(repository, lambda_context, clock, sandbox, EXAMPLE_ORDER_TOTAL)
    in_flight = ship_without_record(
        repository, lambda_context, clock, sandbox, "s-1", [{"item_id": "line-1", "quantity": 3}]
    )
    order_events.handle(
        items_canceled([{"item_id": "line-2", "quantity": 2}]),
        lambda_context,
        repository=repository,
        clock=clock,
        providers=Sandboxes(sandbox.url),
    )
    waiting = repository.get_release(MERCHANT, ORDER)
    assert waiting is not None and waiting.status is ReleaseStatus.WAITING

    # When the shipment's Record runs
    record_step(repository, lambda_context, clock, sandbox, in_flight)

    # Then it releases what the authorization has left, once
    order = repository.get_order(MERCHANT, ORDER)
    release = repository.get_release(MERCHANT, ORDER)
    assert order is not None and release is not None
    assert release.status is ReleaseStatus.RELEASED
    assert release.amount == EXAMPLE_ORDER_TOTAL - order.captured_amount > 0
    assert authorization(sandbox, reference).get("released")


def test_defect_11_a_waiting_release_of_an_order_never_finished_lapses_at_its_expiry(
    repository: Any, lambda_context: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    # Given a waiting release whose capture in flight then failed (its units capturable
    # again), on an order whose units nobody ships or cancels
    reference = register(repository, lambda_context, clock, sandbox, EXAMPLE_ORDER_TOTAL + 500)
    first = ship_without_record(
        repository, lambda_context, clock, sandbox, "s-1", [{"item_id": "line-1", "quantity": 3}]
    )
    last = ship_without_record(repository, lambda_context, clock, sandbox, "s-2")
    record_step(repository, lambda_context, clock, sandbox, last)
    stored = repository.get_capture(MERCHANT, ORDER, first["capture_id"])
    failures.record_failure(
        repository,
        request=stored.request(),
        error_type="ProviderDeclinedError",
        error_reason="provider_declined",
        message="declined",
        execution_id=stored.execution_id,
        now=clock.now(),
    )
    expires_at = repository.get_order(MERCHANT, ORDER).payment.expires_at

    # When reconciliation runs once the authorization has expired
    report = reconcile.handle(
        {"grace_seconds": 0},
        lambda_context,
        repository=repository,
        clock=FixedClock(expires_at + timedelta(minutes=1)),
        providers=Sandboxes(sandbox.url),
        publisher=RecordingPublisher(),
    )

    # Then the release is closed, lapsed, out of the open index, and nothing was sent
    assert report["releases"]["lapsed"] == 1
    release = repository.get_release(MERCHANT, ORDER)
    assert release is not None and release.status is ReleaseStatus.LAPSED
    assert repository.list_open_releases(expires_at + timedelta(days=1)) == []
    assert not authorization(sandbox, reference).get("released")
