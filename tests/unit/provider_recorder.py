"""A recording ``httpx.MockTransport`` for provider contract tests: it keeps every request the
adapter sends and answers with the queued responses (recorded shapes from the providers' docs)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

STRIPE_HOST = "api.stripe.com"


@dataclass
class Recorder:
    responses: list[httpx.Response | Exception] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def answer(self, status: int, body: Any = None, **headers: str) -> Recorder:
        content = b"" if body is None else json.dumps(body).encode()
        self.responses.append(
            httpx.Response(
                status, content=content, headers={"Content-Type": "application/json", **headers}
            )
        )
        return self

    def fail(self, error: Exception) -> Recorder:
        self.responses.append(error)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        if (
            request.url.host == STRIPE_HOST
            and response.content
            and response.headers.get("Content-Type") == "application/json"
        ):
            # Every answer played as Stripe's is one Stripe documents (its spec3); a broken
            # answer played on purpose (not JSON) is not one of Stripe's shapes.
            from tests.unit.provider_specs import validate_stripe_response

            validate_stripe_response(request, response.status_code, json.loads(response.content))
        return response

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def json_body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def form_body(request: httpx.Request) -> dict[str, str]:
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))
