"""Signed notifications about references the ledger can prove are not ours (an external
refund whose merchantReference happens to look like our ids) are accepted and ignored; ours
are findable from the moment they can reach the provider, so none of ours is ignored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.integration.api_support import LocalApiUnderTest, ledger_items
from tests.integration.async_support import (
    async_api,
    post_webhook,
    signed_notification,
    webhook_merchant,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


__all__ = ["async_api"]  # fixtures


@pytest.mark.parametrize("event", ["CAPTURE", "REFUND", "CAPTURE_FAILED", "REFUND_FAILED"])
def test_defect_10_a_reference_we_never_made_is_accepted_and_ignored(
    async_api: LocalApiUnderTest, event: str
) -> None:
    merchant = webhook_merchant(async_api)
    before = ledger_items(async_api, merchant.merchant_id)
    # A refund made in the provider's dashboard, its merchantReference 32 hex digits
    foreign = uuid.uuid4().hex
    response = post_webhook(
        async_api, merchant.merchant_id, signed_notification(foreign, event, "true")
    )
    assert (response.status_code, response.text) == (202, "[accepted]")
    assert ledger_items(async_api, merchant.merchant_id) == before
    assert not [e for e in async_api.runtime.emitted_events if foreign in str(e["detail"])]
