"""The HTTP plumbing every payment-provider adapter shares: one lazily created httpx client with
a timeout on every call, and one mapping from transport failures and HTTP status codes to the
service's provider errors.

Adapters differ only in what a 4xx body means; they pass a ``classify`` function for that and
fall back on the common mapping here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

import httpx

from order_capture import tracing
from order_capture.errors import (
    CaptureOutcomeUnknownError,
    OutcomeUnknownNotRetryableError,
    ProviderDeclinedError,
    ProviderError,
    ProviderNotConfiguredError,
    ProviderUnavailableError,
)
from order_capture.observability import logger

#: Turns a provider's error answer (status, parsed body) into a specific error, or None to use
#: the common mapping.
ErrorClassifier = Callable[[int, dict[str, Any]], ProviderError | None]

#: Provider bodies end up in error messages (ledger, events, logs): keep them short.
MAX_ERROR_TEXT = 300
#: The per-call header that carries our idempotency key (sandbox, Stripe, Adyen).
IDEMPOTENCY_HEADER = "Idempotency-Key"
# httpx logs every request at INFO too (with the full URL): the call is logged once, below.
logging.getLogger("httpx").setLevel(logging.WARNING)


def no_specific_errors(status: int, body: dict[str, Any]) -> ProviderError | None:
    return None


class ProviderHttp:
    """An httpx client for one provider and one set of credentials.

    ``headers`` carry the credentials: they are sent, never logged nor put in error messages.
    ``retry_header``: for providers that store a 5xx as the final answer of an idempotency key
    (Stripe, Adyen), the response header that says "true" when the write may be sent again
    (``Stripe-Should-Retry``, Adyen's ``Transient-Error``); without it, a 5xx to a write is an
    unknown outcome that asking again cannot settle.
    ``transport`` lets tests plug in ``httpx.MockTransport``.
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        headers: Mapping[str, str],
        timeout_seconds: float,
        classify: ErrorClassifier = no_specific_errors,
        retry_header: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self.timeout_seconds = timeout_seconds
        self._classify = classify
        self._retry_header = retry_header
        self._transport = transport

    @cached_property
    def client(self) -> httpx.Client:
        """Created on first use: steps that never call the provider never pay for it."""
        return httpx.Client(
            base_url=self.base_url,
            headers=self._headers,
            timeout=httpx.Timeout(self.timeout_seconds),
            transport=self._transport,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one request and return its JSON object body (``{}`` for an empty body).

        ``idempotent``: repeating the call cannot do the thing twice (a GET, or a POST with an
        idempotency key). A non-idempotent call that may have reached the provider and got no
        clear answer raises CaptureOutcomeUnknownError rather than ProviderUnavailableError.
        """
        started = time.perf_counter()
        status: int | None = None
        try:
            with tracing.subsegment(
                self.provider,
                namespace="remote",
                provider=self.provider,
                operation=f"{method} {path}",
            ) as traced:
                try:
                    response = self.client.request(
                        method, path, json=json, data=data, params=params, headers=headers
                    )
                except httpx.TransportError as error:
                    raise self._transport_error(
                        method, path, error, idempotent=idempotent
                    ) from error
                status = response.status_code
                if traced is not None:
                    traced.http_status = status
            answer = self._answer(response, method=method, path=path, idempotent=idempotent)
        except ProviderError as error:
            self._log_call(
                method, path, headers=headers, status=status, error=error, started=started
            )
            raise
        self._log_call(method, path, headers=headers, status=status, error=None, started=started)
        return answer

    def _answer(
        self, response: httpx.Response, *, method: str, path: str, idempotent: bool
    ) -> dict[str, Any]:
        if not response.is_success:
            raise self.error_for(response, method=method, idempotent=idempotent)
        try:
            return _json_object(response)
        except ValueError as error:
            # It said yes, but not in a way we can read: for a write we cannot tell what it did.
            summary = f"{self.provider} {method} {path}: unreadable answer: {_short(response.text)}"
            if method == "GET":
                raise ProviderUnavailableError(summary) from error
            raise _outcome_unknown(summary, idempotent=idempotent) from error

    def _log_call(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None,
        status: int | None,
        error: ProviderError | None,
        started: float,
    ) -> None:
        """One INFO line per provider call: what was asked, what came back, how it is read
        (the outcome class is the error the call raised, which says what it proves: never
        sent, sent without an answer, refused...). Never the credentials: they are in the
        client's headers, which are not looked at here."""
        logger.info(
            "provider call",
            extra={
                "provider": self.provider,
                "operation": f"{method} {path}",
                "idempotency_key": (headers or {}).get(IDEMPOTENCY_HEADER),
                "http_status": status,
                "outcome": "succeeded" if error is None else type(error).__name__,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )

    def _transport_error(
        self, method: str, path: str, error: httpx.TransportError, *, idempotent: bool
    ) -> ProviderError:
        where = f"{self.provider} {method} {path}"
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            # The request never left this process: nothing can have happened.
            return ProviderUnavailableError(f"{where}: provider unreachable ({error!r})")
        if method == "GET":
            # A read that timed out changed nothing: retry it like any unavailability.
            return ProviderUnavailableError(f"{where}: no answer ({error!r})")
        return _outcome_unknown(
            f"{where}: sent, but no answer within {self.timeout_seconds}s ({error!r})",
            idempotent=idempotent,
        )

    def error_for(
        self, response: httpx.Response, *, method: str, idempotent: bool
    ) -> ProviderError:
        status = response.status_code
        try:
            body = _json_object(response)
        except ValueError:
            body = {}
        specific = self._classify(status, body)
        if specific is not None:
            specific.provider_body = body
            return specific
        message = (
            f"{self.provider} {method} {response.request.url.path} answered {status}: "
            f"{_short(response.text)}"
        )
        if status in {401, 403}:
            return ProviderNotConfiguredError(f"credentials refused: {message}")
        if status == 429:
            return ProviderUnavailableError(message)  # rate limited: refused before acting
        if status == 408 or status >= 500:
            return self._server_error(response, message, method=method, idempotent=idempotent)
        return ProviderDeclinedError(message)

    def _server_error(
        self, response: httpx.Response, message: str, *, method: str, idempotent: bool
    ) -> ProviderError:
        if method == "GET":
            return ProviderUnavailableError(message)  # a read changed nothing
        if self._retry_header is not None and response.status_code >= 500:
            if response.headers.get(self._retry_header, "").lower() == "true":
                return ProviderUnavailableError(f"{message} ({self._retry_header}: true)")
            # The provider keeps this answer for the key: a retry gets it again, and whether
            # the write happened is for a lookup or the provider's webhook to tell.
            return OutcomeUnknownNotRetryableError(message)
        if response.status_code == 503 or idempotent:
            # Maintenance refuses before acting; with an idempotency key a retry is safe.
            return ProviderUnavailableError(message)
        # No idempotency key: the provider may have acted before failing.
        return _outcome_unknown(message, idempotent=False)


def _outcome_unknown(message: str, *, idempotent: bool) -> ProviderError:
    """A write that may have happened: retryable only if repeating it cannot do it twice."""
    if idempotent:
        return CaptureOutcomeUnknownError(message)
    return OutcomeUnknownNotRetryableError(message)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The body as a JSON object; ValueError if it is something else."""
    if not response.content:
        return {}
    payload = response.json()
    if not isinstance(payload, dict):
        raise ValueError("the answer is not a JSON object")
    return payload


def _short(text: str) -> str:
    return text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + "..."
