"""Adyen standard-webhook HMAC signatures, checked against the test vectors Adyen publishes in
its own API libraries (same key, same item, expected base64 signature)."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.adapters.adyen import (
    notification_signature,
    notification_signing_string,
    verify_notification,
)
from order_capture.errors import ProviderNotConfiguredError

ADYEN_TEST_KEY = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00"


def item(**changes: Any) -> dict[str, Any]:
    base = {
        "pspReference": "pspReference",
        "originalReference": "originalReference",
        "merchantAccountCode": "merchantAccount",
        "merchantReference": "reference",
        "amount": {"value": 1000, "currency": "EUR"},
        "eventCode": "REPORT_AVAILABLE",
        "success": "true",
        "eventDate": "2019-09-21T11:45:24.637Z",
        "paymentMethod": "VISA",
        "reason": "reason",
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("notification", "published_signature"),
    [
        # adyen-node-api-library, hmacValidator.spec.ts
        (item(), "ZNBPtI+oDyyRrLyD1XirkKnQgIAlFc07Vj27TeHsDRE="),
        # adyen-java-api-library, UtilTest.testNotificationHmac (success as a boolean)
        (item(eventCode="EVENT", success=True), "ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc="),
    ],
)
def test_signature_matches_adyen_published_vectors(
    notification: dict[str, Any], published_signature: str
) -> None:
    assert notification_signature(notification, ADYEN_TEST_KEY) == published_signature
    signed = {**notification, "additionalData": {"hmacSignature": published_signature}}
    assert verify_notification(signed, ADYEN_TEST_KEY)


def test_signing_string_is_the_documented_field_order_with_empty_absent_fields() -> None:
    notification = item(originalReference=None)
    del notification["originalReference"]

    assert notification_signing_string(notification) == (
        "pspReference::merchantAccount:reference:1000:EUR:REPORT_AVAILABLE:true"
    )


@pytest.mark.parametrize(
    "forgery",
    [
        {"amount": {"value": 100000, "currency": "EUR"}},
        {"success": "false"},
        {"eventCode": "CAPTURE"},
        {"merchantReference": "someone-else"},
    ],
)
def test_a_changed_notification_fails_verification(forgery: dict[str, Any]) -> None:
    genuine = {
        **item(),
        "additionalData": {"hmacSignature": "ZNBPtI+oDyyRrLyD1XirkKnQgIAlFc07Vj27TeHsDRE="},
    }
    assert verify_notification(genuine, ADYEN_TEST_KEY)

    assert not verify_notification({**genuine, **forgery}, ADYEN_TEST_KEY)


def test_unsigned_or_wrongly_keyed_notifications_fail() -> None:
    signature = notification_signature(item(), ADYEN_TEST_KEY)
    assert not verify_notification(item(), ADYEN_TEST_KEY)
    assert not verify_notification(
        {**item(), "additionalData": {"hmacSignature": signature}}, "00" * 32
    )


def test_a_key_that_is_not_hex_is_a_configuration_error() -> None:
    with pytest.raises(ProviderNotConfiguredError):
        notification_signature(item(), "not-hex")


@pytest.mark.parametrize("blank_key", ["", "  "])
def test_review_an_empty_adyen_webhook_key_verifies_nothing(blank_key: str) -> None:
    # An HMAC under the empty key is one anyone can compute: it proves nothing
    forged = {**item(), "additionalData": {"hmacSignature": notification_signature(item(), "")}}

    assert not verify_notification(forged, blank_key)
