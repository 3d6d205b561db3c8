"""Payment providers for tests of the domain on the moto ledger: they answer at once, without
HTTP, and keep what they were asked to refund."""

from __future__ import annotations

from order_capture.errors import ProviderLookupUnsupportedError
from order_capture.ports import (
    PaymentProvider,
    ProviderCapture,
    ProviderCaptureLookup,
    ProviderCaptureRequest,
    ProviderRefund,
    ProviderRefundRequest,
    ProviderRelease,
    ProviderReleaseRequest,
    ProviderStatus,
)


class RecordingProvider:
    """Captures and refunds whatever it is asked, once per idempotency key; also its own
    ``PaymentProviders`` (every order's provider is this one)."""

    name = "sandbox"
    idempotent_captures = True
    answer: ProviderStatus = "succeeded"

    def __init__(self) -> None:
        self.refunds: dict[str, int] = {}

    def capture(self, request: ProviderCaptureRequest) -> ProviderCapture:
        return ProviderCapture(
            provider_reference=f"cap-{request.idempotency_key}",
            amount=request.amount,
            currency=request.currency,
            status=self.answer,
        )

    def refund(self, request: ProviderRefundRequest) -> ProviderRefund:
        self.refunds.setdefault(request.idempotency_key, request.amount)
        return ProviderRefund(
            provider_reference=f"re-{request.idempotency_key}",
            capture_reference=request.capture_reference,
            amount=request.amount,
            currency=request.currency,
            status=self.answer,
        )

    def find_capture(self, lookup: ProviderCaptureLookup) -> ProviderCapture | None:
        raise ProviderLookupUnsupportedError("the recording provider keeps no captures")

    def release(self, request: ProviderReleaseRequest) -> ProviderRelease:
        return ProviderRelease(
            authorization_reference=request.authorization_reference, status=self.answer
        )

    def provider(self, name: str, merchant_id: str) -> PaymentProvider:
        return self


class ReceivingProvider(RecordingProvider):
    """Answers captures and refunds "received" (Adyen): the outcome comes by webhook."""

    name = "adyen"
    answer: ProviderStatus = "pending"
