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
or over-capture found before the workflow) and any other 5xx (retry later) are not stored, so
a client may fix its request, or retry it, with the same key.

An outcome left unknown (``CaptureOutcomeUnknownError`` 503, ``OutcomeUnknownNotRetryableError``
502) is neither: the request's capture or refund is in the ledger under the key, so the key is
bound to that request (a different request with it is 422 ``idempotency_key_reused``, never
answered with the first request's capture), yet its answer is not final: a retry of the same
request runs again and learns the outcome (the ledger and its key-derived ids keep it from
capturing or refunding twice). Before this, a different body with the key after a 503 got the
first capture's 503, then its 200, and the real retry 422 forever.
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
from order_capture.errors import (
    CaptureOutcomeUnknownError,
    OrderCaptureError,
    OutcomeUnknownNotRetryableError,
)

#: How long a response is replayed for a retried key.
IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60
REPLAYED_HEADER = "Idempotent-Replayed"
#: Errors after which the request's capture or refund is recorded under the key with its
#: outcome unknown: the key is bound to the request, its answer not final.
UNSETTLED_ERRORS = (CaptureOutcomeUnknownError, OutcomeUnknownNotRetryableError)


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
    #: False: the outcome was unknown (``UNSETTLED_ERRORS``); a retry runs the request again.
    final: bool = True

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
    unsettled: list[OrderCaptureError] = []

    def run(idempotent_request: dict[str, Any]) -> dict[str, Any]:
        try:
            return respond().to_record()
        except OrderCaptureError as error:
            refusal = _recorded_refusal(request, error)
            if refusal is not None:
                return refusal.to_record()
            if isinstance(error, UNSETTLED_ERRORS):
                # Bound to this request, answered by raising it below; not final.
                unsettled.append(error)
                return StoredResponse(status_code=503, final=False).to_record()
            raise  # not stored: the key stays free for a fixed request or a retry

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

    idempotent_request = {
        "merchant_id": request.merchant_id,
        "idempotency_key": idempotency_key,
        "request": request.fingerprint,
    }
    try:
        stored = _run_again_if_unsettled(request, run_once, idempotent_request)
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
    if not stored.final:
        raise _unsettled_error(unsettled)
    response_headers = dict(headers or {})
    if stored.replayed:
        response_headers[REPLAYED_HEADER] = "true"
    return _response(stored, response_headers)


def _run_again_if_unsettled(
    request: RequestContext,
    run_once: Callable[..., dict[str, Any]],
    idempotent_request: dict[str, Any],
) -> StoredResponse:
    """The key's stored response; for the same request after an unknown outcome, the request
    run again (its record bound the key to this request, it was not its answer)."""
    stored = StoredResponse.model_validate(run_once(idempotent_request=idempotent_request))
    if stored.final or not stored.replayed:
        return stored
    request.dependencies.idempotency_store.delete_record(
        data=idempotent_request, exception=CaptureOutcomeUnknownError("asked again")
    )
    return StoredResponse.model_validate(run_once(idempotent_request=idempotent_request))


def _unsettled_error(unsettled: list[OrderCaptureError]) -> OrderCaptureError:
    """The error of this call's unknown outcome, or (another request with the key ran it
    meanwhile) one that says to ask again."""
    if unsettled:
        return unsettled[-1]
    return CaptureOutcomeUnknownError(
        "Idempotency-Key: the outcome of the request with this key is not known yet; "
        "retry later with the same key",
        field="Idempotency-Key",
    )


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
