"""`Payment Captured` once, when the confirmation wait timed out: reconciliation settles and
announces the capture, and the provider's late webhook announces nothing more."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.announced_once import reconcile_now, repeat_capture_notification
from tests.integration.api_support import LocalApiUnderTest
from tests.integration.async_support import (
    capture_asynchronously,
    confirmation_execution,
    events_about,
    order_totals,
    signed_webhook_api,
    webhook_merchant,
)


@pytest.fixture(scope="module")
def silent_provider_api() -> Iterator[LocalApiUnderTest]:
    """The sandbox decides asynchronous captures but never calls the webhook, and the
    confirmation workflow gives up after a second."""
    overrides = {"ProviderConfirmationTimeoutSeconds": "1", "ProviderTimeoutSeconds": "1"}
    with signed_webhook_api(overrides, sandbox_calls_webhook=False, retry_time_scale=0.05) as api:
        yield api


def test_defect_6a_reconciliation_after_the_wait_timed_out_then_a_late_webhook_announces_once(
    silent_provider_api: LocalApiUnderTest,
) -> None:
    api = silent_provider_api
    merchant = webhook_merchant(api)
    order_id, capture = capture_asynchronously(api, merchant, "async")
    # The wait times out (the provider captured, its webhook is late)
    assert confirmation_execution(api, capture["id"]).error == "ConfirmationOverdue"
    # Reconciliation finds it captured at the provider and announces it
    assert reconcile_now(api)["confirmed"] >= 1
    assert order_totals(merchant, order_id) == (10050, 0)
    assert events_about(api, capture["id"]) == ["Payment Captured"]
    # Then the late webhook arrives (twice): nothing more is announced
    repeat_capture_notification(api, merchant, capture["id"])
    assert events_about(api, capture["id"]) == ["Payment Captured"]
