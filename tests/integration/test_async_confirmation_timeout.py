"""A provider that never confirms: the confirmation workflow gives up after
ProviderConfirmationTimeoutSeconds, the capture stays reserved, and a late webhook still
settles the ledger and announces the capture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.api_support import LocalApiUnderTest, Merchant
from tests.integration.async_support import (
    capture_asynchronously,
    confirmation_execution,
    events_about,
    order_totals,
    post_webhook,
    signed_notification,
    signed_webhook_api,
    wait_for_status,
    webhook_merchant,
)

TIMEOUT_SECONDS = 1


@pytest.fixture(scope="module")
def silent_provider_api() -> Iterator[LocalApiUnderTest]:
    overrides = {"ProviderConfirmationTimeoutSeconds": str(TIMEOUT_SECONDS)}
    with signed_webhook_api(overrides, sandbox_calls_webhook=False) as api:
        yield api


@pytest.fixture
def merchant(silent_provider_api: LocalApiUnderTest) -> Merchant:
    return webhook_merchant(silent_provider_api)


def test_an_overdue_confirmation_keeps_the_reservation_and_a_late_webhook_settles_it(
    silent_provider_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    api = silent_provider_api
    order_id, capture = capture_asynchronously(api, merchant, "async")
    # The provider never calls back: the wait times out and says so
    confirmation = confirmation_execution(api, capture["id"])
    assert (confirmation.status, confirmation.error) == ("FAILED", "ConfirmationOverdue")
    assert confirmation.states == ["AwaitProviderConfirmation", "ConfirmationOverdue"]
    # The provider may still capture: nothing is released, nothing announced
    assert order_totals(merchant, order_id) == (0, 10050)
    assert events_about(api, capture["id"]) == []
    # When the webhook finally arrives it settles the ledger and, as nothing waits any more,
    # announces the capture itself; a repeat changes nothing
    for _ in range(2):
        response = post_webhook(
            api, merchant.merchant_id, signed_notification(capture["id"], "CAPTURE", "true")
        )
        assert (response.status_code, response.text) == (202, "[accepted]")
    wait_for_status(merchant, order_id, capture["id"], "captured")
    assert order_totals(merchant, order_id) == (10050, 0)
    assert events_about(api, capture["id"]) == ["Payment Captured"]
