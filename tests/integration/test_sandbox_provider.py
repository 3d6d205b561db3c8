"""The sandbox adapter against the real sandbox server on loopback: the full provider port and
every fault kind, mapped to the error class the state machine treats accordingly."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.errors import (
    CaptureOutcomeUnknownError,
    ProviderAuthorizationExpiredError,
    ProviderDeclinedError,
    ProviderOverCaptureError,
    ProviderUnavailableError,
)
from order_capture.models import CaptureLine
from order_capture.ports import (
    ProviderCaptureLookup,
    ProviderCaptureRequest,
    ProviderRefundRequest,
    ProviderReleaseRequest,
)

AUTHORIZATION = "auth-1"


@pytest.fixture
def provider(sandbox: Any) -> SandboxProvider:
    sandbox.authorize(
        AUTHORIZATION, 10_000, "EUR", (datetime.now(UTC) + timedelta(days=7)).isoformat()
    )
    # Generous: a loaded CI machine must not turn an answer into a timeout. The timeout test
    # makes the sandbox answer later than this on purpose.
    return SandboxProvider(sandbox.url, timeout_seconds=PROVIDER_TIMEOUT_SECONDS)


PROVIDER_TIMEOUT_SECONDS = 3.0


def capture(provider: SandboxProvider, amount: int, key: str, **extra: Any) -> Any:
    return provider.capture(
        ProviderCaptureRequest(
            authorization_reference=AUTHORIZATION,
            amount=amount,
            currency="EUR",
            idempotency_key=key,
            lines=[CaptureLine(item_id="i-1", quantity=1, amount=amount)],
            merchant_id="m-1",
            order_id="o-1",
            **extra,
        )
    )


def lookup(**by: str) -> ProviderCaptureLookup:
    return ProviderCaptureLookup(
        authorization_reference=AUTHORIZATION, merchant_id="m-1", order_id="o-1", **by
    )


def refund(provider: SandboxProvider, capture_reference: str, amount: int, key: str) -> Any:
    return provider.refund(
        ProviderRefundRequest(
            authorization_reference=AUTHORIZATION,
            capture_reference=capture_reference,
            amount=amount,
            currency="EUR",
            idempotency_key=key,
            merchant_id="m-1",
            order_id="o-1",
        )
    )


def release(provider: SandboxProvider, key: str) -> Any:
    return provider.release(
        ProviderReleaseRequest(
            authorization_reference=AUTHORIZATION,
            remaining_amount=0,
            currency="EUR",
            idempotency_key=key,
            merchant_id="m-1",
            order_id="o-1",
        )
    )


def test_capture_is_idempotent_and_found_again_by_key_or_reference(
    provider: SandboxProvider, sandbox: Any
) -> None:
    first = capture(provider, 4_000, "cap-1")
    again = capture(provider, 4_000, "cap-1")

    assert again == first
    assert len(sandbox.state.captures) == 1
    assert provider.find_capture(lookup(idempotency_key="cap-1")) == first
    assert provider.find_capture(lookup(provider_reference=first.provider_reference)) == first
    assert provider.find_capture(lookup(idempotency_key="never-sent")) is None


def test_refunds_are_bounded_by_the_capture(provider: SandboxProvider) -> None:
    captured = capture(provider, 4_000, "cap-1")

    first = refund(provider, captured.provider_reference, 3_000, "ref-1")
    replay = refund(provider, captured.provider_reference, 3_000, "ref-1")

    assert replay == first
    assert (first.amount, first.capture_reference) == (3_000, captured.provider_reference)
    with pytest.raises(ProviderOverCaptureError):
        refund(provider, captured.provider_reference, 1_001, "ref-2")


def test_release_closes_the_authorization(provider: SandboxProvider, sandbox: Any) -> None:
    capture(provider, 4_000, "cap-1")

    assert release(provider, "rel-1").status == "succeeded"

    with pytest.raises(ProviderAuthorizationExpiredError):
        capture(provider, 1_000, "cap-2")


def test_final_capture_releases_the_rest(provider: SandboxProvider) -> None:
    capture(provider, 4_000, "cap-1", final_capture=True)

    with pytest.raises(ProviderAuthorizationExpiredError):
        capture(provider, 1_000, "cap-2")


def test_over_capture_is_terminal(provider: SandboxProvider) -> None:
    with pytest.raises(ProviderOverCaptureError):
        capture(provider, 10_001, "cap-1")


# --- Faults -----------------------------------------------------------------------------------


def test_unavailable_is_retryable_and_captures_nothing(
    provider: SandboxProvider, sandbox: Any
) -> None:
    sandbox.add_fault("unavailable", status=503)

    with pytest.raises(ProviderUnavailableError):
        capture(provider, 4_000, "cap-1")

    assert sandbox.state.captures == []
    assert capture(provider, 4_000, "cap-1").amount == 4_000


def test_decline_is_terminal(provider: SandboxProvider, sandbox: Any) -> None:
    sandbox.add_fault("decline")

    with pytest.raises(ProviderDeclinedError) as raised:
        capture(provider, 4_000, "cap-1")

    assert type(raised.value) is ProviderDeclinedError
    assert sandbox.state.captures == []


def test_expired_authorization_is_its_own_terminal_error(
    provider: SandboxProvider, sandbox: Any
) -> None:
    sandbox.add_fault("expired_authorization")

    with pytest.raises(ProviderAuthorizationExpiredError):
        capture(provider, 4_000, "cap-1")


def test_timeout_after_capture_is_an_unknown_outcome_and_the_retry_replays(
    provider: SandboxProvider, sandbox: Any
) -> None:
    sandbox.add_fault("timeout_after_capture", delay_seconds=PROVIDER_TIMEOUT_SECONDS + 1.0)

    with pytest.raises(CaptureOutcomeUnknownError):
        capture(provider, 4_000, "cap-1")

    # The capture happened; the lookup finds it and a retry with the same key replays it.
    found = provider.find_capture(lookup(idempotency_key="cap-1"))
    assert found is not None and found.amount == 4_000
    assert capture(provider, 4_000, "cap-1") == found
    assert len(sandbox.state.captures) == 1


def test_latency_within_the_timeout_still_captures(provider: SandboxProvider, sandbox: Any) -> None:
    sandbox.add_fault("latency", delay_seconds=0.1)

    assert capture(provider, 4_000, "cap-1").status == "succeeded"


def test_an_unreachable_sandbox_is_retryable(refused_url: str) -> None:
    closed = SandboxProvider(refused_url, timeout_seconds=0.5)

    with pytest.raises(ProviderUnavailableError):
        capture(closed, 4_000, "cap-1")


def decided(sandbox: Any, status: str) -> None:
    """Wait until the sandbox decided its asynchronous capture or refund: ``status``."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with sandbox.state.lock:
            last = sandbox.state.captures[-1]
            if (last["refunds"][-1] if last["refunds"] else last)["status"] == status:
                return
        time.sleep(0.02)
    raise AssertionError(f"never {status}")


def test_campaign_a_refund_replayed_after_it_failed_is_declined_not_a_502(
    provider: SandboxProvider, sandbox: Any
) -> None:
    # The campaign's 502 (ApiFunction's ValidationError: ProviderRefund status 'failed'): a
    # refund received, its answer lost, failed by the provider; the client's retry with its
    # key is answered the refund as it is now.
    captured = capture(provider, 4_000, "cap-1")
    sandbox.add_fault("async_failed", operation="refund", delay_seconds=0.05)
    assert refund(provider, captured.provider_reference, 3_000, "ref-1").status == "pending"
    decided(sandbox, "failed")

    with pytest.raises(ProviderDeclinedError, match="failed"):
        refund(provider, captured.provider_reference, 3_000, "ref-1")


def test_campaign_an_asynchronous_final_capture_releases_the_rest_only_if_it_succeeds(
    provider: SandboxProvider, sandbox: Any
) -> None:
    # A final capture received, then failed by the provider, released nothing: the order
    # captures again (the campaign's "a capture after its release" x7 on one order)
    sandbox.add_fault("async_failed", delay_seconds=0.05)
    assert capture(provider, 4_000, "cap-1", final_capture=True).status == "pending"
    decided(sandbox, "failed")
    sandbox.add_fault("async", delay_seconds=0.05)
    assert capture(provider, 4_000, "cap-2", final_capture=True).status == "pending"
    assert sandbox.state.releases == []
    # and a final capture that succeeds releases the rest once it is made
    decided(sandbox, "succeeded")
    assert [(r["by"], r["key"]) for r in sandbox.state.releases] == [("final capture", "cap-2")]
    with pytest.raises(ProviderAuthorizationExpiredError):
        capture(provider, 1_000, "cap-3")
