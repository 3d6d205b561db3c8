"""`Payment Captured` is announced once per capture, whoever settles it (the webhook, the
confirmation workflow, reconciliation) and however often the provider repeats itself."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.announced_once import (
    decided,
    decisions,
    reconcile_now,
    repeat_capture_notification,
)
from tests.integration.api_support import LocalApiUnderTest
from tests.integration.async_support import (
    capture_asynchronously,
    confirmation_execution,
    events_about,
    order_totals,
    signed_webhook_api,
    wait_for_status,
    webhook_merchant,
)


@pytest.fixture(scope="module")
def async_api() -> Iterator[LocalApiUnderTest]:
    with signed_webhook_api() as api:
        yield api


def test_defect_6b_a_webhook_faster_than_the_wait_then_repeated_announces_once(
    async_api: LocalApiUnderTest,
) -> None:
    merchant = webhook_merchant(async_api)
    runtime = async_api.runtime

    def after_the_webhook(payload: Any) -> None:
        # The webhook settles the capture before the wait notes its task token
        wait_for_status(
            merchant, payload["capture"]["order_id"], payload["capture"]["capture_id"], "captured"
        )

    runtime.fault_hooks["AwaitConfirmationFunction"] = after_the_webhook
    try:
        order_id, capture = capture_asynchronously(async_api, merchant, "async", delay_seconds=0)
        confirmation = confirmation_execution(async_api, capture["id"])
    finally:
        runtime.fault_hooks.pop("AwaitConfirmationFunction")
    assert confirmation.status == "SUCCEEDED"
    # The provider delivers the same notification again
    repeat_capture_notification(async_api, merchant, capture["id"])
    assert order_totals(merchant, order_id) == (10050, 0)
    assert events_about(async_api, capture["id"]) == ["Payment Captured"]


def test_defect_6a_reconciliation_while_the_wait_is_on_completes_it_and_announces_once(
    async_api: LocalApiUnderTest,
) -> None:
    """The webhook is lost while the confirmation workflow still waits: reconciliation settles
    the capture and completes that wait (which announces it); the webhook, when it comes at
    last, announces nothing more."""
    api = async_api
    merchant = webhook_merchant(api)
    assert api.runtime.sandbox is not None
    webhook_url = api.runtime.sandbox.webhook_url
    noted = threading.Event()
    api.runtime.sandbox.webhook_url = None  # this capture's webhook gets lost
    api.runtime.after_hooks["AwaitConfirmationFunction"] = lambda payload, result: noted.set()
    try:
        earlier = decisions(api, "succeeded")
        order_id, capture = capture_asynchronously(api, merchant, "async", delay_seconds=0)
        # The wait has noted its task token, and the sandbox decided (captured) meanwhile
        assert noted.wait(10)
        decided(api, "succeeded", more_than=earlier)
        assert reconcile_now(api)["confirmed"] >= 1
    finally:
        api.runtime.after_hooks.pop("AwaitConfirmationFunction")
        api.runtime.sandbox.webhook_url = webhook_url
    confirmation = confirmation_execution(api, capture["id"])
    assert confirmation.status == "SUCCEEDED"
    assert order_totals(merchant, order_id) == (10050, 0)
    repeat_capture_notification(api, merchant, capture["id"])
    assert events_about(api, capture["id"]) == ["Payment Captured"]
