"""An operator lists the open captures, looks at one, settles it by hand: the same conditional
writes and the same announcement, once, as the automatic paths; refused once it moved on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from order_capture.domain import service
from order_capture.domain.operator_settlement import CaptureMovedOnError, settle_capture
from order_capture.models import CaptureStatus
from order_capture_local.sandbox import SandboxServer
from tests.integration.capture_support import NoProviders, announced, cli, requires_action
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
