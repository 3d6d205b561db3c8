"""Adapter for the sandbox payment provider (``order_capture_local.sandbox``) over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from order_capture.adapters.provider_http import ProviderHttp
from order_capture.errors import (
    ProviderAuthorizationExpiredError,
    ProviderDeclinedError,
    ProviderError,
    ProviderOverCaptureError,
)
from order_capture.ports import (
    ProviderCapture,
    ProviderCaptureLookup,
    ProviderCaptureRequest,
    ProviderRefund,
    ProviderRefundRequest,
    ProviderRelease,
    ProviderReleaseRequest,
)

if TYPE_CHECKING:
    import httpx

_EXPIRED_CODES = frozenset({"authorization_expired", "authorization_released"})
_OVER_AMOUNT_CODES = frozenset({"amount_exceeds_authorization", "amount_exceeds_capture"})


def classify_sandbox_error(status: int, body: dict[str, Any]) -> ProviderError | None:
    """The sandbox answers ``{"error": {"code", "message"}}``."""
    error = body.get("error")
    if not isinstance(error, dict) or not 400 <= status < 500 or status in {408, 429}:
        return None
    code = str(error.get("code", "unknown"))
    text = f"sandbox provider declined ({status} {code}): {error.get('message', '')}"
    if code in _EXPIRED_CODES:
        return ProviderAuthorizationExpiredError(text)
    if code in _OVER_AMOUNT_CODES:
        return ProviderOverCaptureError(text)
    return ProviderDeclinedError(text)


class SandboxProvider:
    name = "sandbox"
    #: The capture request carries our Idempotency-Key: asking again cannot capture twice.
    idempotent_captures = True

    def __init__(
        self,
        base_url: str,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.http = ProviderHttp(
            "sandbox",
            self.base_url,
            headers={},
            timeout_seconds=timeout_seconds,
            classify=classify_sandbox_error,
            transport=transport,
        )

    def capture(self, request: ProviderCaptureRequest) -> ProviderCapture:
        body = {
            "amount": request.amount,
            "currency": request.currency,
            "lines": [line.model_dump() for line in request.lines],
            "metadata": {"merchant_id": request.merchant_id, "order_id": request.order_id},
            "final": request.final_capture,
        }
        answer = self._post(
            f"{_authorization_path(request.authorization_reference)}/captures",
            body,
            headers={"Idempotency-Key": request.idempotency_key},
        )
        return _capture_from(answer)

    def refund(self, request: ProviderRefundRequest) -> ProviderRefund:
        answer = self._post(
            f"{_authorization_path(request.authorization_reference)}/captures/"
            f"{quote(request.capture_reference, safe='')}/refunds",
            {"amount": request.amount},
            headers={"Idempotency-Key": request.idempotency_key},
        )
        if answer["status"] == "failed":
            # A repeated request (same key) is answered the refund as it is now: received
            # before, then failed (Adyen's REFUND with success false), as Stripe may answer.
            raise ProviderDeclinedError(f"sandbox refund {answer['id']} failed")
        return ProviderRefund(
            provider_reference=answer["id"],
            capture_reference=answer["capture_id"],
            amount=answer["amount"],
            currency=answer["currency"],
            status=answer["status"],
        )

    def find_capture(self, lookup: ProviderCaptureLookup) -> ProviderCapture | None:
        if lookup.provider_reference is not None:
            # Ask the authorization's list: a capture of another authorization is not ours.
            params = {}
        else:
            params = {"idempotency_key": lookup.idempotency_key or ""}
        answer = self.http.request(
            "GET",
            f"{_authorization_path(lookup.authorization_reference)}/captures",
            params=params,
            idempotent=True,
        )
        for capture in answer.get("captures") or []:
            if lookup.provider_reference in {None, capture["id"]} and (
                lookup.idempotency_key in {None, capture.get("idempotency_key")}
            ):
                return _capture_from(capture)
        return None

    def release(self, request: ProviderReleaseRequest) -> ProviderRelease:
        self._post(
            f"{_authorization_path(request.authorization_reference)}/release",
            {},
            headers={"Idempotency-Key": request.idempotency_key},
        )
        return ProviderRelease(
            authorization_reference=request.authorization_reference, status="succeeded"
        )

    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        # Every sandbox write carries an Idempotency-Key: repeating it is safe.
        return self.http.request("POST", path, json=body, headers=headers, idempotent=True)


def _authorization_path(reference: str) -> str:
    return f"/authorizations/{quote(reference, safe='')}"


def _capture_from(answer: dict[str, Any]) -> ProviderCapture:
    return ProviderCapture(
        provider_reference=answer["id"],
        amount=answer["amount"],
        currency=answer["currency"],
        status=answer["status"],
    )
