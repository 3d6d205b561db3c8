"""What can go wrong with an API request, independent of the dialect that reports it.

The API's own errors join the service's one hierarchy (``order_capture.errors``); each dialect
module maps an error class to its status code and body. :func:`problem_from` turns any error
into a :class:`Problem`, the dialect-neutral description the dialects render.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from order_capture import errors
from order_capture.api.common import IDENTIFIER_PATTERN
from order_capture.errors import InvalidEventError, InvalidStateError, OrderCaptureError
from order_capture.models.base import MAX_ID_LENGTH
from order_capture.parsing import field_path


class Dialect(StrEnum):
    NATIVE = "native"
    MEDUSA = "medusa"
    OMNITRON = "omnitron"


def dialect_of(path: str) -> Dialect:
    """Which dialect a request path speaks (the routes of each dialect have their own prefix)."""
    if path.startswith("/admin/"):
        return Dialect.MEDUSA
    if path.startswith("/api/"):
        return Dialect.OMNITRON
    return Dialect.NATIVE


#: The path parameters that are ids (``common.OrderIdPath``, Medusa's ``id``,
#: ``native.CaptureIdPath``), and what each must be.
ID_PARAMETERS = frozenset({"order_id", "id", "capture_id"})
ID_RULE = (
    "1 to 128 characters, each a letter A-Z or a-z, a digit, '.', '_', ':' or '-', "
    "the first a letter or digit"
)


def _is_id(value: str) -> bool:
    return len(value) <= MAX_ID_LENGTH and re.fullmatch(IDENTIFIER_PATTERN, value) is not None


def odd_id_in_path(
    resource: str | None, parameters: Mapping[str, str] | None
) -> InvalidEventError | None:
    """The error naming an id in the path that its route could not take (characters the
    resolver's route patterns do not match: an emoji, a control character, a quote), where
    API Gateway matched the route (``resource``) and passed the ids (``parameters``); None
    for a path that is no route of ours. Such an id can be no valid id, so the answer is
    the route's own 400 naming the parameter, not "no route"."""
    if not resource or not parameters:
        return None
    for name in re.findall(r"{(\w+)}", resource):
        value = parameters.get(name)
        if name in ID_PARAMETERS and value is not None and not _is_id(value):
            return InvalidEventError(f"{name}: not an id; an id is {ID_RULE}", field=name)
    return None


# --- The API's own errors ---------------------------------------------------------------------


class UnauthorizedError(OrderCaptureError):
    """No API key, a malformed Authorization header, or a key we do not know; for a
    provider's webhook, a missing or invalid signature (``field`` names where it goes)."""

    reason = "unauthorized"

    def __init__(
        self, message: str, *, credentials_given: bool, field: str = "Authorization"
    ) -> None:
        super().__init__(message, field=field)
        self.credentials_given = credentials_given


class PayloadTooLargeError(InvalidEventError):
    reason = "payload_too_large"


class UnsupportedMediaTypeError(InvalidEventError):
    reason = "unsupported_media_type"


class RouteNotFoundError(OrderCaptureError):
    reason = "route_not_found"


class MalformedJsonError(InvalidEventError):
    """The body is not JSON (Django REST framework's ParseError)."""

    reason = "parse_error"


class NotAllowedError(InvalidEventError):
    """A request the order's state forbids for good, where the dialect answers 400 (Medusa's
    ``not_allowed``: "A canceled order cannot capture payment")."""

    reason = "not_allowed"


class IdempotencyKeyReusedError(InvalidEventError):
    """The Idempotency-Key was used before for a different request (method, path or body)."""

    reason = "idempotency_key_reused"


class IdempotencyInProgressError(InvalidStateError):
    """The first request with this Idempotency-Key is still running."""

    reason = "idempotency_in_progress"


# --- The neutral description ------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    error: OrderCaptureError
    status: int

    @property
    def reason(self) -> str:
        return self.error.reason

    @property
    def message(self) -> str:
        return self.error.message

    @property
    def field(self) -> str | None:
        return self.error.field


def invalid_request_from(validation_errors: list[dict[str, Any]]) -> InvalidEventError:
    """Powertools' request validation errors as one InvalidEventError naming the first field
    (and, in its ``fields``, every one).

    Locations come as ``("body", "items", 0, "quantity")``, ``("header", "idempotency-key")``
    or ``("body", 17)`` for malformed JSON at character 17.
    """
    problems = []
    malformed = False
    for detail in validation_errors:
        location = tuple(detail.get("loc", ()))
        source, rest = (location[0], location[1:]) if location else ("body", ())
        if detail.get("type") == "json_invalid":
            malformed = True
            context = detail.get("ctx") or {}
            problems.append(
                ("body", f"body: malformed JSON ({context.get('error', 'decode error')})")
            )
            continue
        if source == "header" and rest:
            name = "-".join(part.capitalize() for part in str(rest[0]).split("-"))
            problems.append((name, f"{name} header: {detail.get('msg')}"))
            continue
        path = field_path(tuple(rest)) if rest else str(source)
        problems.append((path, f"{path}: {detail.get('msg')}"))
    if not problems:
        return InvalidEventError("the request is invalid", field="(root)")
    error_class = MalformedJsonError if malformed else InvalidEventError
    return error_class(
        "; ".join(text for _, text in problems), field=problems[0][0], fields=tuple(problems)
    )


#: HTTP status per error for the native and Omnitron dialects (Medusa maps its own).
STATUS_BY_ERROR: dict[type[errors.OrderCaptureError], int] = {
    errors.InvalidEventError: 400,
    UnauthorizedError: 401,
    errors.ProviderDeclinedError: 402,
    errors.OrderNotFoundError: 404,
    RouteNotFoundError: 404,
    errors.InvalidStateError: 409,
    errors.AuthorizationExpiredError: 409,
    # Released by reconciliation or an operator, nothing captured: final for its key (its
    # units are capturable again under a new one), never a 5xx that asks to retry forever.
    errors.CaptureNotFoundAtProviderError: 409,
    PayloadTooLargeError: 413,
    UnsupportedMediaTypeError: 415,
    errors.OverCaptureError: 422,
    errors.OverRefundError: 422,
    IdempotencyKeyReusedError: 422,
    errors.ProviderError: 502,
    errors.OrderChangedError: 503,
    errors.ProviderUnavailableError: 503,
    errors.CaptureOutcomeUnknownError: 503,
    errors.LedgerUnavailableError: 503,
    errors.CaptureNotYetRecordedError: 503,
}
