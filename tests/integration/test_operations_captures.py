"""An operator lists the open captures, looks at one, settles it by hand: the same conditional
writes and the same announcement, once, as the automatic paths; refused once it moved on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from order_capture.domain import failures, service
from order_capture.domain.operator_settlement import (
    CaptureInFlightError,
    CaptureMovedOnError,
    settle_capture,
)
from order_capture.errors import CaptureNotFoundAtProviderError
from order_capture.history import Actor, acting
from order_capture.models import CaptureStatus, FailureReason
from order_capture_local.sandbox import SandboxServer
from tests.integration.capture_support import (
    NoProviders,
    announced,
    captured_but_not_recorded,
    cli,
    requires_action,
)
from tests.support import FixedClock, NothingWaits, RecordingPublisher

__all__ = ["announced"]  # fixture


def test_a_requires_action_capture_is_listed_shown_settled_announced_once_and_gone(
    repository: Any,
    ledger_table: str,
    clock: FixedClock,
    sandbox: SandboxServer,
    announced: list[tuple[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    stuck = requires_action(repository, clock, sandbox, "order-a")
    table = ("--table", ledger_table)

    status, out, _ = cli(capsys, "captures", "list", "--status", "requires_action", *table)
    assert status == 0 and stuck.capture_id in out and "outcome_unknown" in out

    status, out, _ = cli(capsys, "captures", "show", stuck.capture_id, "--no-lookup", *table)
    shown = json.loads(out)
    assert shown["capture"]["status"] == "requires_action"
    assert shown["order"]["reserved"] == stuck.amount
    assert [(e["change"], e["by"]["kind"]) for e in shown["history"]] == [
        ("reserved", "execution"),
        ("requires_action", "execution"),
    ]
    assert "outcome_unknown" in shown["history"][1]["error"]

    status, out, err = cli(
        capsys,
        "captures",
        "settle",
        stuck.capture_id,
        "--captured",
        "--provider-reference",
        "psp-123",
        "--operator",
        "alice",
        *table,
    )
    assert status == 0, err
    settled = repository.get_capture("merchant-1", "order-a", stuck.capture_id)
    assert (settled.status, settled.provider_reference) == (CaptureStatus.CAPTURED, "psp-123")
    order = repository.get_order("merchant-1", "order-a")
    assert (order.captured_amount, order.reserved_amount) == (stuck.amount, 0)
    assert announced == [("Payment Captured", stuck.capture_id)]
    show = ("show", stuck.capture_id, "--no-lookup", "--merchant", "merchant-1")
    status, out, _ = cli(capsys, "captures", *show, *table)
    confirmed = json.loads(out)["history"][-1]
    assert (confirmed["change"], confirmed["from_status"], confirmed["to_status"]) == (
        "confirmed",
        "requires_action",
        "captured",
    )
    assert confirmed["by"] == {"kind": "operator", "name": "alice", "reason": "settle capture"}
    assert confirmed["provider_reference"] == "psp-123"

    # Gone from the list; settling again is refused, and announces nothing more
    status, out, _ = cli(capsys, "captures", "list", *table)
    assert stuck.capture_id not in out
    again = ("settle", stuck.capture_id, "--not-captured", "--reason", "x", "--merchant")
    status, _, err = cli(capsys, "captures", *again, "merchant-1", *table)
    assert status == 1 and "refused" in err and "captured already" in err
    assert announced == [("Payment Captured", stuck.capture_id)]


def test_settled_not_captured_releases_the_reservation_and_announces_the_failure(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    stuck = requires_action(repository, clock, sandbox, "order-a")
    publisher = RecordingPublisher()
    settled = settle_capture(
        repository,
        NothingWaits(),
        publisher,
        stuck,
        providers=NoProviders(),  # not captured: nothing to release
        provider_reference=None,
        reason="the provider's dashboard shows no capture",
        operator="alice",
        now=clock.now(),
    )
    assert settled.status is CaptureStatus.FAILED and settled.failure is not None
    assert "alice" in settled.failure.message and "dashboard" in settled.failure.message
    assert repository.get_order("merchant-1", "order-a").reserved_amount == 0
    assert [kind for kind, _ in publisher.published] == ["Payment Capture Failed"]


def test_settling_what_moved_on_meanwhile_is_refused_and_changes_nothing(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    # Given the operator looked at a requires_action capture
    looked_at = requires_action(repository, clock, sandbox, "order-a")
    # and reconciliation confirmed it meanwhile
    service.record_capture(
        repository,
        looked_at.model_copy(
            update={"provider_reference": "psp-real", "status_at_provider": "succeeded"}
        ),
        clock.now(),
    )
    publisher = RecordingPublisher()
    # When the operator settles what they saw as not captured, it is refused
    with pytest.raises(CaptureMovedOnError, match="moved on"):
        settle_capture(
            repository,
            NothingWaits(),
            publisher,
            looked_at,
            providers=NoProviders(),  # not captured: nothing to release
            provider_reference=None,
            reason="not at the provider",
            operator="alice",
            now=clock.now(),
        )
    stored = repository.get_capture("merchant-1", "order-a", looked_at.capture_id)
    assert (stored.status, stored.provider_reference) == (CaptureStatus.CAPTURED, "psp-real")
    assert publisher.published == []


def test_settle_needs_the_reference_or_the_reason(
    ledger_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = cli(capsys, "captures", "settle", "c1", "--captured", "--table", ledger_table)
    assert status == 1 and "--provider-reference" in err


def test_cli_user_mistakes_are_one_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # An unknown function (in-process: no stack is asked), a log level that is a typo
    status, _, err = cli(capsys, "local", "invoke", "NoSuchFunction", "--in-process")
    assert status == 1 and "no function 'NoSuchFunction'" in err and "ReconcileFunction" in err
    assert "Traceback" not in err
    status, _, err = cli(capsys, "local", "invoke", "ReconcileFunction", "--log-level", "LOUD")
    assert status == 1 and "'LOUD' is not one of" in err


def test_review_settling_a_capture_still_in_flight_not_captured_is_refused(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    """A capture just reserved is listed (``--older-than`` is 0 by default) while its Capture
    step is at the provider. Settled not captured, its units were freed, Record's confirm
    then lost its condition and said nothing: the provider held 10171, the ledger 0."""
    capture_id = captured_but_not_recorded(repository, clock, sandbox, "order-a")
    in_flight = repository.get_capture("merchant-1", "order-a", capture_id)
    assert in_flight.status is CaptureStatus.PENDING
    with sandbox.state.lock:
        (made,) = [dict(c) for c in sandbox.state.captures]
    publisher = RecordingPublisher()
    with pytest.raises(CaptureInFlightError, match="may still be capturing"):
        settle_capture(
            repository, NothingWaits(), publisher, in_flight,
            providers=NoProviders(), provider_reference=None,
            reason="nothing in the dashboard", operator="alice", now=clock.now(),
        )  # fmt: skip
    sent = in_flight.model_copy(
        update={"provider_reference": made["id"], "status_at_provider": "succeeded"}
    )
    service.record_and_announce(
        repository, publisher, sent, clock.now(), execution_id=in_flight.execution_id
    )
    stored = repository.get_capture("merchant-1", "order-a", capture_id)
    assert stored.status is CaptureStatus.CAPTURED
    assert [kind for kind, _ in publisher.published] == ["Payment Captured"]


def test_review_not_captured_after_reconciliation_failed_it_is_refused_not_reported_as_done(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    """The operator's "not captured" found it failed already by reconciliation: it was
    reported as the operator's settlement (``settled failed by alice``)."""
    looked_at = requires_action(repository, clock, sandbox, "order-a")
    with acting(Actor(kind="reconciliation")):
        failures.fail_capture(
            repository,
            request=looked_at.request(),
            failure=FailureReason(
                reason=CaptureNotFoundAtProviderError.reason,
                message="reconciliation: the provider has no capture with this key",
                error=CaptureNotFoundAtProviderError.__name__,
            ),
            execution_id=looked_at.execution_id,
            now=clock.now(),
            reopen_requires_action=True,
        )
    with pytest.raises(CaptureMovedOnError, match="meanwhile by another path"):
        settle_capture(
            repository, NothingWaits(), RecordingPublisher(), looked_at,
            providers=NoProviders(), provider_reference=None,
            reason="not at the provider", operator="alice", now=clock.now(),
        )  # fmt: skip
