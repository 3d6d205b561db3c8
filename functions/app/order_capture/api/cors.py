"""CORS for browsers (Medusa's admin runs medusa-js in a browser): the allowed origins are the
template parameter ``CorsAllowedOrigins`` (default none: no browser may call the API).

Preflights (``OPTIONS``) reach the function through their own API events, and are answered
here before authentication (a preflight carries no credentials). medusa-js sends requests
``withCredentials``, so an allowed origin is echoed (never ``*``) with
``Access-Control-Allow-Credentials: true``. A request from an origin not allowed gets no CORS
header at all, and the browser keeps the answer from the page.
"""

from __future__ import annotations

from typing import Any

ALLOWED_METHODS = "GET, POST, PUT, OPTIONS"
ALLOWED_HEADERS = (
    "Accept, Authorization, Content-Type, Idempotency-Key, x-medusa-access-token, "
    "x-publishable-api-key"
)
#: Headers of ours a page may read.
EXPOSED_HEADERS = "Idempotent-Replayed, X-Aplazame-Media-Type, WWW-Authenticate"
PREFLIGHT_MAX_AGE_SECONDS = 600


def _origin(event: dict[str, Any]) -> str | None:
    for name, value in (event.get("headers") or {}).items():
        if name.lower() == "origin" and value:
            return str(value)
    return None


def allowed_origin(event: dict[str, Any], allowed: tuple[str, ...]) -> str | None:
    origin = _origin(event)
    return origin if origin is not None and origin in allowed else None


def preflight(event: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """The answer to a CORS preflight: 204, with the CORS headers only for an allowed origin."""
    headers: dict[str, list[str]] = {"Vary": ["Origin"]}
    origin = allowed_origin(event, allowed)
    if origin is not None:
        headers |= {
            "Access-Control-Allow-Origin": [origin],
            "Access-Control-Allow-Credentials": ["true"],
            "Access-Control-Allow-Methods": [ALLOWED_METHODS],
            "Access-Control-Allow-Headers": [ALLOWED_HEADERS],
            "Access-Control-Max-Age": [str(PREFLIGHT_MAX_AGE_SECONDS)],
        }
    return {"statusCode": 204, "multiValueHeaders": headers, "body": "", "isBase64Encoded": False}


def with_cors_headers(
    response: dict[str, Any], event: dict[str, Any], allowed: tuple[str, ...]
) -> dict[str, Any]:
    """``response`` with the CORS headers for the request's origin, if it is allowed."""
    origin = allowed_origin(event, allowed)
    if origin is None:
        return response
    headers = dict(response.get("multiValueHeaders") or {})
    headers |= {
        "Access-Control-Allow-Origin": [origin],
        "Access-Control-Allow-Credentials": ["true"],
        "Access-Control-Expose-Headers": [EXPOSED_HEADERS],
        "Vary": ["Origin"],
    }
    return response | {"multiValueHeaders": headers}
