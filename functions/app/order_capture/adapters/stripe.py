"""Stripe PaymentIntents (``https://api.stripe.com/v1``), form-encoded, with Idempotency-Key.

The authorization reference is the PaymentIntent id (``pi_...``), created with
``capture_method=manual`` (and ``request_multicapture=if_available`` for several shipments).
Stripe has no capture object: each capture raises the intent's ``amount_received``, so the
capture's provider reference is the PaymentIntent id and our idempotency key is written into the
intent's metadata (``capture_<key>`` = amount), which is how ``find_capture`` finds it again.
Every capture asks for ``latest_charge`` so that the card's ``capture_before`` comes back as the
authorization's deadline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from order_capture.adapters import stripe_events
from order_capture.adapters.provider_http import ProviderHttp
from order_capture.errors import (
    CaptureOutcomeUnknownError,
    OutcomeUnknownNotRetryableError,
    ProviderAuthorizationExpiredError,
    ProviderDeclinedError,
    ProviderError,
    ProviderLookupUnsupportedError,
    ProviderMulticaptureUnavailableError,
    ProviderOverCaptureError,
    ProviderUnavailableError,
)
from order_capture.ports import (
    IntentRefunds,
    ProviderCapture,
    ProviderCaptureLookup,
    ProviderCaptureRequest,
    ProviderRefund,
    ProviderRefundRequest,
    ProviderRefundState,
    ProviderRelease,
    ProviderReleaseRequest,
    ProviderStatus,
)
from order_capture.provider_units import STRIPE

if TYPE_CHECKING:
    import httpx

    from order_capture.adapters.credentials import ProviderCredentials

STRIPE_API = "https://api.stripe.com"
#: Pinned so that response shapes (``latest_charge``) do not move with the account default.
STRIPE_API_VERSION = "2024-06-20"

#: Stripe metadata keys are at most 40 characters.
_METADATA_KEY_PREFIX = "capture_"
_METADATA_KEY_ROOM = 40 - len(_METADATA_KEY_PREFIX)

_EXPIRED_CODES = frozenset({"charge_expired_for_capture", "capture_charge_authorization_expired"})
#: Stripe cancels an uncaptured PaymentIntent itself when its authorization runs out.
_EXPIRY_CANCELLATION_REASONS = frozenset({"automatic", "expired"})
_OVER_AMOUNT_CODES = frozenset({"amount_too_large", "charge_already_refunded"})
#: Nothing done yet: another request with this key is still running, or Stripe is busy.
_TRY_AGAIN_CODES = frozenset({"idempotency_key_in_use", "lock_timeout", "rate_limit"})
#: The intent cannot be captured (again): if its metadata holds our key, our capture happened.
#: Stripe's largest list page, and how many pages of an intent's refunds are read at most: a
#: bound on one lookup's requests, far above what an order's refunds come to (one per refund
#: request, each of at least one minor unit of a capture).
_REFUND_PAGE_SIZE = 100
REFUND_PAGES = 20
#: How much earlier than our reservation Stripe's clock may date our refund: the lookup by
#: key asks only for refunds ``created[gte]`` the reservation less this, so an intent's older
#: refunds (however many) are never read.
REFUND_LOOKUP_CLOCK_MARGIN = timedelta(hours=1)
_ALREADY_CAPTURED_CODES = frozenset({"payment_intent_unexpected_state", "charge_already_captured"})


def classify_stripe_error(status: int, body: dict[str, Any]) -> ProviderError | None:
    """Stripe answers ``{"error": {"type", "code", "decline_code", "message",
    "payment_intent"}}``; the code says more than the HTTP status."""
    error = body.get("error")
    if not isinstance(error, dict):
        return None
    code = str(error.get("code") or "")
    text = f"stripe {status} {error.get('type', '')}/{code or '-'}: {error.get('message', '')}"
    intent = error.get("payment_intent")
    if code in _EXPIRED_CODES or (
        isinstance(intent, dict)
        and intent.get("status") == "canceled"
        and intent.get("cancellation_reason") in _EXPIRY_CANCELLATION_REASONS
    ):
        return ProviderAuthorizationExpiredError(text)
    return _classify_by_code(status, code, str(error.get("type") or ""), text)


def _classify_by_code(status: int, code: str, type_: str, text: str) -> ProviderError | None:
    if code in _OVER_AMOUNT_CODES:
        return ProviderOverCaptureError(text)
    if code in _TRY_AGAIN_CODES:
        return ProviderUnavailableError(text)
    if type_ == "idempotency_error":
        # The key was used before with other parameters: that first request may have run, and
        # asking again gets this answer again. Only a lookup (metadata) can tell.
        return OutcomeUnknownNotRetryableError(text)
    if status in {400, 402, 404, 409}:
        # Card errors and invalid requests (an intent in an unexpected state: see
        # StripeProvider.capture for the one that means our capture happened) are terminal.
        return ProviderDeclinedError(text)
    return None


class StripeProvider:
    name = "stripe"
    #: The capture request carries our Idempotency-Key: asking again cannot capture twice.
    idempotent_captures = True

    def __init__(
        self,
        credentials: ProviderCredentials,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.http = ProviderHttp(
            "stripe",
            credentials.base_url or STRIPE_API,
            headers={
                "Authorization": f"Bearer {credentials.api_key.get_secret_value()}",
                "Stripe-Version": STRIPE_API_VERSION,
            },
            timeout_seconds=timeout_seconds,
            classify=classify_stripe_error,
            retry_header="Stripe-Should-Retry",
            transport=transport,
        )

    def capture(self, request: ProviderCaptureRequest) -> ProviderCapture:
        stripe_amount = STRIPE.to_provider(request.amount, request.currency)
        final = request.final_capture
        if not final:
            intent = self._intent(request)
            if metadata_key(request.idempotency_key) in (intent.get("metadata") or {}):
                # An earlier attempt under this key captured (its answer was lost): Stripe
                # prunes keys after 24 hours, and a multicapture intent that still has money
                # capturable would capture it again. Answered from the intent, nothing sent.
                return self._answer(intent, request)
            final = not self._keeps_the_rest(intent, stripe_amount)
        form = {
            "amount_to_capture": str(stripe_amount),
            # Without final_capture=false a partial capture releases the rest; Stripe takes
            # false only where multicapture is available (checked by _keeps_the_rest).
            "final_capture": "true" if final else "false",
            # In Stripe's units, like every amount the intent shows.
            f"metadata[{metadata_key(request.idempotency_key)}]": str(stripe_amount),
            "expand[]": "latest_charge",
        }
        try:
            intent = self.http.request(
                "POST",
                f"{_intent_path(request.authorization_reference)}/capture",
                data=form,
                headers={"Idempotency-Key": request.idempotency_key},
                idempotent=True,
            )
        except ProviderDeclinedError as refusal:
            intent = self._captured_by_us(refusal, request)
        return self._answer(intent, request)

    def _answer(self, intent: dict[str, Any], request: ProviderCaptureRequest) -> ProviderCapture:
        """``request``'s capture as ``intent`` (after it) shows it."""
        return ProviderCapture(
            provider_reference=str(intent.get("id") or request.authorization_reference),
            amount=request.amount,
            currency=str(intent.get("currency") or request.currency).upper(),
            status=_capture_status(intent),
            authorization_expires_at=capture_before(intent),
        )

    def _intent(self, request: ProviderCaptureRequest) -> dict[str, Any]:
        """The intent with its latest charge, as Stripe shows it now."""
        return self.http.request(
            "GET",
            _intent_path(request.authorization_reference),
            params={"expand[]": "latest_charge"},
            idempotent=True,
        )

    def _keeps_the_rest(self, intent: dict[str, Any], stripe_amount: int) -> bool:
        """Whether a capture that is not the last can keep the rest capturable: it must be,
        unless it takes everything the intent has left. Stripe says so on the charge:
        ``latest_charge.payment_method_details.card.multicapture.status``. Without multicapture
        a partial capture would release the rest and every later shipment would be refused, so
        it is refused here instead, before anything is sent (ProviderMulticaptureUnavailable-
        Error): nothing is captured, nothing released, and a capture of everything that
        remains (the last shipment) still captures in one go."""
        capturable = intent.get("amount_capturable")
        if isinstance(capturable, int) and stripe_amount >= capturable:
            return False  # everything left: nothing to keep
        if multicapture_status(intent) == "available":
            return True
        raise ProviderMulticaptureUnavailableError(
            f"stripe intent {intent.get('id')}: multicapture is "
            f"{multicapture_status(intent) or 'not offered'}, so capturing {stripe_amount} of "
            f"the {capturable} capturable would release the rest; nothing was sent"
        )

    def _captured_by_us(
        self, refusal: ProviderDeclinedError, request: ProviderCaptureRequest
    ) -> dict[str, Any]:
        """The intent, if Stripe refused the capture because it was captured already and the
        intent's metadata holds our key: then it was our capture (an earlier attempt whose
        answer was lost, under a key Stripe had pruned), to confirm, never to release.
        Otherwise the refusal stands."""
        error = (refusal.provider_body or {}).get("error") or {}
        if (
            isinstance(refusal, ProviderAuthorizationExpiredError)
            or error.get("code") not in _ALREADY_CAPTURED_CODES
        ):
            raise refusal
        intent = error.get("payment_intent")
        if not isinstance(intent, dict) or "metadata" not in intent:
            intent = self._intent(request)
        ours = metadata_key(request.idempotency_key) in (intent.get("metadata") or {})
        if not ours or intent.get("status") not in {"succeeded", "requires_capture"}:
            raise refusal
        return intent

    def refund(self, request: ProviderRefundRequest) -> ProviderRefund:
        """Stripe forgets idempotency keys after 24 hours, so a refund sent again later with the
        same key could refund twice: the intent's refunds are looked up first, by our key in
        their metadata (``refund_key``), and only a refund Stripe does not have is sent."""
        refund = self._refund_with_key(request) or self.http.request(
            "POST",
            "/v1/refunds",
            data={
                "payment_intent": request.capture_reference,
                "amount": str(STRIPE.to_provider(request.amount, request.currency)),
                "metadata[order_id]": request.order_id,
                "metadata[merchant_id]": request.merchant_id,
                "metadata[refund_key]": request.idempotency_key,
            },
            headers={"Idempotency-Key": request.idempotency_key},
            idempotent=True,
        )
        status = refund.get("status")
        if status in {"failed", "canceled"}:
            raise ProviderDeclinedError(
                f"stripe refund {refund.get('id')} {status}: {refund.get('failure_reason')}"
            )
        currency = str(refund.get("currency") or request.currency).upper()
        refunded = refund.get("amount")
        return ProviderRefund(
            provider_reference=str(refund["id"]),
            capture_reference=request.capture_reference,
            amount=request.amount
            if refunded is None
            else STRIPE.from_provider(int(refunded), currency),
            currency=currency,
            status="succeeded" if status == "succeeded" else "pending",
        )

    def refund_state(self, provider_reference: str) -> ProviderRefundState:
        """``GET /v1/refunds/{id}``: the refund as Stripe shows it now (reconciliation settles a
        pending refund by it when no webhook came)."""
        refund = self.http.request(
            "GET", f"/v1/refunds/{quote(provider_reference, safe='')}", idempotent=True
        )
        state = stripe_events.refund_state(refund)
        if state is None:
            raise ProviderLookupUnsupportedError(
                f"stripe answered GET /v1/refunds/{provider_reference} with no refund we can read"
            )
        return state

    def intent_refunds(self, authorization_reference: str) -> IntentRefunds:
        """Every refund of the PaymentIntent (ours and those made in Stripe's Dashboard or by
        another system), and our capture keys from its metadata (``capture_<key>``, written by
        ``capture``): how a refund made elsewhere finds its order. Stripe lists the newest
        first; they are given oldest first.

        One request in the common case (``charge.refunded`` names the intent, not a refund, and
        its charge carries no refunds: ``refunds`` is expandable, and events expand nothing):
        the first page of refunds is asked with ``expand[]=data.payment_intent``, so each
        refund brings the intent, metadata and all. The intent is read on its own only when
        Stripe lists no refund of it (or does not expand it)."""
        listed = list(self._refunds_of(authorization_reference, expand_intent=True))
        intent = next(
            (r["payment_intent"] for r in listed if isinstance(r.get("payment_intent"), dict)),
            None,
        ) or self.http.request("GET", _intent_path(authorization_reference), idempotent=True)
        states = [stripe_events.refund_state(refund) for refund in listed]
        return IntentRefunds(
            authorization_reference=authorization_reference,
            capture_keys=[
                key.removeprefix(_METADATA_KEY_PREFIX)
                for key in intent.get("metadata") or {}
                if key.startswith(_METADATA_KEY_PREFIX)
            ],
            refunds=[state for state in reversed(states) if state is not None],
        )

    def _refund_with_key(self, request: ProviderRefundRequest) -> dict[str, Any] | None:
        """Our refund at Stripe, by ``refund_key``: it was made after the ledger reserved it,
        so only refunds created since then (less a margin for the clocks) are listed."""
        since = (
            None
            if request.reserved_at is None
            else int((request.reserved_at - REFUND_LOOKUP_CLOCK_MARGIN).timestamp())
        )
        for refund in self._refunds_of(request.capture_reference, created_since=since):
            if (refund.get("metadata") or {}).get("refund_key") == request.idempotency_key:
                return dict(refund)  # found: the pages after it are not read
        return None

    def _refunds_of(
        self, payment_intent: str, *, expand_intent: bool = False, created_since: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The intent's refunds, newest first, page after page (``GET /v1/refunds``: at most
        100 a page, ``has_more`` while more are left, ``starting_after`` the last id read), at
        most ``REFUND_PAGES`` pages. Past that it raises rather than answer from part of the
        list: a refund looked up before it is sent again must not be missed. With
        ``expand_intent`` the first page's refunds bring the intent object (later pages do not:
        it is the same intent). ``created_since`` (unix seconds): only refunds created then or
        later (``created[gte]``)."""
        params = {"payment_intent": payment_intent, "limit": str(_REFUND_PAGE_SIZE)}
        if created_since is not None:
            params["created[gte]"] = str(created_since)
        first = {**params, "expand[]": "data.payment_intent"} if expand_intent else params
        for number in range(REFUND_PAGES):
            listed = self.http.request(
                "GET", "/v1/refunds", params=first if number == 0 else params, idempotent=True
            )
            page = listed.get("data") or []
            yield from page
            if not listed.get("has_more") or not page:
                return
            params = {**params, "starting_after": str(page[-1]["id"])}
        since = "" if created_since is None else f" created since {created_since}"
        raise ProviderLookupUnsupportedError(
            f"stripe lists more than {REFUND_PAGES * _REFUND_PAGE_SIZE} refunds of "
            f"{payment_intent}{since}: not read further; settle its refunds from Stripe's "
            "Dashboard"
        )

    def find_capture(self, lookup: ProviderCaptureLookup) -> ProviderCapture | None:
        intent_id = lookup.provider_reference or lookup.authorization_reference
        intent = self.http.request(
            "GET",
            _intent_path(intent_id),
            params={"expand[]": "latest_charge"},
            idempotent=True,
        )
        metadata = intent.get("metadata") or {}
        if lookup.idempotency_key is not None:
            amount = metadata.get(metadata_key(lookup.idempotency_key))
            if amount is None:
                return None
        else:
            amount = intent.get("amount_received") or None
            if amount is None:
                return None
        currency = str(intent.get("currency", "")).upper()
        return ProviderCapture(
            provider_reference=str(intent["id"]),
            amount=STRIPE.from_provider(int(amount), currency),
            currency=currency,
            status="succeeded",
            authorization_expires_at=capture_before(intent),
        )

    def release(self, request: ProviderReleaseRequest) -> ProviderRelease:
        """Cancel the PaymentIntent: Stripe releases whatever is still capturable. An intent
        Stripe will not cancel because nothing is left to release (a capture sent final,
        which Stripe also sends when the card has no multicapture: the intent succeeded)
        answers ``payment_intent_unexpected_state``: released already."""
        if request.remaining_amount > 0:
            try:
                self.http.request(
                    "POST",
                    f"{_intent_path(request.authorization_reference)}/cancel",
                    headers={"Idempotency-Key": request.idempotency_key},
                    idempotent=True,
                )
            except ProviderDeclinedError as error:
                code = ((error.provider_body or {}).get("error") or {}).get("code")
                if code != "payment_intent_unexpected_state":
                    raise
        return ProviderRelease(
            authorization_reference=request.authorization_reference, status="succeeded"
        )


def metadata_key(idempotency_key: str) -> str:
    """``capture_<key>``, hashed when the key would not fit Stripe's 40 characters."""
    if len(idempotency_key) > _METADATA_KEY_ROOM:
        idempotency_key = hashlib.sha256(idempotency_key.encode()).hexdigest()[:_METADATA_KEY_ROOM]
    return _METADATA_KEY_PREFIX + idempotency_key


def capture_before(intent: dict[str, Any]) -> datetime | None:
    """``latest_charge.payment_method_details.card.capture_before`` (Unix time), if expanded."""
    charge = intent.get("latest_charge")
    if not isinstance(charge, dict):
        return None
    card = (charge.get("payment_method_details") or {}).get("card") or {}
    deadline = card.get("capture_before")
    return datetime.fromtimestamp(int(deadline), UTC) if deadline is not None else None


def multicapture_status(intent: dict[str, Any]) -> str | None:
    """``latest_charge.payment_method_details.card.multicapture.status`` (``available`` or
    ``unavailable``), if the charge is expanded and says."""
    charge = intent.get("latest_charge")
    if not isinstance(charge, dict):
        return None
    card = (charge.get("payment_method_details") or {}).get("card") or {}
    status = (card.get("multicapture") or {}).get("status")
    return str(status) if status is not None else None


def _capture_status(intent: dict[str, Any]) -> ProviderStatus:
    status = intent.get("status")
    # requires_capture after a capture: a multicapture intent keeps the rest for later.
    if status in {"succeeded", "requires_capture"}:
        return "succeeded"
    if status == "processing":
        return "pending"
    # Stripe said 200 but the intent is in a state a capture cannot leave: look before acting.
    raise CaptureOutcomeUnknownError(f"stripe capture left intent {intent.get('id')} {status}")


def _intent_path(intent_id: str) -> str:
    return f"/v1/payment_intents/{quote(intent_id, safe='')}"
