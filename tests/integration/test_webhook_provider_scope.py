"""Security review: a provider's webhook settles only captures made at that provider, and
only under a key that proves something (a blank key proves nothing; one that is not hex is
the operator's to hear about, not the caller's)."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.api_support import LocalApiUnderTest, Merchant, served_api
from tests.integration.async_support import capture_asynchronously, signed_notification

SANDBOX_KEY = secrets.token_hex(32)
ADYEN_KEY = secrets.token_hex(32)
#: Merchants whose sandbox webhook key is blank, or not hex (misconfigured).
BLANK_KEY_MERCHANT = f"merchant-blank-{uuid.uuid4().hex[:8]}"
NOT_HEX_KEY_MERCHANT = f"merchant-nothex-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def two_provider_api() -> Iterator[tuple[LocalApiUnderTest, str]]:
    merchant_id = f"merchant-two-{uuid.uuid4().hex[:8]}"
    credentials = {
        merchant_id: {
            "sandbox": {"api_key": "unused", "webhook_hmac_key": SANDBOX_KEY},
            "adyen": {
                "api_key": "adyen-key",
                "merchant_account": "ShopECOM",
                "webhook_hmac_key": ADYEN_KEY,
            },
        },
        BLANK_KEY_MERCHANT: {"sandbox": {"api_key": "unused", "webhook_hmac_key": ""}},
        NOT_HEX_KEY_MERCHANT: {"sandbox": {"api_key": "unused", "webhook_hmac_key": "zz-not-hex"}},
    }
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PROVIDER_CREDENTIALS_JSON", json.dumps(credentials))
        with served_api() as api:
            yield api, merchant_id


def test_review_an_adyen_webhook_does_not_settle_a_sandbox_capture(
    two_provider_api: tuple[LocalApiUnderTest, str],
) -> None:
    api, merchant_id = two_provider_api
    merchant = Merchant(api, merchant_id, api.api.create_api_key(merchant_id))
    # Given a capture at the sandbox that the sandbox has only received (pending)
    order_id, capture = capture_asynchronously(api, merchant, "async", delay_seconds=30)
    assert capture["status"] == "pending", capture
    # When a CAPTURE_FAILED naming it arrives at the merchant's *Adyen* webhook URL, signed
    # with the merchant's Adyen key (Adyen never saw this capture)
    body = signed_notification(capture["id"], "CAPTURE_FAILED", "true", key=ADYEN_KEY)
    with httpx.Client(base_url=api.url, timeout=30) as client:
        answer = client.post("/webhooks/adyen", params={"merchant_id": merchant_id}, json=body)
    assert answer.status_code == 202, answer.text
    # Then the sandbox capture is untouched: only the sandbox's word settles it
    with merchant.client() as client:
        shown = client.get(f"/orders/{order_id}/captures/{capture['id']}").json()
    assert shown["status"] == "pending", shown


def test_review_an_empty_adyen_webhook_key_lets_anyone_reverse_a_capture(
    two_provider_api: tuple[LocalApiUnderTest, str],
) -> None:
    api, _ = two_provider_api
    merchant = Merchant(api, BLANK_KEY_MERCHANT, api.api.create_api_key(BLANK_KEY_MERCHANT))
    # Given a merchant whose webhook key is set, but blank, and a capture pending at its provider
    order_id, capture = capture_asynchronously(api, merchant, "async", delay_seconds=30)
    assert capture["status"] == "pending", capture
    # When anyone posts a CAPTURE_FAILED naming it, signed under the empty key (an HMAC
    # anyone can compute)
    body = signed_notification(capture["id"], "CAPTURE_FAILED", "true", key="")
    with httpx.Client(base_url=api.url, timeout=30) as client:
        answer = client.post(
            "/webhooks/sandbox", params={"merchant_id": BLANK_KEY_MERCHANT}, json=body
        )
    # Then it is refused and the capture is untouched
    assert answer.status_code == 401, answer.text
    assert "hmacSignature" in answer.text, answer.text
    with merchant.client() as client:
        shown = client.get(f"/orders/{order_id}/captures/{capture['id']}").json()
    assert shown["status"] == "pending", shown


def test_review_a_webhook_key_that_is_not_hex_is_refused_without_saying_so(
    two_provider_api: tuple[LocalApiUnderTest, str],
) -> None:
    api, _ = two_provider_api
    # Given a merchant whose webhook key is misconfigured (not hex): no notification verifies
    body = signed_notification("any-capture", "CAPTURE_FAILED", "true", key=SANDBOX_KEY)
    with httpx.Client(base_url=api.url, timeout=30) as client:
        answer = client.post(
            "/webhooks/sandbox", params={"merchant_id": NOT_HEX_KEY_MERCHANT}, json=body
        )
    # Then the unauthenticated caller gets the same 401 as for a wrong signature: the
    # merchant's misconfiguration is for its operator's logs, not for whoever calls
    assert answer.status_code == 401, answer.text
    assert "hex" not in answer.text.lower(), answer.text
