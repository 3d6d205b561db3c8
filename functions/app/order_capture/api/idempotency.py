"""Idempotency-Key on every POST and PUT, optional (as at Stripe), with Powertools Idempotency
on the ledger table.

A request without a key is simply run: it is a new request each time, and each route is safe
by its meaning (see README, Idempotency). When a key is sent, it is scoped to the merchant (two
merchants may pick the same key) and bound to the request's method, path, query and body: a
retry gets the first response again (with ``Idempotent-Replayed: true``), the same key on a
different request is refused.

What is stored follows Stripe ("results are only saved if an API endpoint started
executing"): a success, and a refusal recorded in the ledger under the request's own capture or
refund (a provider's decline, a refusal found by the capture workflow: ``error.recorded``) with
a 4xx status. That refusal is the key's answer from then on: the same request gets it again, a
corrected request with the same key is 422 ``idempotency_key_reused`` (never the old refusal
passed off as its answer). A refusal that wrote nothing (invalid, not found, nothing to capture
or over-capture found before the workflow) and any 5xx (retry later) are not stored, so a
client may fix its request, or retry it, with the same key.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from pydantic import BaseModel

from order_capture.api.context import RequestContext
from order_capture.api.problems import (
    IdempotencyInProgressError,
    IdempotencyKeyReusedError,
    dialect_of,
)
from order_capture.errors import OrderCaptureError

#: How long a response is replayed for a retried key.
IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60
REPLAYED_HEADER = "Idempotent-Replayed"


#: Bodies longer than this are stored compressed: the record is one DynamoDB item (400 KB at
#: most), and a 1,000-line order's response is larger than that as text.
COMPRESS_ABOVE = 32 * 1024


class StoredResponse(BaseModel):
    """What is stored under an Idempotency-Key: the response, body as the JSON text sent."""

    status_code: int
    body: str = ""
    #: A long body, gzip-compressed and base64-encoded (then ``body`` is empty).
    body_gzip: str | None = None
    replayed: bool = False

    def to_record(self) -> dict[str, Any]:
        """The record's data: a long body compressed."""
        if len(self.body) <= COMPRESS_ABOVE:
            return self.model_dump()
        packed = base64.b64encode(gzip.compress(self.body.encode(), mtime=0)).decode()
        return self.model_copy(update={"body": "", "body_gzip": packed}).model_dump()

    def text(self) -> str:
        if self.body_gzip is None:
            return self.body
        return gzip.decompress(base64.b64decode(self.body_gzip)).decode()


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "replayed": True}


def idempotent_response(
    request: RequestContext,
    idempotency_key: str | None,
    respond: Callable[[], StoredResponse],
    headers: dict[str, str] | None = None,
) -> Response[str]:
    """``respond()`` once per (merchant, Idempotency-Key); its stored response on retries.
    Without a key, ``respond()`` every time."""
    if idempotency_key is None:
        return _response(respond(), headers or {})
    config = IdempotencyConfig(
        event_key_jmespath="[merchant_id, idempotency_key]",
        payload_validation_jmespath="request",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
        response_hook=_mark_replayed,
    )
    config.register_lambda_context(request.lambda_context)

    def run(idempotent_request: dict[str, Any]) -> dict[str, Any]:
        try:
            return respond().to_record()
        except OrderCaptureError as error:
            refusal = _recorded_refusal(request, error)
            if refusal is None:
                raise  # not stored: the key stays free for a fixed request or a retry
            return refusal.to_record()

    run_once = cast(
        Callable[..., dict[str, Any]],
        idempotent_function(
            run,
            data_keyword_argument="idempotent_request",
            persistence_store=request.dependencies.idempotency_store,
            config=config,
            key_prefix="api",
        ),
    )

    try:
        stored = StoredResponse.model_validate(
            run_once(
                idempotent_request={
                    "merchant_id": request.merchant_id,
                    "idempotency_key": idempotency_key,
                    "request": request.fingerprint,
                }
            )
        )
    except IdempotencyValidationError:
        raise IdempotencyKeyReusedError(
            "Idempotency-Key: this key was already used for a different request (method, path "
            "or body); use a new key for a new request",
            field="Idempotency-Key",
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise IdempotencyInProgressError(
            "Idempotency-Key: the first request with this key is still in progress; retry later",
            field="Idempotency-Key",
        ) from None
    response_headers = dict(headers or {})
    if stored.replayed:
        response_headers[REPLAYED_HEADER] = "true"
    return _response(stored, response_headers)


def _recorded_refusal(request: RequestContext, error: OrderCaptureError) -> StoredResponse | None:
    """The dialect's answer to ``error`` if it is to be stored as the key's answer."""
    if not error.recorded:
        return None
    from order_capture.api.app import error_response  # noqa: PLC0415 - app imports the routes

    response = error_response(dialect_of(str(request.fingerprint.get("path") or "/")), error)
    if response.status_code >= 500 or not isinstance(response.body, str):
        return None
    return StoredResponse(status_code=response.status_code, body=response.body)


def _response(stored: StoredResponse, headers: dict[str, str]) -> Response[str]:
    return Response(
        status_code=stored.status_code,
        content_type="application/json",
        body=stored.text(),
        headers=headers,
    )
