"""Provider webhooks: ``POST /webhooks/{provider}?merchant_id=<id>``.

A provider calls this route, not a merchant: there is no API key. Each notification item must
carry a valid signature under the merchant's webhook key (Adyen: ``additionalData.hmacSignature``,
HMAC-SHA256 under the hex ``webhook_hmac_key`` of the merchant's credentials); one forged or
unsigned item refuses the whole call with 401 and nothing changes. The merchant is named in the
URL because the key is per merchant and must be known before anything in the body is trusted:
configure the webhook URL per merchant account in the provider's dashboard.

Accepted calls answer ``[accepted]`` (what Adyen expects); capture outcomes settle the ledger
and complete the confirmation workflow waiting for them, refund outcomes settle pending refunds
(see ``domain.provider_webhooks``); other events, and notifications about references the
ledger does not know (not ours: ours are in it from their reservation), are acknowledged,
logged and ignored.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from order_capture.api.common import IDENTIFIER_PATTERN
from order_capture.api.context import ApiDependencies, request_context
from order_capture.api.problems import UnauthorizedError
from order_capture.api.webhook_responses import webhook_error_responses
from order_capture.domain import external_refunds, provider_webhooks, releases
from order_capture.errors import ProviderNotConfiguredError
from order_capture.history import Actor, acting
from order_capture.models import Capture
from order_capture.observability import log_release_error, logger

router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ untyped
TAGS = ["Provider webhooks"]
#: Providers whose webhooks come as Adyen-style signed notification items. The sandbox speaks
#: Adyen's format so that a local run shows asynchronous confirmation end to end. A call for any
#: other provider is 404 before it reaches this route (app.refuse_a_provider_without_webhooks).
ADYEN_FORMAT_PROVIDERS = frozenset({"adyen", "sandbox"})
ACCEPTED = "[accepted]"


class NotificationItem(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    NotificationRequestItem: dict[str, Any]


class Notification(BaseModel):
    """Adyen's standard webhook body: ``{"live", "notificationItems": [...]}``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    live: str | bool | None = None
    notificationItems: Annotated[list[NotificationItem], Field(min_length=1, max_length=100)]  # noqa: N815 - Adyen's name


ProviderPath = Annotated[
    str, Path(pattern=r"^[a-z]+$", max_length=32, description="The payment provider.")
]
MerchantQuery = Annotated[
    str,
    Query(
        pattern=IDENTIFIER_PATTERN,
        min_length=1,
        max_length=128,
        description="The merchant whose webhook key signs the notifications.",
    ),
]


@router.post(
    "/webhooks/<provider>",
    summary="Provider webhook",
    description="Signed notifications of a payment provider (Adyen standard webhooks). "
    "Answers `[accepted]`; a forged or unsigned notification is 401 and changes nothing.",
    tags=TAGS,
    responses={
        202: {"description": "Accepted", "content": {"text/plain": {"schema": {"type": "string"}}}},
        **webhook_error_responses(400, 401, 404, 413, 415, 422, 503),
    },
)
def provider_webhook(
    provider: ProviderPath, merchant_id: MerchantQuery, body: Notification
) -> Response[str]:
    request = request_context(router)
    dependencies = request.dependencies
    items = [wrapper.NotificationRequestItem for wrapper in body.notificationItems]
    try:
        key = (
            dependencies.webhook_keys.webhook_hmac_key(merchant_id, provider)
            if dependencies.webhook_keys is not None
            else None
        )
    except ProviderNotConfiguredError:
        key = None
    # Imported here: the Adyen adapter brings httpx, which no other route's cold start needs.
    from order_capture.adapters.adyen import notification_of, verify_notification  # noqa: PLC0415

    try:
        verified = key is not None and all(verify_notification(item, key) for item in items)
    except ProviderNotConfiguredError:
        # The merchant's key is unusable (not hex): the operator must hear it, the caller
        # (anyone, unauthenticated) must not learn it; the provider retries the 401.
        logger.error(
            "webhook key unusable", extra={"provider": provider, "merchant_id": merchant_id}
        )
        verified = False
    if not verified:
        logger.warning("webhook refused", extra={"provider": provider, "merchant_id": merchant_id})
        raise UnauthorizedError(
            "hmacSignature: missing or invalid for this merchant's webhook key",
            credentials_given=True,
            field="hmacSignature",
        )
    now = dependencies.clock.now()
    for item in items:
        notification = notification_of(item)
        if notification is None:
            continue
        settled = provider_webhooks.apply_notification(
            dependencies.repository,
            dependencies.confirmation_waiters,
            dependencies.publisher,
            merchant_id=merchant_id,
            provider=provider,
            notification=notification,
            now=now,
            # Its confirmation may have been the order's last capture: the remainder goes,
            # before PutEvents (a provider call that can fail or take time).
            before_announcing=(
                None
                if dependencies.providers is None
                else partial(_release_after, dependencies, now=now)
            ),
        )
        if settled is None:
            # Every capture and refund of ours is in the ledger (CAPTURE_REF / REFUND_REF)
            # from its reservation, before the provider hears of it: one the ledger does not
            # know is not ours (made in the provider's dashboard, say), whatever its shape.
            # A refund made there still took money from an order of ours: recorded if the
            # notification proves which (domain.external_refunds).
            with acting(Actor(kind="webhook", name=provider, reason=notification.event)):
                elsewhere = external_refunds.record_notified_refund(
                    dependencies.repository, merchant_id, notification, now, provider
                )
            logger.info(
                "provider notification about a reference that is not ours: "
                + ("recorded as a refund made elsewhere" if elsewhere else "ignored"),
                extra={"event": notification.event, "reference": notification.reference},
            )
            continue
        logger.info(
            "provider notification",
            extra={
                "event": notification.event,
                "reference": notification.reference,
                "status": settled.status.value,
            },
        )
    return Response(status_code=202, content_type="text/plain", body=ACCEPTED)


def _release_after(dependencies: ApiDependencies, capture: Capture, *, now: datetime) -> None:
    """Release what the authorization has left once ``capture`` was the order's last."""
    providers = dependencies.providers
    if providers is None:
        return
    releases.release_quietly(
        partial(releases.release_after_capture, dependencies.repository, providers, capture, now),
        log_release_error,
    )
