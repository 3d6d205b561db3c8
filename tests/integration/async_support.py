"""Helpers of the asynchronous-confirmation tests: the API on the local runtime with a merchant
whose sandbox webhooks are signed, signed notifications, and waits."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from order_capture.adapters.adyen import notification_signature
from order_capture_local.executions import ExecutionReport
from tests.integration.api_support import (
    LocalApiUnderTest,
    Merchant,
    idempotency_key,
    seed_order,
    served_api,
)

HMAC_KEY = secrets.token_hex(32)
CONFIRMATION_MACHINE = "ConfirmationStateMachine"


@contextmanager
def signed_webhook_api(
    parameter_overrides: dict[str, str] | None = None,
    *,
    sandbox_calls_webhook: bool = True,
    retry_time_scale: float = 1.0,
) -> Iterator[LocalApiUnderTest]:
    """The API on the local runtime, with a merchant whose sandbox webhooks are signed; the
    sandbox calls the webhook unless told not to (a provider that never answers)."""
    merchant_id = f"merchant-async-{uuid.uuid4().hex[:8]}"
    credentials = {merchant_id: {"sandbox": {"api_key": "unused", "webhook_hmac_key": HMAC_KEY}}}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PROVIDER_CREDENTIALS_JSON", json.dumps(credentials))
        with served_api(
            parameter_overrides=parameter_overrides, retry_time_scale=retry_time_scale
        ) as under_test:
            sandbox = under_test.runtime.sandbox
            assert sandbox is not None
            if sandbox_calls_webhook:
                sandbox.configure_webhook(f"{under_test.url}/webhooks/sandbox", HMAC_KEY)
            under_test.merchant_id = merchant_id  # type: ignore[attr-defined]
            yield under_test


def webhook_merchant(api: LocalApiUnderTest) -> Merchant:
    merchant_id = api.merchant_id  # type: ignore[attr-defined]
    return Merchant(api, merchant_id, api.api.create_api_key(merchant_id))


@pytest.fixture(scope="module")
def async_api() -> Iterator[LocalApiUnderTest]:
    """A test module's API whose sandbox calls back with signed webhooks."""
    with signed_webhook_api() as api:
        yield api


@pytest.fixture
def merchant(async_api: LocalApiUnderTest) -> Merchant:
    """The merchant whose webhooks ``async_api`` signs, with a key of its own."""
    return webhook_merchant(async_api)


def confirmation_execution(api: LocalApiUnderTest, capture_id: str) -> ExecutionReport:
    """The confirmation workflow of ``capture_id`` once it has ended."""
    return api.runtime.wait_for(api.runtime.execution_arn(CONFIRMATION_MACHINE, capture_id), 30)


def events_about(api: LocalApiUnderTest, capture_id: str) -> list[str]:
    """The detail types of the service's events that name ``capture_id``, in order."""
    return [
        event["detail-type"]
        for event in api.runtime.emitted_events
        if event["source"] == "order-capture" and event["detail"].get("capture_id") == capture_id
    ]


def capture_asynchronously(
    api: LocalApiUnderTest, merchant: Merchant, kind: str, delay_seconds: float = 0.3
) -> tuple[str, dict[str, Any]]:
    """Capture 10050 of a new order of 70070 through the API, the sandbox answering
    "received" and deciding ``kind`` (async / async_failed) after ``delay_seconds``."""
    detail = seed_order(merchant.merchant_id)
    assert merchant.put_order(detail).status_code == 200
    assert api.runtime.sandbox is not None
    api.runtime.sandbox.add_fault(kind, delay_seconds=delay_seconds)
    # The webhook is held until the API has answered: on a loaded machine the answer can take
    # longer than ``delay_seconds``, and the test would see the outcome instead of "received".
    api.runtime.sandbox.hold_webhooks()
    try:
        with merchant.client() as client:
            response = client.post(
                f"/orders/{detail['order_id']}/captures",
                json={"amount": 10050},
                headers=idempotency_key(),
            )
    finally:
        api.runtime.sandbox.release_webhooks()
    assert response.status_code == 200, response.text
    return detail["order_id"], response.json()


def wait_for_capture(
    merchant: Merchant, order_id: str, capture_id: str, until: Callable[[Any], bool]
) -> Any:
    """The capture (as the API shows it) once ``until`` holds for it."""
    deadline = time.monotonic() + 20
    with merchant.client() as client:
        while time.monotonic() < deadline:
            capture = client.get(f"/orders/{order_id}/captures/{capture_id}").json()
            if until(capture):
                return capture
            time.sleep(0.05)
    raise AssertionError(f"capture {capture_id} never got there: {capture}")


def wait_for_status(merchant: Merchant, order_id: str, capture_id: str, status: str) -> None:
    wait_for_capture(merchant, order_id, capture_id, lambda capture: capture["status"] == status)


def refund_statuses(capture: Any) -> list[str]:
    return [refund["status"] for refund in capture["refunds"]]


def order_totals(merchant: Merchant, order_id: str) -> tuple[int, int]:
    """The order's captured and pending (reserved) amounts, as the API reports them."""
    with merchant.client() as client:
        order = client.get(f"/orders/{order_id}").json()
    return order["captured_amount"], order["pending_amount"]


def signed_notification(
    capture_id: str,
    event: str,
    success: str,
    key: str = HMAC_KEY,
    authorization: str = "auth",
    **changes: Any,
) -> dict[str, Any]:
    """A notification item signed with ``key`` (``authorization``: its ``originalReference``),
    then changed by ``changes`` after signing (a tampered body keeps the old signature)."""
    item: dict[str, Any] = {
        "pspReference": "psp-late",
        "originalReference": authorization,
        "merchantAccountCode": "SandboxECOM",
        "merchantReference": capture_id,
        "amount": {"value": 10050, "currency": "EUR"},
        "eventCode": event,
        "eventDate": "2026-12-01T10:00:00+01:00",
        "success": success,
        "reason": "late failure",
    }
    item["additionalData"] = {"hmacSignature": notification_signature(item, key)}
    item.update(changes)
    return {"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}


def post_webhook(api: LocalApiUnderTest, merchant_id: str, body: Any) -> httpx.Response:
    with httpx.Client(base_url=api.url, timeout=30) as client:
        return client.post("/webhooks/sandbox", params={"merchant_id": merchant_id}, json=body)
