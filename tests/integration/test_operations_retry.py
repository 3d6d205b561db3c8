"""`captures retry`, `refunds settle` and `refunds retry`: an operator sends again only under the
same idempotency key, to a provider that takes keys; settles a refund with the webhook's
conditional writes; and is refused once the state moved on."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.adapters.providers import ConfiguredProviders
from order_capture.domain.operator_settlement import (
    IN_FLIGHT_GRACE,
    RetryNotSafeError,
    retry_capture,
)
from order_capture.errors import ProviderUnavailableError
from order_capture.models import Capture, CaptureStatus, RefundStatus
from order_capture.ports import ProviderRefund, ProviderRefundRequest
from order_capture_local.sandbox import SandboxServer
from tests.fake_providers import RecordingProvider
from tests.integration.capture_support import (  # noqa: F401 - announced: a fixture
    announced,
    cli,
    free_gift_not_recorded,
    requires_action,
)
from tests.integration.refund_support import capture, refund  # noqa: F401 - capture: a fixture
from tests.support import FixedClock, NothingWaits, RecordingPublisher


def test_captures_retry_sends_the_same_key_captures_once_and_announces_once(
    repository: Any,
    ledger_table: str,
    clock: FixedClock,
    sandbox: SandboxServer,
    announced: list[tuple[str, str]],  # noqa: F811 - the fixture
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a capture the sandbox made whose answer the ledger never recorded
    stuck = requires_action(repository, clock, sandbox, "order-a")
    with sandbox.state.lock:
        made = [dict(c) for c in sandbox.state.captures]
    assert len(made) == 1
    monkeypatch.setenv("SANDBOX_PROVIDER_URL", sandbox.url)
    table = ("--table", ledger_table)

    # When the operator retries it
    status, out, err = cli(
        capsys, "captures", "retry", stuck.capture_id, "--operator", "bob", *table
    )

    # Then the sandbox answered with its first capture (same key): captured once, announced once
    assert status == 0, err
    assert f"captured at the provider as {made[0]['id']}" in out
    with sandbox.state.lock:
        assert len(sandbox.state.captures) == 1
    stored = repository.get_capture("merchant-1", "order-a", stuck.capture_id)
    assert (stored.status, stored.provider_reference) == (CaptureStatus.CAPTURED, made[0]["id"])
    assert announced == [("Payment Captured", stuck.capture_id)]
    # A second retry is refused: nothing is open any more
    again = ("retry", stuck.capture_id, "--merchant", "merchant-1", *table)
    status, _, err = cli(capsys, "captures", *again)
    assert status == 1 and "refused" in err and "captured already" in err
    assert announced == [("Payment Captured", stuck.capture_id)]


class _NoKeys(RecordingProvider):
    """A provider that takes no idempotency key (as Aplazame): it must never be asked again."""

    name = "aplazame"
    idempotent_captures = False

    def capture(self, request: Any) -> Any:
        raise AssertionError("a capture was sent again to a provider without keys")


def test_captures_retry_to_a_provider_without_keys_is_refused_and_sends_nothing(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    stuck = requires_action(repository, clock, sandbox, "order-a")
    publisher = RecordingPublisher()
    with pytest.raises(RetryNotSafeError, match="aplazame takes no idempotency key"):
        retry_capture(
            repository,
            NothingWaits(),
            publisher,
            _NoKeys(),
            stuck,
            operator="bob",
            now=clock.now(),
        )
    stored = repository.get_capture("merchant-1", "order-a", stuck.capture_id)
    assert stored.status is CaptureStatus.REQUIRES_ACTION and publisher.published == []


class _Unanswered(RecordingProvider):
    """Takes the refund request and never answers (the refund stays pending)."""

    def refund(self, request: ProviderRefundRequest) -> ProviderRefund:
        raise ProviderUnavailableError("no answer")


def pending_refund(repository: Any, captured: Capture, amount: int = 1000) -> Any:
    with pytest.raises(ProviderUnavailableError):
        refund(repository, _Unanswered(), captured, amount, "k-1")
    (pending,) = repository.list_refunds(captured.merchant_id, captured.order_id)
    assert pending.status is RefundStatus.PENDING
    return pending


def test_refunds_settle_refunded_moves_the_totals_once_and_is_refused_after(
    repository: Any,
    ledger_table: str,
    capture: Capture,  # noqa: F811 - the fixture
    capsys: pytest.CaptureFixture[str],
) -> None:
    pending = pending_refund(repository, capture)
    table = ("--table", ledger_table)
    status, out, _ = cli(capsys, "refunds", "list", *table)
    assert pending.refund_id in out

    settle = ("settle", pending.refund_id, "--refunded", "--provider-reference", "re-77")
    status, out, err = cli(capsys, "refunds", *settle, "--operator", "carol", *table)
    assert status == 0, err
    assert f"refund {pending.refund_id} settled refunded by carol (re-77)" in out
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    assert (stored.refunded_amount, stored.refund_pending_amount) == (1000, 0)
    assert repository.get_order(capture.merchant_id, capture.order_id).refunded_amount == 1000
    status, out, _ = cli(capsys, "refunds", "list", *table)
    assert pending.refund_id not in out

    merchant = ("--merchant", capture.merchant_id)
    undo = ("settle", pending.refund_id, "--not-refunded", "--reason", "x", *merchant, *table)
    status, _, err = cli(capsys, "refunds", *undo)
    assert status == 1 and "refused" in err and "refunded already" in err
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    assert stored.refunded_amount == 1000


def test_refunds_settle_not_refunded_makes_the_amount_refundable_again(
    repository: Any,
    ledger_table: str,
    capture: Capture,  # noqa: F811 - the fixture
    capsys: pytest.CaptureFixture[str],
) -> None:
    pending = pending_refund(repository, capture)
    reason = ("--reason", "the provider's dashboard shows no refund", "--operator", "carol")
    settle = ("settle", pending.refund_id, "--not-refunded", *reason)
    status, _, err = cli(capsys, "refunds", *settle, "--table", ledger_table)
    assert status == 0, err
    (failed,) = repository.list_refunds(capture.merchant_id, capture.order_id)
    assert failed.status is RefundStatus.FAILED and failed.failure is not None
    assert "carol" in failed.failure.message and "dashboard" in failed.failure.message
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    assert (stored.refunded_amount, stored.refund_pending_amount) == (0, 0)


def test_refunds_settle_needs_the_reference_or_the_reason(
    ledger_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = cli(capsys, "refunds", "settle", "r1", "--refunded", "--table", ledger_table)
    assert status == 1 and "--provider-reference" in err


def test_refunds_retry_sends_the_same_key_and_confirms(
    repository: Any,
    ledger_table: str,
    capture: Capture,  # noqa: F811 - the fixture
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pending = pending_refund(repository, capture)
    answering = RecordingProvider()
    monkeypatch.setattr(ConfiguredProviders, "provider", lambda self, name, merchant: answering)
    status, out, err = cli(capsys, "refunds", "retry", pending.refund_id, "--table", ledger_table)
    assert status == 0, err
    assert f"refunded (re-{pending.refund_id})" in out
    assert answering.refunds == {pending.refund_id: 1000}  # under the refund's own key
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    assert (stored.refunded_amount, stored.refund_pending_amount) == (1000, 0)
    status, _, err = cli(
        capsys,
        "refunds",
        "retry",
        pending.refund_id,
        "--merchant",
        capture.merchant_id,
        "--table",
        ledger_table,
    )
    assert status == 1 and "refunded already" in err


def test_refunds_retry_to_a_provider_without_keys_is_refused(
    repository: Any,
    ledger_table: str,
    capture: Capture,  # noqa: F811 - the fixture
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pending = pending_refund(repository, capture)
    no_keys = _NoKeys()
    monkeypatch.setattr(ConfiguredProviders, "provider", lambda self, name, merchant: no_keys)
    status, _, err = cli(capsys, "refunds", "retry", pending.refund_id, "--table", ledger_table)
    assert status == 1 and "refused" in err and "not sent again" in err
    assert no_keys.refunds == {}


def test_review_captures_retry_of_a_capture_of_nothing_confirms_it_without_the_provider(
    repository: Any, clock: FixedClock, sandbox: SandboxServer
) -> None:
    """A free gift's capture of 0, left open: a retry confirms it and asks nothing, even of
    a provider without idempotency keys (it would have been refused as unsafe)."""
    stuck = free_gift_not_recorded(repository, clock, sandbox, _NoKeys())
    publisher = RecordingPublisher()
    later = clock.now() + IN_FLIGHT_GRACE  # no longer possibly in flight
    settled, said = retry_capture(
        repository, NothingWaits(), publisher, _NoKeys(), stuck, operator="bob", now=later
    )
    assert (settled.status, settled.amount) == (CaptureStatus.CAPTURED, 0)
    assert "not sent" in said
    ((detail_type, (event,)),) = publisher.published
    assert (detail_type, event.capture_id) == ("Payment Captured", stuck.capture_id)
