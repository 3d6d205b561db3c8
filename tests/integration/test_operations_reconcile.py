"""`order-capture reconcile` tells the operator what became of each capture and refund, one line
each, and exits non-zero only when something could not be settled, naming it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.errors import ProviderNotConfiguredError
from order_capture.handlers import reconcile
from order_capture_local.operations import print_reconciliation
from order_capture_local.sandbox import SandboxServer
from tests.integration.capture_support import NoProviders, captured_but_not_recorded
from tests.support import FakeLambdaContext, FixedClock, RecordingPublisher


def run_reconcile(repository: Any, clock: FixedClock, provider_of: Any, monkeypatch: Any) -> Any:
    monkeypatch.setattr(reconcile, "_provider_of", provider_of)
    clock.current += timedelta(hours=1)
    return reconcile.handle(
        {},
        FakeLambdaContext(),
        repository=repository,
        clock=clock,
        providers=NoProviders(),
        publisher=RecordingPublisher(),
    )


def test_reconcile_prints_one_line_per_capture_and_names_missing_credentials(
    repository: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
    monkeypatch: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given two captures left pending: one whose merchant has no provider credentials
    no_credentials = captured_but_not_recorded(repository, clock, sandbox, "order-a")
    settles = captured_but_not_recorded(repository, clock, sandbox, "order-b")

    def provider_of(capture: Any) -> Any:
        if capture.capture_id == no_credentials:
            raise ProviderNotConfiguredError("no credentials of sandbox for merchant-1")
        return SandboxProvider(sandbox.url)

    # When reconciliation runs and its report is printed
    report = run_reconcile(repository, clock, provider_of, monkeypatch)
    status = print_reconciliation(report)
    out, err = capsys.readouterr()

    # Then each capture has its line: id, provider, outcome, reason
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("capture ")}
    assert set(lines) == {no_credentials, settles}
    assert lines[settles].split()[2:4] == ["sandbox", "confirmed"]
    assert lines[no_credentials].split()[2:4] == ["sandbox", "unanswered"]
    assert "ProviderNotConfiguredError: no credentials" in lines[no_credentials]
    # and the run fails, naming the one not settled and why (the error is not swallowed)
    assert status == 1
    assert no_credentials in err and "ProviderNotConfiguredError" in err
    assert settles not in err


def test_reconcile_exits_zero_when_everything_is_settled(
    repository: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
    monkeypatch: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    capture_id = captured_but_not_recorded(repository, clock, sandbox, "order-a")
    report = run_reconcile(repository, clock, lambda _: SandboxProvider(sandbox.url), monkeypatch)
    assert print_reconciliation(report) == 0
    out, err = capsys.readouterr()
    assert f"capture {capture_id}" in out and "confirmed" in out
    assert err == ""


def test_reconcile_names_a_capture_whose_settling_raised(
    repository: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
    monkeypatch: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = captured_but_not_recorded(repository, clock, sandbox, "order-a")

    def provider_of(capture: Any) -> Any:
        raise KeyError("an answer nobody foresaw")

    report = run_reconcile(repository, clock, provider_of, monkeypatch)
    assert [(item["id"], item["outcome"]) for item in report["items"]] == [(broken, "errors")]
    assert print_reconciliation(report, as_json=True) == 1
    err = capsys.readouterr().err
    assert broken in err and "KeyError" in err
