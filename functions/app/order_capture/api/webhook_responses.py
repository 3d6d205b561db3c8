"""The error answers the provider webhooks document (``/webhooks/{provider}``,
``/webhooks/stripe``): the native dialect's ``{"error": {type, message, field}}`` body, as
``app.error_response`` renders any error on a path outside Medusa's and Omnitron's."""

from __future__ import annotations

from typing import Any

from order_capture.api.native import ErrorOut


def webhook_error_responses(*statuses: int) -> dict[int, Any]:
    """The documented responses for ``statuses``, each with the body the route sends."""
    descriptions = {
        400: "The body or `merchant_id` is invalid (the body names the field).",
        401: "Missing, invalid or stale signature: nothing changed.",
        404: "No webhooks for this provider.",
        413: "The body is over 256 KiB.",
        415: "Unsupported content type: send application/json.",
        # Powertools documents a 422 on every validated route; here a body that does not
        # validate is a 400, so the 422 is named for what it is.
        422: "Not sent: a body that does not validate is a 400.",
        502: "A lookup at the provider failed: not processed, the provider delivers it again.",
        503: "The ledger is unavailable or busy: not processed, the provider delivers it again.",
    }
    return {
        status: {
            "description": descriptions[status],
            "content": {"application/json": {"model": ErrorOut}},
        }
        for status in statuses
    }
