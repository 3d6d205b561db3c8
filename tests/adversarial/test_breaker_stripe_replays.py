"""Adversarial: a valid Stripe event replayed after its signature's tolerance (300 s, as
Stripe's libraries), on the ledger (moto) through the API function: the first delivery
settles the refund once; the same bytes and header later are 401 naming ``Stripe-Signature``
and change nothing, as is the old ``v1`` under a fresh ``t``."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from order_capture.adapters import stripe_events
from order_capture.models import Capture
from tests.integration.stripe_support import (
    NOW,
    FakeStripe,
    _api_settings,
    capture,
    fake,
    post_event,
    refund,
    signed,
    totals,
)

__all__ = ["_api_settings", "capture", "fake"]  # fixtures (the first autouse)

REFUNDED_ONCE = (1500, 0, 3500, 1500)


@pytest.mark.parametrize("age", [0, stripe_events.TOLERANCE_SECONDS])
def test_breaker_a_stripe_event_within_its_tolerance_refunds_once_however_often(
    repository: Any, ledger_table: str, fake: FakeStripe, capture: Capture, age: int
) -> None:
    made = refund(repository, fake, capture)
    assert made.provider_reference is not None
    fake.decide(made.provider_reference, "succeeded")
    payload = fake.event(made.provider_reference)
    header = signed(payload, NOW - timedelta(seconds=age))
    for _ in range(3):
        answer = post_event(repository, ledger_table, capture.merchant_id, payload, header)
        assert (answer["statusCode"], json.loads(answer["body"])) == (200, {"received": True})
    assert totals(repository, capture) == REFUNDED_ONCE


@pytest.mark.parametrize("replay", ["same header", "old v1 under a fresh t", "t twice"])
def test_breaker_a_stripe_event_replayed_after_its_tolerance_is_401_and_changes_nothing(
    repository: Any, ledger_table: str, fake: FakeStripe, capture: Capture, replay: str
) -> None:
    # Given a pending refund, and Stripe's refund.updated "succeeded" of it signed 301 s ago
    made = refund(repository, fake, capture)
    assert made.provider_reference is not None
    fake.decide(made.provider_reference, "succeeded")
    succeeded = fake.event(made.provider_reference)
    old = NOW - timedelta(seconds=stripe_events.TOLERANCE_SECONDS + 1)
    header = signed(succeeded, old)
    fresh_t = f"t={int(NOW.timestamp())}"
    old_v1 = header.split(",", 1)[1]
    sent = {
        "same header": header,
        "old v1 under a fresh t": f"{fresh_t},{old_v1}",
        "t twice": f"{header.split(',', 1)[0]},{fresh_t},{old_v1}",
    }[replay]
    # When it is replayed past the tolerance
    answer = post_event(repository, ledger_table, capture.merchant_id, succeeded, sent)
    # Then it is refused, naming the header, and the refund stays pending
    assert answer["statusCode"] == 401, answer["body"]
    assert json.loads(answer["body"])["error"]["field"] == stripe_events.SIGNATURE_HEADER
    assert totals(repository, capture) == (0, 1500, 3500, 0)
