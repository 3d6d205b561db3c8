"""Helpers of the announced-once tests."""

from __future__ import annotations

import time
from typing import Any

from tests.integration.api_support import LocalApiUnderTest, Merchant
from tests.integration.async_support import post_webhook, signed_notification


def repeat_capture_notification(
    api: LocalApiUnderTest, merchant: Merchant, capture_id: str
) -> None:
    for _ in range(2):
        response = post_webhook(
            api, merchant.merchant_id, signed_notification(capture_id, "CAPTURE", "true")
        )
        assert (response.status_code, response.text) == (202, "[accepted]")


def reconcile_now(api: LocalApiUnderTest) -> dict[str, Any]:
    invocation = api.runtime.invoke("ReconcileFunction", {"grace_seconds": 0})
    assert not invocation.failed, invocation
    return dict(invocation.payload)


def decisions(api: LocalApiUnderTest, status: str) -> int:
    """How many captures the sandbox has decided as ``status`` so far."""
    sandbox = api.runtime.sandbox
    assert sandbox is not None
    with sandbox.state.lock:
        return sum(reply[2].get("status") == status for reply in sandbox.state.replies.values())


def decided(api: LocalApiUnderTest, status: str, more_than: int = 0) -> None:
    """Wait until the sandbox has decided an asynchronous capture as ``status`` beyond the
    ``more_than`` it had decided so (the module's API is shared: an earlier test's capture,
    decided already, must not stand for this one)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if decisions(api, status) > more_than:
            return
        time.sleep(0.05)
    raise AssertionError(f"the sandbox decided no capture {status}")
