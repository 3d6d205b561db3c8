"""Adyen Checkout API (``/payments/{paymentPspReference}/...``), JSON, X-API-Key, Idempotency-Key.

The authorization reference is the payment's ``pspReference``. Adyen answers every modification
(capture, refund, cancel) with ``"status": "received"``: the outcome arrives later in a
standard webhook (``CAPTURE`` / ``CAPTURE_FAILED``, ``REFUND`` / ``REFUND_FAILED``,
``CANCELLATION``) whose ``originalReference`` is the payment and whose ``merchantReference`` is the
``reference`` we sent: our idempotency key. Those webhooks are signed; ``verify_notification``
checks the signature of one notification item.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from order_capture.adapters.adyen_lines import line_items, refund_line_items
from order_capture.adapters.provider_http import ProviderHttp
from order_capture.errors import (
    CaptureOutcomeUnknownError,
    ProviderDeclinedError,
    ProviderError,
    ProviderLookupUnsupportedError,
    ProviderNotConfiguredError,
    ProviderUnavailableError,
)
from order_capture.ports import (
    ProviderCapture,
    ProviderCaptureLookup,
    ProviderCaptureRequest,
    ProviderNotification,
    ProviderRefund,
    ProviderRefundRequest,
    ProviderRelease,
    ProviderReleaseRequest,
)
from order_capture.provider_units import ADYEN

if TYPE_CHECKING:
    import httpx

    from order_capture.adapters.credentials import ProviderCredentials

#: Test platform. Live URLs carry the merchant's prefix
#: (``https://{prefix}-checkout-live.adyenpayments.com/checkout/v71``): set ``base_url``.
ADYEN_TEST_API = "https://checkout-test.adyen.com/v71"

#: Error codes Adyen returns when the API key or merchant account is wrong for this call.
_CONFIGURATION_ERROR_CODES = frozenset({"010", "901", "902", "903", "904", "905"})
#: "Request already processed or in progress": another request under this Idempotency-Key
#: ran or is running; asked again later, Adyen answers with its result.
_IN_PROGRESS_ERROR_CODES = frozenset({"704"})


class AdyenWire(BaseModel):
    """Adyen's JSON as Adyen names it: unknown fields ignored (Adyen adds fields freely)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class ModificationAnswer(AdyenWire):
    """The answer to ``/captures``, ``/refunds`` and ``/cancels``: always ``received``; the
    outcome comes later by webhook."""

    status: Literal["received"]
    psp_reference: str = Field(alias="pspReference", min_length=1)


def _as_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ErrorAnswer(AdyenWire):
    """Adyen's error answer (``ServiceError``)."""

    #: A string ("010"); a number is read as its text.
    error_code: Annotated[str, BeforeValidator(_as_text)] = Field(default="", alias="errorCode")
    error_type: str = Field(default="", alias="errorType")
    message: str = ""


def classify_adyen_error(status: int, body: dict[str, Any]) -> ProviderError | None:
    """Adyen answers ``{"status", "errorCode", "message", "errorType", "pspReference"}``.
    Declines, over-captures and expired authorizations are not known at this point: they come
    back as ``CAPTURE_FAILED`` webhooks."""
    try:
        answer = ErrorAnswer.model_validate(body)
    except ValidationError:
        return None
    code = answer.error_code
    if not code or status >= 500:
        return None
    text = f"adyen {status} {answer.error_type}/{code}: {answer.message}"
    if status in {401, 403} or code in _CONFIGURATION_ERROR_CODES:
        return ProviderNotConfiguredError(text)
    if code in _IN_PROGRESS_ERROR_CODES:
        return ProviderUnavailableError(text)
    if status in {400, 404, 422}:
        return ProviderDeclinedError(text)
    return None


class AdyenProvider:
    name = "adyen"
    #: The capture request carries our Idempotency-Key: asking again cannot capture twice.
    idempotent_captures = True

    def __init__(
        self,
        credentials: ProviderCredentials,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not credentials.merchant_account:
            raise ProviderNotConfiguredError("adyen credentials lack merchant_account")
        self.merchant_account = credentials.merchant_account
        self.http = ProviderHttp(
            "adyen",
            credentials.base_url or ADYEN_TEST_API,
            headers={"X-API-Key": credentials.api_key.get_secret_value()},
            timeout_seconds=timeout_seconds,
            classify=classify_adyen_error,
            retry_header="Transient-Error",
            transport=transport,
        )

    def capture(self, request: ProviderCaptureRequest) -> ProviderCapture:
        body: dict[str, Any] = {
            "merchantAccount": self.merchant_account,
            "amount": adyen_amount(request.amount, request.currency),
            "reference": request.idempotency_key,
        }
        if items := line_items(request):
            body["lineItems"] = items
        answer = self._modify(
            request.authorization_reference, "captures", body, request.idempotency_key
        )
        return ProviderCapture(
            provider_reference=answer.psp_reference,
            amount=request.amount,
            currency=request.currency,
            status="pending",
        )

    def refund(self, request: ProviderRefundRequest) -> ProviderRefund:
        # Adyen refunds the payment (not a capture) by pspReference; the amount bounds it.
        answer = self._modify(
            request.authorization_reference,
            "refunds",
            {
                "merchantAccount": self.merchant_account,
                "amount": adyen_amount(request.amount, request.currency),
                "reference": request.idempotency_key,
                "lineItems": refund_line_items(request),
            },
            request.idempotency_key,
        )
        return ProviderRefund(
            provider_reference=answer.psp_reference,
            capture_reference=request.capture_reference,
            amount=request.amount,
            currency=request.currency,
            status="pending",
        )

    def find_capture(self, lookup: ProviderCaptureLookup) -> ProviderCapture | None:
        raise ProviderLookupUnsupportedError(
            "adyen reports capture results only by webhook (CAPTURE / CAPTURE_FAILED)"
        )

    def release(self, request: ProviderReleaseRequest) -> ProviderRelease:
        """Cancel the authorization: Adyen releases what has not been captured."""
        if request.remaining_amount > 0:
            self._modify(
                request.authorization_reference,
                "cancels",
                {"merchantAccount": self.merchant_account, "reference": request.idempotency_key},
                request.idempotency_key,
            )
        return ProviderRelease(
            authorization_reference=request.authorization_reference,
            status="pending" if request.remaining_amount > 0 else "succeeded",
        )

    def _modify(
        self, psp_reference: str, operation: str, body: dict[str, Any], idempotency_key: str
    ) -> ModificationAnswer:
        answer = self.http.request(
            "POST",
            f"/payments/{quote(psp_reference, safe='')}/{operation}",
            json=body,
            headers={"Idempotency-Key": idempotency_key},
            idempotent=True,
        )
        try:
            return ModificationAnswer.model_validate(answer)
        except ValidationError as error:
            # A 2xx that is not "received": Adyen may or may not have taken it.
            raise CaptureOutcomeUnknownError(
                f"adyen {operation} answer unexpected: {answer}"
            ) from error


def adyen_amount(amount: int, currency: str) -> dict[str, Any]:
    """An Adyen ``Amount``: the value in Adyen's units of ``currency`` (CLP in centavos, IDR in
    whole rupiah; see :mod:`provider_units`)."""
    return {"value": ADYEN.to_provider(amount, currency), "currency": currency}


# --- Webhooks --------------------------------------------------------------------------------


class NotificationAmount(AdyenWire):
    value: int | None = None
    currency: str | None = None


class NotificationItem(AdyenWire):
    """One standard webhook ``NotificationRequestItem``: the fields we read (Adyen's
    ``NotificationRequestItem`` model; the signature is checked on the item as sent, see
    ``verify_notification``)."""

    event_code: str = Field(alias="eventCode")
    #: The capture's or refund's own reference; ``originalReference`` is the payment's.
    psp_reference: str = Field(default="", alias="pspReference")
    original_reference: str | None = Field(default=None, alias="originalReference")
    #: The ``reference`` we sent: our capture or refund id.
    merchant_reference: str | None = Field(default=None, alias="merchantReference")
    merchant_account_code: str | None = Field(default=None, alias="merchantAccountCode")
    #: ``"true"`` / ``"false"`` on the wire.
    success: bool = False
    reason: str | None = None
    amount: NotificationAmount | None = None


#: Adyen event -> (subject, outcome when ``success`` is true). ``CAPTURE_FAILED`` and
#: ``REFUND_FAILED`` report a failure whatever ``success`` says; ``REFUNDED_REVERSED``: the
#: refunded money came back to the merchant (the refund is undone); ``CANCELLATION``: the
#: outcome of a ``/cancels`` request (our release of what the authorization has left).
_EVENTS: dict[
    str,
    tuple[Literal["capture", "refund", "release"], Literal["succeeded", "failed", "reversed"]],
] = {
    "CANCELLATION": ("release", "succeeded"),
    "CAPTURE": ("capture", "succeeded"),
    "CAPTURE_FAILED": ("capture", "failed"),
    "REFUND": ("refund", "succeeded"),
    "REFUND_FAILED": ("refund", "failed"),
    "REFUNDED_REVERSED": ("refund", "reversed"),
}


def notification_of(item: dict[str, Any]) -> ProviderNotification | None:
    """What a ``NotificationRequestItem`` says about one of our captures or refunds, in the
    domain's terms; None for other events, and for items naming no reference of ours."""
    try:
        parsed = NotificationItem.model_validate(item)
    except ValidationError:
        return None
    known = _EVENTS.get(parsed.event_code)
    if known is None or not parsed.merchant_reference:
        return None
    subject, outcome = known
    if outcome == "succeeded" and not parsed.success:
        outcome = "failed"  # CAPTURE / REFUND with success false: refused
    amount = parsed.amount or NotificationAmount()
    return ProviderNotification(
        subject=subject,
        outcome=outcome,
        reference=parsed.merchant_reference,
        provider_reference=parsed.psp_reference,
        event=parsed.event_code,
        reason=parsed.reason or parsed.event_code,
        provider_amount=amount.value,
        currency=amount.currency.upper() if amount.currency else None,
        authorization_reference=parsed.original_reference or None,
    )


# --- Webhook signatures ----------------------------------------------------------------------

#: The fields of a standard notification item that Adyen signs, in order.
_SIGNED_FIELDS = (
    "pspReference",
    "originalReference",
    "merchantAccountCode",
    "merchantReference",
    "value",
    "currency",
    "eventCode",
    "success",
)


def notification_signing_string(item: dict[str, Any]) -> str:
    """``pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:
    eventCode:success``, absent fields empty. Values are joined as they are: standard webhooks
    do not escape ``:`` (that rule belongs to the old hosted payment pages' signatures)."""
    amount = item.get("amount") or {}
    values = {**item, "value": amount.get("value"), "currency": amount.get("currency")}
    return ":".join(_text(values.get(name)) for name in _SIGNED_FIELDS)


def notification_signature(item: dict[str, Any], hmac_key_hex: str) -> str:
    """Base64 HMAC-SHA256 of the signing string under the hex-decoded key."""
    try:
        key = binascii.unhexlify(hmac_key_hex)
    except (binascii.Error, ValueError) as error:
        raise ProviderNotConfiguredError("the adyen webhook HMAC key is not hex") from error
    digest = hmac.new(key, notification_signing_string(item).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_notification(item: dict[str, Any], hmac_key_hex: str) -> bool:
    """True if ``item`` (one ``NotificationRequestItem``) carries a valid
    ``additionalData.hmacSignature``; compared in constant time. A blank key verifies
    nothing: an HMAC under the empty key is one anyone can compute."""
    received = (item.get("additionalData") or {}).get("hmacSignature")
    if not isinstance(received, str) or not received or not hmac_key_hex.strip():
        return False
    expected = notification_signature(item, hmac_key_hex)
    return hmac.compare_digest(expected.encode(), received.encode())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        # Adyen's JSON sends "true"/"false" strings; a parsed bool must sign the same.
        return "true" if value else "false"
    return str(value)
