"""Stripe's webhook: ``POST /webhooks/stripe?merchant_id=<id>``.

Stripe calls this route, not a merchant: there is no API key. The ``Stripe-Signature`` header
must sign the raw body under the signing secret of the merchant's webhook endpoint
(``webhook_secret`` in the merchant's Stripe credentials, ``whsec_...``), at most 300 seconds
ago (``adapters.stripe_events``); otherwise the answer is 401, nothing changes, and no secret
is named. The merchant is in the URL because the secret is per endpoint and must be known
before anything in the body is trusted: one endpoint per merchant account in Stripe's
dashboard.

A signed event is answered 200 ``{"received": true}`` whatever it is: Stripe retries anything
else for days. The refund events (``refund.updated``, ``refund.failed``,
``charge.refund.updated``, ``refund.created``) settle the pending refund they name by our key
(``domain.refund_states``). A refund event that names no refund of ours, and
``charge.refunded``, make the webhook read the PaymentIntent's refunds at Stripe and record
those made elsewhere (the Dashboard, another system) in the ledger
(``domain.external_refunds``), so that our refund API never refunds money that is gone; a
failed lookup answers 502 and Stripe delivers the event again. Other events are logged and
ignored.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from order_capture.adapters import stripe_events
from order_capture.api.common import IDENTIFIER_PATTERN
from order_capture.api.context import ApiDependencies, request_context
from order_capture.api.problems import UnauthorizedError
from order_capture.api.webhook_responses import webhook_error_responses
from order_capture.domain import external_refunds
from order_capture.domain.refund_states import settle_refund_state
from order_capture.errors import ProviderNotConfiguredError
from order_capture.history import Actor, acting
from order_capture.models import Refund
from order_capture.observability import logger
from order_capture.ports import IntentRefundsReader

router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ untyped
PATH = "/webhooks/stripe"
RECEIVED = json.dumps({"received": True})

MerchantQuery = Annotated[
    str,
    Query(
        pattern=IDENTIFIER_PATTERN,
        min_length=1,
        max_length=128,
        description="The merchant whose endpoint secret signs the events.",
    ),
]


def _refunds_made_elsewhere(
    dependencies: ApiDependencies, merchant_id: str, event: stripe_events.StripeEvent, now: datetime
) -> list[Refund]:
    """The refunds of the event's PaymentIntent made in Stripe's Dashboard or by another
    system, recorded in the ledger (``domain.external_refunds``). A failed lookup raises: the
    answer is then a 5xx and Stripe delivers the event again."""
    intent = stripe_events.payment_intent_of(event)
    if intent is None or dependencies.providers is None:
        return []
    try:
        provider = dependencies.providers.provider("stripe", merchant_id)
    except ProviderNotConfiguredError:
        logger.warning("stripe event for a merchant without Stripe credentials")
        return []
    if not isinstance(provider, IntentRefundsReader):
        return []
    with acting(Actor(kind="webhook", name="stripe", reason=f"{event.type} {event.id}")):
        return external_refunds.record_external_refunds(
            dependencies.repository, merchant_id, provider.intent_refunds(intent), now, event.type
        )


@router.post(
    PATH,
    summary="Stripe webhook",
    description="Stripe's events, signed in `Stripe-Signature` with the endpoint's secret "
    '(`t=<time>,v1=<HMAC-SHA256 of "<time>.<body>">`, at most 300 s old). Refund events '
    "settle the pending refunds they name; every signed event is answered 200. A missing, "
    "forged or stale signature is 401 and changes nothing.",
    tags=["Provider webhooks"],
    responses={
        200: {
            "description": "Received",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"received": {"type": "boolean"}},
                        "required": ["received"],
                    }
                }
            },
        },
        **webhook_error_responses(400, 401, 413, 415, 422, 502, 503),
    },
)
def stripe_webhook(merchant_id: MerchantQuery) -> Response[str]:
    request = request_context(router)
    dependencies = request.dependencies
    event = router.current_event
    payload = (event.decoded_body or "").encode()
    now = dependencies.clock.now()
    try:
        secret = (
            dependencies.webhook_keys.webhook_secret(merchant_id, "stripe")
            if dependencies.webhook_keys is not None
            else None
        )
    except ProviderNotConfiguredError:
        secret = None
    header = event.headers.get(stripe_events.SIGNATURE_HEADER)
    if not stripe_events.signature_is_valid(payload, header, secret, now.timestamp()):
        logger.warning("webhook refused", extra={"provider": "stripe", "merchant_id": merchant_id})
        raise UnauthorizedError(
            f"{stripe_events.SIGNATURE_HEADER}: missing, invalid or older than "
            f"{stripe_events.TOLERANCE_SECONDS} s for this merchant's endpoint secret",
            credentials_given=header is not None,
            field=stripe_events.SIGNATURE_HEADER,
        )
    stripe_event = stripe_events.parse_event(payload)
    state = stripe_events.refund_of(stripe_event) if stripe_event is not None else None
    settled = (
        settle_refund_state(
            dependencies.repository, merchant_id, state, now, stripe_event.type, provider="stripe"
        )
        if state is not None and stripe_event is not None
        else None
    )
    elsewhere = (
        _refunds_made_elsewhere(dependencies, merchant_id, stripe_event, now)
        if settled is None and stripe_event is not None
        else []
    )
    logger.info(
        "stripe event" if settled is not None or elsewhere else "stripe event: nothing of ours",
        extra={
            "event": stripe_event.type if stripe_event is not None else None,
            "event_id": stripe_event.id if stripe_event is not None else None,
            "reference": state.provider_reference if state is not None else None,
            "status": settled.status.value if settled is not None else None,
            "refunds_made_elsewhere": [refund.refund_id for refund in elsewhere],
        },
    )
    return Response(status_code=200, content_type="application/json", body=RECEIVED)
