"""Adyen's standard webhook items read by the Adyen adapter into the domain's provider-neutral
notification: which events are ours, what each says, and what is ignored."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.adapters.adyen import notification_of
from order_capture.ports import ProviderNotification


def item(event: str, success: str = "true", **extra: Any) -> dict[str, Any]:
    return {
        "eventCode": event,
        "success": success,
        "pspReference": "PSP-2",
        "originalReference": "PSP-1",
        "merchantReference": "our-key",
        "merchantAccountCode": "Shop",
        "amount": {"value": 1000, "currency": "EUR"},
        "eventDate": "2026-11-24T12:00:00+01:00",
        **extra,
    }


@pytest.mark.parametrize(
    ("event", "success", "subject", "outcome"),
    [
        ("CAPTURE", "true", "capture", "succeeded"),
        ("CAPTURE", "false", "capture", "failed"),
        ("CAPTURE_FAILED", "true", "capture", "failed"),
        ("REFUND", "true", "refund", "succeeded"),
        ("REFUND", "false", "refund", "failed"),
        ("REFUND_FAILED", "true", "refund", "failed"),
        ("REFUNDED_REVERSED", "true", "refund", "reversed"),
        ("CANCELLATION", "true", "release", "succeeded"),
        ("CANCELLATION", "false", "release", "failed"),
    ],
)
def test_each_capture_and_refund_event_says_what_became_of_ours(
    event: str, success: str, subject: str, outcome: str
) -> None:
    read = notification_of(item(event, success, reason="Insufficient balance"))

    assert read == ProviderNotification(
        subject=subject,
        outcome=outcome,
        reference="our-key",
        provider_reference="PSP-2",
        event=event,
        reason="Insufficient balance",
        provider_amount=1000,  # Adyen's units: the domain converts by the order's provider
        currency="EUR",
        authorization_reference="PSP-1",
    )


def test_a_notification_without_a_reason_names_its_event() -> None:
    read = notification_of(item("CAPTURE_FAILED"))
    assert read is not None and read.reason == "CAPTURE_FAILED"


@pytest.mark.parametrize(
    "wire",
    [
        item("AUTHORISATION"),  # not about a capture or refund of ours
        item("CANCEL_OR_REFUND"),  # we never send /reversals
        item("CAPTURE", merchantReference=None),  # no reference of ours
        item("CAPTURE", merchantReference=""),
        {"success": "true", "merchantReference": "our-key"},  # no eventCode
        item("CAPTURE", success="maybe"),  # not Adyen's "true" / "false"
    ],
)
def test_other_events_and_unreadable_items_are_not_ours(wire: dict[str, Any]) -> None:
    assert notification_of(wire) is None
