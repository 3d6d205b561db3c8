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


def decided(api: LocalApiUnderTest, status: str) -> None:
    """Wait until the sandbox has decided an asynchronous capture as ``status``."""
    sandbox = api.runtime.sandbox
    assert sandbox is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with sandbox.state.lock:
            if any(reply[2].get("status") == status for reply in sandbox.state.replies.values()):
                return
        time.sleep(0.05)
    raise AssertionError(f"the sandbox decided no capture {status}")
