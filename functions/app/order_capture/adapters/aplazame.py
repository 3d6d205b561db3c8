"""Aplazame (``https://api.aplazame.com``): captures, capture refunds and voids of an order.

The authorization reference is the Aplazame order id (the ``mid`` the checkout was created
with). Aplazame's API has no idempotency keys: a capture whose answer is lost cannot be
replayed safely nor found again by our key (``find_capture`` needs the capture id), so a
timeout after sending surfaces as CaptureOutcomeUnknownError for reconciliation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from order_capture.adapters.provider_http import ProviderHttp
from order_capture.errors import (
    OutcomeUnknownNotRetryableError,
    ProviderDeclinedError,
    ProviderError,
    ProviderLookupUnsupportedError,
    ProviderNotConfiguredError,
)
from order_capture.ports import (
    ListedCapture,
    ProviderCapture,
    ProviderCaptureLookup,
    ProviderCaptureRequest,
    ProviderRefund,
    ProviderRefundLookup,
    ProviderRefundRequest,
    ProviderRefundState,
    ProviderRelease,
    ProviderReleaseRequest,
)
from order_capture.provider_units import APLAZAME

if TYPE_CHECKING:
    import httpx

    from order_capture.adapters.credentials import ProviderCredentials

APLAZAME_API = "https://api.aplazame.com"
#: API version 1, JSON (Aplazame versions its API through the Accept header).
APLAZAME_MEDIA_TYPE = "application/vnd.aplazame.v1+json"
#: What Aplazame's test-mode (sandbox) keys must ask for instead.
APLAZAME_SANDBOX_MEDIA_TYPE = "application/vnd.aplazame.sandbox.v1+json"
#: Aplazame lends in euros only; its capture objects carry no currency.
APLAZAME_CURRENCY = "EUR"


class AplazameWire(BaseModel):
    """Aplazame's JSON as Aplazame names it: unknown fields ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


#: Aplazame's ids are hex strings; a number is read as its text.
AplazameId = Annotated[
    str, BeforeValidator(lambda value: str(value) if isinstance(value, int) else value)
]


class RefundAnswer(AplazameWire):
    id: AplazameId
    amount: int
    created: str = ""


class CaptureAnswer(AplazameWire):
    """A capture (the seed's capture object), as ``POST .../captures`` answers it and
    ``GET .../captures`` lists it."""

    id: AplazameId
    amount: int
    refunds: list[RefundAnswer] = []
    #: The seed's ``refunded_amount``; None where an answer leaves it out.
    refunded_amount: int | None = None


class RefundedCaptureAnswer(AplazameWire):
    """``POST .../captures/{id}/refunds``: the capture with all its refunds (only they are
    read)."""

    refunds: list[RefundAnswer] = []


class CapturesAnswer(AplazameWire):
    """``GET /orders/{id}/captures``."""

    results: list[CaptureAnswer] = []


class ErrorBody(AplazameWire):
    type: str = ""
    message: str = ""
    fields: dict[str, Any] | None = None


class ErrorAnswer(AplazameWire):
    error: ErrorBody


def classify_aplazame_error(status: int, body: dict[str, Any]) -> ProviderError | None:
    if status in {406, 415}:
        # Not Acceptable / Unsupported Media Type: our Accept or Content-Type does not suit the
        # key (a sandbox key needs the sandbox media type): an integration error for an
        # operator, not a refusal of this order.
        return ProviderNotConfiguredError(
            f"aplazame {status}: the API refused our media type (is test_mode set right for "
            "this key?)"
        )
    return _classify_error_body(status, body)


def _classify_error_body(status: int, body: dict[str, Any]) -> ProviderError | None:
    """Aplazame answers ``{"error": {"type", "message", "fields"?}}``. A 400
    (ApiValidationException) refuses the request, whichever fields it names: Aplazame documents
    no field as meaning "more than the order has left", so none is read as an over-capture;
    403 is an operation refused for this order (not confirmed, not capturable), not bad
    credentials (those are 401)."""
    try:
        error = ErrorAnswer.model_validate(body).error
    except ValidationError:
        return None
    text = f"aplazame {status} {error.type}: {error.message}"
    if error.fields:
        text = f"{text} (fields: {', '.join(sorted(map(str, error.fields)))})"
    if status in {400, 403, 404, 409}:
        return ProviderDeclinedError(text)
    return None


class AplazameProvider:
    name = "aplazame"
    #: Aplazame's captures take no idempotency key: asking again could capture twice.
    idempotent_captures = False

    def __init__(
        self,
        credentials: ProviderCredentials,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.http = ProviderHttp(
            "aplazame",
            credentials.base_url or APLAZAME_API,
            headers={
                "Accept": APLAZAME_SANDBOX_MEDIA_TYPE
                if credentials.test_mode
                else APLAZAME_MEDIA_TYPE,
                "Authorization": f"Bearer {credentials.api_key.get_secret_value()}",
            },
            timeout_seconds=timeout_seconds,
            classify=classify_aplazame_error,
            transport=transport,
        )

    def capture(self, request: ProviderCaptureRequest) -> ProviderCapture:
        answer = self.http.request(
            "POST",
            f"{_order_path(request.authorization_reference)}/captures",
            json={"amount": APLAZAME.to_provider(request.amount, request.currency)},
            idempotent=False,
        )
        return _capture_from(answer, request.currency)

    def refund(self, request: ProviderRefundRequest) -> ProviderRefund:
        capture_path = (
            f"{_order_path(request.authorization_reference)}/captures/"
            f"{quote(request.capture_reference, safe='')}"
        )
        answer = self.http.request(
            "POST",
            f"{capture_path}/refunds",
            json={"amount": APLAZAME.to_provider(request.amount, request.currency)},
            idempotent=False,
        )
        try:
            refunds = RefundedCaptureAnswer.model_validate(answer).refunds
        except ValidationError as error:
            # Aplazame said yes; what it refunded is unclear: never send it again (no key).
            raise OutcomeUnknownNotRetryableError(
                f"aplazame refund answer unreadable: {answer}"
            ) from error
        if not refunds:
            raise ProviderDeclinedError(f"aplazame answered a refund without refunds: {answer}")
        # The answer is the capture with all its refunds; ours is the newest of the amount
        # sent (Aplazame refunds what it is asked; one racing ours may be newer).
        sent = APLAZAME.to_provider(request.amount, request.currency)
        candidates = [refund for refund in refunds if refund.amount == sent]
        if not candidates:
            raise OutcomeUnknownNotRetryableError(
                f"aplazame answered a refund listing none of {sent}: {answer}"
            )
        newest = max(candidates, key=lambda refund: _instant(refund.created))
        return ProviderRefund(
            provider_reference=newest.id,
            capture_reference=request.capture_reference,
            amount=newest.amount,
            currency=request.currency,
            status="succeeded",
        )

    def find_refund(self, lookup: ProviderRefundLookup) -> ProviderRefund | None:
        """A refund whose answer was lost, by elimination like a capture: among the capture's
        refunds at Aplazame (``GET /orders/{id}/captures`` lists each capture with its refunds),
        those the ledger does not know, of the amount sent (Aplazame refunds what it is asked;
        one of another amount was made elsewhere, in its back office). None of them: nothing
        was refunded. Exactly one: that is it. Several are left to a person
        (ProviderLookupUnsupportedError)."""
        results = self._captures(lookup.authorization_reference)
        capture = next((c for c in results if c.id == lookup.capture_reference), None)
        if capture is None:
            raise ProviderLookupUnsupportedError(
                f"aplazame lists no capture {lookup.capture_reference} for this order"
            )
        amount = APLAZAME.to_provider(lookup.amount, lookup.currency)
        unknown = [
            item
            for item in capture.refunds
            if item.id not in lookup.known_references and item.amount == amount
        ]
        if not unknown:
            return None
        if len(unknown) == 1:
            return ProviderRefund(
                provider_reference=unknown[0].id,
                capture_reference=lookup.capture_reference,
                amount=lookup.amount,
                currency=lookup.currency,
                status="succeeded",
            )
        raise ProviderLookupUnsupportedError(
            f"aplazame holds {len(unknown)} refunds of {lookup.amount} of capture "
            f"{lookup.capture_reference} the ledger does not know; which is ours is for a "
            "person to decide"
        )

    def find_capture(self, lookup: ProviderCaptureLookup) -> ProviderCapture | None:
        """By the capture id; or, for a capture of unknown outcome (sent, no answer), by
        elimination, as Aplazame captures carry no key of ours: among the order's captures at
        Aplazame, those the ledger does not know. None of them: nothing was captured. Exactly
        one, of the amount sent: that is it. Anything else is ambiguous and left to a person
        (raises ProviderLookupUnsupportedError)."""
        if lookup.provider_reference is None and lookup.amount is None:
            raise ProviderLookupUnsupportedError(
                "aplazame captures carry no idempotency key: look them up by capture id, "
                "or by elimination with the amount and the captures the ledger knows"
            )
        results = self._captures(lookup.authorization_reference)
        if lookup.provider_reference is not None:
            for item in results:
                if item.id == lookup.provider_reference:
                    return _found(item)
            return None
        unknown = [item for item in results if item.id not in lookup.known_references]
        if not unknown:
            return None
        if len(unknown) == 1 and unknown[0].amount == lookup.amount:
            return _found(unknown[0])
        raise ProviderLookupUnsupportedError(
            f"aplazame holds {len(unknown)} capture(s) the ledger does not know for this order "
            f"(amounts {[item.amount for item in unknown]}); "
            f"which is {lookup.amount} is for a person to decide"
        )

    def listed_captures(self, authorization_reference: str, currency: str) -> list[ListedCapture]:
        """The order's captures with all their refunds, those made in Aplazame's back office
        included (Aplazame sends no webhook for them): ``GET /orders/{id}/captures``."""
        return [
            ListedCapture(
                provider_reference=item.id,
                amount=APLAZAME.from_provider(item.amount, currency),
                refunds=[
                    ProviderRefundState(
                        provider_reference=refund.id,
                        status="succeeded",
                        amount=APLAZAME.from_provider(refund.amount, currency),
                        currency=currency,
                    )
                    for refund in item.refunds
                ],
                # The larger of the two: a list that shows fewer refunds than its total
                # still refunds no more than the total says is gone.
                refunded_amount=APLAZAME.from_provider(
                    max(item.refunded_amount or 0, sum(r.amount for r in item.refunds)), currency
                ),
            )
            for item in self._captures(authorization_reference)
        ]

    def _captures(self, order_id: str) -> list[CaptureAnswer]:
        """The order's captures at Aplazame, each with its refunds. An answer we cannot read
        proves nothing (never "no such capture"): ProviderLookupUnsupportedError."""
        answer = self.http.request("GET", f"{_order_path(order_id)}/captures", idempotent=True)
        try:
            return CapturesAnswer.model_validate(answer).results
        except ValidationError as error:
            raise ProviderLookupUnsupportedError(
                f"aplazame's list of captures is unreadable: {answer}"
            ) from error

    def release(self, request: ProviderReleaseRequest) -> ProviderRelease:
        """Void what the order has not captured (a partial void of the rest)."""
        if request.remaining_amount > 0:
            self.http.request(
                "POST",
                f"{_order_path(request.authorization_reference)}/void",
                json={"amount": APLAZAME.to_provider(request.remaining_amount, request.currency)},
                idempotent=False,
            )
        return ProviderRelease(
            authorization_reference=request.authorization_reference, status="succeeded"
        )


def _order_path(order_id: str) -> str:
    return f"/orders/{quote(order_id, safe='')}"


def _found(capture: CaptureAnswer) -> ProviderCapture:
    return ProviderCapture(
        provider_reference=capture.id,
        amount=capture.amount,
        currency=APLAZAME_CURRENCY,
        status="succeeded",
    )


def _capture_from(answer: dict[str, Any], currency: str) -> ProviderCapture:
    try:
        capture = CaptureAnswer.model_validate(answer)
    except ValidationError as error:
        # Aplazame said yes; what it captured is unclear: reconcile, never release, and never
        # send it again (no idempotency key).
        raise OutcomeUnknownNotRetryableError(
            f"aplazame capture answer unreadable: {answer}"
        ) from error
    return ProviderCapture(
        provider_reference=capture.id,
        amount=capture.amount,
        currency=currency,
        status="succeeded",
    )


def _instant(created: str) -> datetime:
    """An Aplazame timestamp as an instant (offsets differ across a DST change, so their
    text does not sort); one that cannot be read sorts first."""
    try:
        instant = datetime.fromisoformat(created)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)
