"""The API's Powertools resolver, with its per-request state kept per thread.

Powertools keeps the request being resolved in the resolver (``context``, ``current_event``,
``lambda_context``; ``current_event`` even on the ``BaseRouter`` class). Lambda runs one request
per execution environment at a time, so on AWS that is safe; the local API server
(``order-capture local start-api``) serves requests in threads, and there two requests in flight
overwrote each other's route arguments (502 ``KeyError '_route_args'``) or validation errors.
Here each thread has its own request state, as each Lambda execution environment has its own:
the same approach as Powertools' ``HttpResolverLocal`` (its state per ContextVar).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, cast

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext


class _RequestState(threading.local):
    """One thread's request: what Powertools stores on the resolver while it resolves."""

    def __init__(self) -> None:
        self.context: dict[str, Any] = {}
        self.event: APIGatewayProxyEvent | None = None
        self.lambda_context: LambdaContext | None = None
        self.processed_stack_frames: list[str] = []


class PerRequestRestResolver(APIGatewayRestResolver):
    """``APIGatewayRestResolver`` whose request state belongs to the calling thread."""

    def __init__(self, **options: Any) -> None:
        self._request_state = _RequestState()
        super().__init__(**options)

    # Powertools declares these as plain attributes; properties keep that interface while
    # giving each thread its own value.
    @property
    def context(self) -> dict[str, Any]:
        return self._request_state.context

    @context.setter
    def context(self, value: dict[str, Any]) -> None:
        self._request_state.context = value

    @property  # type: ignore[override]
    def current_event(self) -> APIGatewayProxyEvent:
        event = self._request_state.event
        if event is None:
            raise RuntimeError("no request is being resolved on this thread")
        return event

    @current_event.setter
    def current_event(self, value: APIGatewayProxyEvent) -> None:
        self._request_state.event = value

    @property
    def lambda_context(self) -> LambdaContext:
        return cast(LambdaContext, self._request_state.lambda_context)

    @lambda_context.setter
    def lambda_context(self, value: LambdaContext) -> None:
        self._request_state.lambda_context = value

    @property
    def processed_stack_frames(self) -> list[str]:
        return self._request_state.processed_stack_frames

    @processed_stack_frames.setter
    def processed_stack_frames(self, value: list[str]) -> None:
        self._request_state.processed_stack_frames = value

    def _to_proxy_event(self, event: dict[str, Any]) -> APIGatewayProxyEvent:
        # resolve() hands the proxy event to BaseRouter (a class attribute, shared by every
        # thread); this thread keeps its own.
        proxy = cast(APIGatewayProxyEvent, super()._to_proxy_event(event))
        self._request_state.event = proxy
        return proxy

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        self._request_state.lambda_context = context
        return super().resolve(event, context)
