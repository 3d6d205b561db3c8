"""Which provider has a webhook route is decided before anything in the call is checked: a
provider without one is 404 whatever the body, as an unknown route is (a body in no webhook
format sent to such a route was answered 400, a validation error of a route that is not there)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.stripe_support import _api_settings, post_event

__all__ = ["_api_settings"]  # fixtures

BODIES = {
    "a Stripe event": {"id": "evt_1", "object": "event", "type": "charge.refunded"},
    "an Adyen notification": {
        "live": "false",
        "notificationItems": [{"NotificationRequestItem": {"eventCode": "CAPTURE"}}],
    },
    "no provider's format": {"hello": "world"},
}


@pytest.mark.parametrize("provider", ["aplazame", "paypal", "Adyen"])
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_a_webhook_for_a_provider_without_one_is_404_whatever_its_body(
    repository: Any, ledger_table: str, provider: str, body: dict[str, Any]
) -> None:
    answer = post_event(
        repository, ledger_table, "merchant-1", json.dumps(body).encode(), None, provider=provider
    )
    assert answer["statusCode"] == 404, answer["body"]
    assert "provider" in answer["body"]


def test_a_webhook_route_that_exists_still_checks_the_body_first(
    repository: Any, ledger_table: str
) -> None:
    body = json.dumps(BODIES["no provider's format"]).encode()
    answer = post_event(repository, ledger_table, "merchant-1", body, None, provider="adyen")
    assert answer["statusCode"] == 400, answer["body"]
