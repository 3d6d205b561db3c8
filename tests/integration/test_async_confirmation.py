"""Asynchronous confirmation end to end on the local runtime: the sandbox answers "received"
(like Adyen), the capture stays pending, and its signed webhook confirms or fails it."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from order_capture.adapters.adyen import notification_signature
from order_capture_local.runtime import LocalRuntime
from tests.integration.api_support import LocalApiUnderTest, Merchant, idempotency_key, seed_order

HMAC_KEY = secrets.token_hex(32)


@pytest.fixture(scope="module")
def async_api() -> Iterator[LocalApiUnderTest]:
    """The API on the local runtime, with a merchant whose sandbox webhooks are signed."""
    from order_capture_local.api_server import ApiServer, LocalApi

    merchant_id = f"merchant-async-{uuid.uuid4().hex[:8]}"
    credentials = {merchant_id: {"sandbox": {"api_key": "unused", "webhook_hmac_key": HMAC_KEY}}}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PROVIDER_CREDENTIALS_JSON", json.dumps(credentials))
        with LocalRuntime() as runtime:
            api = LocalApi(runtime)
            server = ApiServer(api, port=0, access_log=False).start()
            assert runtime.sandbox is not None
            runtime.sandbox.configure_webhook(f"{server.url}/webhooks/sandbox", HMAC_KEY)
            under_test = LocalApiUnderTest(runtime, api, server)
            under_test.merchant_id = merchant_id  # type: ignore[attr-defined]
            try:
                yield under_test
            finally:
                server.stop()
                api.close()


@pytest.fixture
def merchant(async_api: LocalApiUnderTest) -> Merchant:
    merchant_id = async_api.merchant_id  # type: ignore[attr-defined]
    return Merchant(async_api, merchant_id, async_api.api.create_api_key(merchant_id))


def capture_asynchronously(
    api: LocalApiUnderTest, merchant: Merchant, kind: str
) -> tuple[str, dict[str, Any]]:
    detail = seed_order(merchant.merchant_id)
    assert merchant.put_order(detail).status_code == 200
    assert api.runtime.sandbox is not None
    api.runtime.sandbox.add_fault(kind, delay_seconds=0.3)
    with merchant.client() as client:
        response = client.post(
            f"/orders/{detail['order_id']}/captures",
            json={"amount": 10050},
            headers=idempotency_key(),
        )
    assert response.status_code == 200, response.text
    return detail["order_id"], response.json()


def wait_for_status(merchant: Merchant, order_id: str, capture_id: str, status: str) -> None:
    deadline = time.monotonic() + 20
    with merchant.client() as client:
        while time.monotonic() < deadline:
            current = client.get(f"/orders/{order_id}/captures/{capture_id}").json()["status"]
            if current == status:
                return
            time.sleep(0.05)
    raise AssertionError(f"capture {capture_id} never became {status} (last: {current})")


def test_received_capture_stays_pending_until_the_webhook_confirms_it(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    # When the provider only receives the capture
    order_id, capture = capture_asynchronously(async_api, merchant, "async")
    # Then the API answers with a pending capture, its amount reserved, not captured
    assert capture["status"] == "pending"
    assert capture["remaining_capture_amount"] == 70070 - 10050
    # And once the sandbox's signed CAPTURE webhook arrives, it is captured
    wait_for_status(merchant, order_id, capture["id"], "captured")
    with merchant.client() as client:
        order = client.get(f"/orders/{order_id}").json()
    assert (order["captured_amount"], order["pending_amount"]) == (10050, 0)


def test_capture_failed_webhook_fails_the_capture_and_releases_the_reservation(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id, capture = capture_asynchronously(async_api, merchant, "async_failed")
    assert capture["status"] == "pending"
    wait_for_status(merchant, order_id, capture["id"], "failed")
    with merchant.client() as client:
        order = client.get(f"/orders/{order_id}").json()
        failed = client.get(f"/orders/{order_id}/captures/{capture['id']}").json()
    assert (order["captured_amount"], order["pending_amount"]) == (0, 0)
    assert order["remaining_capture_amount"] == 70070
    assert failed["failure_reason"] == "provider_declined"


def signed_notification(
    capture_id: str, event: str, success: str, key: str = HMAC_KEY, **changes: Any
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pspReference": "psp-late",
        "originalReference": "auth",
        "merchantAccountCode": "SandboxECOM",
        "merchantReference": capture_id,
        "amount": {"value": 10050, "currency": "EUR"},
        "eventCode": event,
        "success": success,
        "reason": "late failure",
    }
    item["additionalData"] = {"hmacSignature": notification_signature(item, key)}
    item.update(changes)
    return {"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}


def post_webhook(api: LocalApiUnderTest, merchant_id: str, body: Any) -> httpx.Response:
    with httpx.Client(base_url=api.url, timeout=30) as client:
        return client.post("/webhooks/sandbox", params={"merchant_id": merchant_id}, json=body)


def test_a_late_failure_after_success_reverses_the_capture(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id, capture = capture_asynchronously(async_api, merchant, "async")
    wait_for_status(merchant, order_id, capture["id"], "captured")
    response = post_webhook(
        async_api,
        merchant.merchant_id,
        signed_notification(capture["id"], "CAPTURE_FAILED", "true"),
    )
    assert (response.status_code, response.text) == (202, "[accepted]")
    with merchant.client() as client:
        order = client.get(f"/orders/{order_id}").json()
        reversed_capture = client.get(f"/orders/{order_id}/captures/{capture['id']}").json()
    assert reversed_capture["status"] == "failed"
    assert (order["captured_amount"], order["capture_count"]) == (0, 0)
    assert order["remaining_capture_amount"] == 70070


def test_forged_or_unsigned_webhooks_are_refused_and_change_nothing(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id, capture = capture_asynchronously(async_api, merchant, "async")
    wait_for_status(merchant, order_id, capture["id"], "captured")
    before = [i for i in async_api.runtime.ledger() if f"#{merchant.merchant_id}#" in i["PK"]]
    forged_key = signed_notification(capture["id"], "CAPTURE_FAILED", "true", secrets.token_hex(32))
    tampered = signed_notification(
        capture["id"],
        "CAPTURE",
        "true",
        merchantReference=capture["id"],
        eventCode="CAPTURE_FAILED",
    )
    unsigned = signed_notification(capture["id"], "CAPTURE_FAILED", "true", additionalData={})
    for body in (forged_key, tampered, unsigned):
        response = post_webhook(async_api, merchant.merchant_id, body)
        assert response.status_code == 401, response.text
    other_merchant = post_webhook(
        async_api, "someone-else", signed_notification(capture["id"], "CAPTURE_FAILED", "true")
    )
    assert other_merchant.status_code == 401
    after = [i for i in async_api.runtime.ledger() if f"#{merchant.merchant_id}#" in i["PK"]]
    assert after == before


def test_a_capture_not_yet_noted_is_not_accepted_so_the_provider_retries(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    ours_not_yet = post_webhook(
        async_api, merchant.merchant_id, signed_notification(uuid.uuid4().hex, "CAPTURE", "true")
    )
    foreign = post_webhook(
        async_api, merchant.merchant_id, signed_notification("shop-ref-17", "CAPTURE", "true")
    )
    assert ours_not_yet.status_code == 503
    assert ours_not_yet.json()["error"]["type"] == "capture_not_yet_recorded"
    assert (foreign.status_code, foreign.text) == (202, "[accepted]")
