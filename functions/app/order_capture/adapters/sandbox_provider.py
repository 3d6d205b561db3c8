"""Adapter for the sandbox payment provider (``order_capture_local.sandbox``) over HTTP."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from order_capture.errors import (
    CaptureOutcomeUnknownError,
    ProviderDeclinedError,
    ProviderUnavailableError,
)
from order_capture.ports import ProviderCapture, ProviderCaptureRequest

if TYPE_CHECKING:
    import httpx


class SandboxProvider:
    name = "sandbox"

    def __init__(self, base_url: str, timeout_seconds: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds

    @cached_property
    def http(self) -> httpx.Client:
        import httpx  # noqa: PLC0415 - only the capture step pays for importing httpx

        return httpx.Client(base_url=self.base_url, timeout=self.timeout_seconds)

    def capture(self, request: ProviderCaptureRequest) -> ProviderCapture:
        body = {
            "amount": request.amount,
            "currency": request.currency,
            "lines": [line.model_dump() for line in request.lines],
            "metadata": {"merchant_id": request.merchant_id, "order_id": request.order_id},
        }
        answer = self._post(
            f"/authorizations/{request.authorization_reference}/captures",
            body,
            headers={"Idempotency-Key": request.idempotency_key},
        )
        return ProviderCapture(
            provider_reference=answer["id"],
            amount=answer["amount"],
            currency=answer["currency"],
            status=answer["status"],
        )

    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        import httpx  # noqa: PLC0415

        try:
            response = self.http.post(path, json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            # The request never left: nothing can have been captured.
            raise ProviderUnavailableError(f"sandbox provider unreachable: {error}") from error
        except httpx.TimeoutException as error:
            raise CaptureOutcomeUnknownError(
                f"sandbox provider did not answer in {self.timeout_seconds}s: {error}"
            ) from error
        except httpx.TransportError as error:
            raise CaptureOutcomeUnknownError(
                f"sandbox provider connection broke: {error}"
            ) from error
        if response.status_code == 429 or response.status_code >= 500:
            raise ProviderUnavailableError(
                f"sandbox provider answered {response.status_code}: {response.text[:200]}"
            )
        payload: dict[str, Any] = response.json()
        if response.status_code >= 400:
            error_body = payload.get("error", {})
            raise ProviderDeclinedError(
                f"sandbox provider declined ({response.status_code} "
                f"{error_body.get('code', 'unknown')}): {error_body.get('message', '')}"
            )
        return payload
