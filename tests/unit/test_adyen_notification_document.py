"""Adyen's standard webhook judged by Adyen's own models and example, from the committed excerpt
of @adyen/api-library (tests/fixtures/provider-specs/adyen-notification-models.json, written by
``make provider-spec-excerpts``): the notifications the sandbox sends and the tests build are
Adyen's ``Notification`` (envelope, items, event codes, ``success``), and Adyen's example
notification is read by our parser as Adyen means it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from order_capture.adapters.adyen import NotificationItem, notification_of, verify_notification
from order_capture.api.webhooks import Notification as WebhookBody
from order_capture_local import sandbox_webhooks
from order_capture_local.sandbox_state import Fault, SandboxState
from tests.integration.async_support import HMAC_KEY as TEST_HMAC_KEY
from tests.integration.async_support import signed_notification
from tests.unit.provider_adapters_support import KEY, notification
from tests.unit.provider_specs import adyen_enum, adyen_notification_example, check_adyen

HMAC_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"


class Notifier(sandbox_webhooks.WebhookNotifier):
    """The sandbox's webhook side alone, posting nowhere: each body it would POST is kept."""

    def __init__(self) -> None:
        self.state = SandboxState()
        self._init_webhooks()
        self.configure_webhook("http://127.0.0.1:1/webhooks/sandbox", HMAC_KEY)


@pytest.fixture
def posted(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []

    def accept(url: str, payload: bytes) -> bool:
        bodies.append(json.loads(payload))
        return True

    monkeypatch.setattr(sandbox_webhooks, "_post_accepted", accept)
    return bodies


@pytest.mark.parametrize("kind", ["async", "async_failed", "async_reversed"])
def test_defect_11_the_sandbox_posts_adyens_notification(
    posted: list[dict[str, Any]], kind: str
) -> None:
    notifier = Notifier()
    notifier.state.authorizations["auth-1"] = {"captured_amount": 6442}
    capture = {"id": "cap-1", "authorization_id": "auth-1", "idempotency_key": KEY,
               "amount": 6442, "currency": "EUR", "status": "pending",
               "refunded_amount": 500}  # fmt: skip
    refund = {"id": "ref-1", "idempotency_key": "r" * 32, "amount": 500, "currency": "EUR",
              "status": "pending"}  # fmt: skip
    fault = Fault(kind=kind, count=1, delay_seconds=0.001)
    notifier.notify_capture(capture, "merchant-1", fault)
    notifier.notify_refund(refund, {**capture, "metadata": {"merchant_id": "merchant-1"}}, fault)
    assert posted
    for body in posted:
        check_adyen(body, "Notification", folder="notification")
        WebhookBody.model_validate(body)
        (item,) = [wrapper["NotificationRequestItem"] for wrapper in body["notificationItems"]]
        assert verify_notification(item, HMAC_KEY)
        assert notification_of(item) is not None


EVENTS_WE_READ = ["CAPTURE", "CAPTURE_FAILED", "REFUND", "REFUND_FAILED", "REFUNDED_REVERSED",
                  "CANCELLATION"]  # fmt: skip


@pytest.mark.parametrize("event", EVENTS_WE_READ)
def test_the_events_we_read_are_adyens_event_codes(event: str) -> None:
    assert event in adyen_enum("notification", "NotificationRequestItem", "EventCodeEnum")
    body = {
        "live": "false",
        "notificationItems": [{"NotificationRequestItem": notification(event)}],
    }
    check_adyen(body, "Notification", folder="notification")


@pytest.mark.parametrize("event", EVENTS_WE_READ)
def test_defect_11_the_notifications_the_integration_tests_post_are_adyens(event: str) -> None:
    body = signed_notification(KEY, event, "true")
    check_adyen(body, "Notification", folder="notification")
    (item,) = [wrapper["NotificationRequestItem"] for wrapper in body["notificationItems"]]
    assert verify_notification(item, TEST_HMAC_KEY)
    assert notification_of(item) is not None


def test_the_checker_refuses_what_adyens_models_do_not_define() -> None:
    wrong = [
        notification("CAPTURED"),  # no such event code
        notification("CAPTURE", success="True"),  # SuccessEnum is "true" / "false"
        {k: v for k, v in notification("CAPTURE").items() if k != "pspReference"},
        notification("CAPTURE", additionalData={"hmacSignature": 7}),
    ]
    for item in wrong:
        with pytest.raises(AssertionError):
            check_adyen(item, "NotificationRequestItem", folder="notification")


def test_defect_11_adyens_example_notification_is_adyens_and_read_by_our_parser() -> None:
    example = adyen_notification_example()
    check_adyen(example, "Notification", folder="notification")
    WebhookBody.model_validate(example)
    (item,) = [wrapper["NotificationRequestItem"] for wrapper in example["notificationItems"]]
    parsed = NotificationItem.model_validate(item)
    assert (parsed.event_code, parsed.psp_reference, parsed.success) == (
        "AUTHORISATION",
        "AB1234567890",
        True,
    )
    assert (parsed.amount and parsed.amount.value, parsed.amount and parsed.amount.currency) == (
        32500,
        "EUR",
    )
    # An authorisation is no event of ours: read, and ignored
    assert notification_of(item) is None
    # The same item as Adyen's CAPTURE of our capture, and as a failed one
    ours = {**item, "eventCode": "CAPTURE", "merchantReference": KEY,
            "originalReference": "AB1234567890", "pspReference": "CD1234567890"}  # fmt: skip
    check_adyen(ours, "NotificationRequestItem", folder="notification")
    captured = notification_of(ours)
    assert captured is not None
    assert (captured.subject, captured.outcome, captured.reference) == ("capture", "succeeded", KEY)
    assert (captured.provider_amount, captured.currency) == (32500, "EUR")
    assert captured.authorization_reference == "AB1234567890"
    failed = notification_of({**ours, "eventCode": "CAPTURE_FAILED", "success": "false"})
    assert failed is not None and failed.outcome == "failed"
