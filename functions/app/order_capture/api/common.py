"""Pieces every dialect's routes share: parameter types, error status lookup, JSON bodies."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from pydantic import BaseModel, ConfigDict

from order_capture.errors import OrderCaptureError

#: How deep a request body's arrays and objects may nest: far more than any body of ours
#: needs, far less than Python's recursion limit, past which the body parser raises
#: RecursionError (a 502) instead of answering.
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")

IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"

OrderIdPath = Annotated[
    str, Path(pattern=IDENTIFIER_PATTERN, min_length=1, max_length=128, description="Order ID.")
]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Optional, as at Stripe. Sent: a retry with the same key gets the first "
        "response and never acts twice. Not sent: the request is a new one (see each route).",
    ),
]


class ApiModel(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    # Built on first use (see models.Model): each route builds only its own models.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)


def status_for(error: OrderCaptureError, statuses: Mapping[type[OrderCaptureError], int]) -> int:
    """The status of the most specific class of ``error`` in ``statuses`` (500 if none)."""
    for error_class in type(error).__mro__:
        if error_class in statuses:
            return statuses[error_class]
    return 500


def json_text(model: BaseModel | Mapping[str, Any]) -> str:
    if isinstance(model, BaseModel):
        return model.model_dump_json()
    return json.dumps(model, separators=(",", ":"))


def json_depth(text: str) -> int:
    """How deep ``text``'s arrays and objects nest (brackets inside strings not counted),
    counted without parsing it: a parser would recurse once per level."""
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest
