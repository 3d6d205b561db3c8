"""The sandbox provider's asynchronous outcomes, told as Adyen tells them: HMAC-signed
``CAPTURE`` / ``CAPTURE_FAILED`` / ``REFUND`` / ``REFUND_FAILED`` notifications POSTed to the
configured webhook, retried until it answers ``[accepted]`` (see ``sandbox``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from order_capture_local.sandbox_state import Fault, SandboxState

#: The merchant account the sandbox's notifications name (Adyen's ``merchantAccountCode``).
SANDBOX_MERCHANT_ACCOUNT = "SandboxECOM"
WEBHOOK_ATTEMPTS = 20


def _outcomes(fault: Fault) -> list[bool]:
    """The successive outcomes an asynchronous fault notifies (True: succeeded)."""
    if fault.kind == "async_reversed":
        return [True, False]
    return [fault.kind == "async"]


def sign_notification(item: dict[str, Any], hmac_key_hex: str) -> str:
    """Adyen's HMAC of a notification item: base64 HMAC-SHA256, under the hex-decoded key, of
    pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:
    eventCode:success."""
    amount = item.get("amount") or {}
    fields = [
        item.get("pspReference"),
        item.get("originalReference"),
        item.get("merchantAccountCode"),
        item.get("merchantReference"),
        amount.get("value"),
        amount.get("currency"),
        item.get("eventCode"),
        item.get("success"),
    ]
    signing_string = ":".join("" if value is None else str(value) for value in fields)
    digest = hmac.new(bytes.fromhex(hmac_key_hex), signing_string.encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def _post_accepted(url: str, payload: bytes) -> bool:
    request = urllib.request.Request(
        url, data=payload, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return b"[accepted]" in response.read()
    except (urllib.error.URLError, OSError):
        return False


class WebhookNotifier:
    """What ``SandboxServer`` does for the webhook: decide an asynchronous outcome, then
    notify it (held while a test looks at what a caller sees before the webhook)."""

    state: SandboxState

    def _init_webhooks(self) -> None:
        #: Where asynchronous outcomes are notified, and the hex HMAC key that signs them.
        self.webhook_url: str | None = None
        self.webhook_hmac_key: str | None = None
        #: Cleared by ``hold_webhooks``: decided outcomes wait to be notified until released,
        #: so a test can see what a caller sees before the provider's webhook, whatever the load.
        self._webhooks_released = threading.Event()
        self._webhooks_released.set()

    def hold_webhooks(self) -> None:
        self._webhooks_released.clear()

    def release_webhooks(self) -> None:
        self._webhooks_released.set()

    def configure_webhook(self, url: str, hmac_key: str) -> None:
        self.webhook_url = url
        self.webhook_hmac_key = hmac_key

    def notify_capture(self, capture: dict[str, Any], merchant_id: str, fault: Fault) -> None:
        """Decide an asynchronous capture, then tell the webhook as Adyen would."""
        time.sleep(fault.delay_seconds or 0.2)
        self._webhooks_released.wait(timeout=60)
        for succeeded in _outcomes(fault):
            with self.state.lock:
                was = capture["status"]
                capture["status"] = "succeeded" if succeeded else "failed"
                authorization = self.state.authorizations[capture["authorization_id"]]
                if was != "failed" and not succeeded:
                    authorization["captured_amount"] -= capture["amount"]
                    if was == "succeeded":
                        self.state.reversed_captures.add(capture["authorization_id"])
                if succeeded and capture.get("final") and not authorization.get("released"):
                    self.state.note_release(
                        authorization, "final capture", capture.get("idempotency_key")
                    )
                    authorization["released"] = True
            self._notify(
                {
                    "pspReference": capture["id"],
                    "originalReference": capture["authorization_id"],
                    "merchantReference": capture["idempotency_key"],
                    "amount": {"value": capture["amount"], "currency": capture["currency"]},
                    "eventCode": "CAPTURE" if succeeded else "CAPTURE_FAILED",
                    "success": "true" if succeeded else "false",
                    "reason": "" if succeeded else "Insufficient balance on payment",
                },
                merchant_id,
            )

    def notify_refund(self, refund: dict[str, Any], capture: dict[str, Any], fault: Fault) -> None:
        """Decide an asynchronous refund, then tell the webhook as Adyen would: ``REFUND``
        with ``success`` true, or false when it failed."""
        time.sleep(fault.delay_seconds or 0.2)
        self._webhooks_released.wait(timeout=60)
        for position, succeeded in enumerate(_outcomes(fault)):
            with self.state.lock:
                was = refund["status"]
                refund["status"] = "succeeded" if succeeded else "failed"
                if was != "failed" and not succeeded:
                    capture["refunded_amount"] -= refund["amount"]
            self._notify(
                {
                    "pspReference": refund["id"],
                    "originalReference": capture["authorization_id"],
                    "merchantReference": refund["idempotency_key"],
                    "amount": {"value": refund["amount"], "currency": refund["currency"]},
                    # A refund reversed after its success is Adyen's REFUND_FAILED.
                    "eventCode": "REFUND_FAILED" if position else "REFUND",
                    "success": "true" if succeeded else "false",
                    "reason": "" if succeeded else "Refund rejected by the issuer",
                },
                str(capture["metadata"].get("merchant_id", "")),
            )

    def _notify(self, item: dict[str, Any], merchant_id: str) -> None:
        """POST one signed notification item to the webhook, retrying until it is accepted."""
        if not self.webhook_url or not self.webhook_hmac_key:
            return
        item = {
            **item,
            "merchantAccountCode": SANDBOX_MERCHANT_ACCOUNT,
            "eventDate": datetime.now(UTC).isoformat(),
        }
        item["additionalData"] = {"hmacSignature": sign_notification(item, self.webhook_hmac_key)}
        payload = json.dumps(
            {"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}
        )
        url = f"{self.webhook_url}?{urlencode({'merchant_id': merchant_id})}"
        for _ in range(WEBHOOK_ATTEMPTS):
            if _post_accepted(url, payload.encode()):
                return
            time.sleep(0.2)  # like Adyen, retry until the endpoint accepts
