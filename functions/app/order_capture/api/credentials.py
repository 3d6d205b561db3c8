"""Where each dialect's request carries its API key, read the same way by the API Gateway
authorizer (``api/authorizer.py``) and by ApiFunction (``api/app.py``).

Native (Aplazame's seed 003) and Medusa send ``Authorization: Bearer <key>``, Omnitron (seed
004) ``Authorization: Token <key>``, and medusa-js sends its ``apiKey`` as
``x-medusa-access-token: <key>``. The authorizer resolves the key whatever the scheme (API
Gateway caches its answer by the header's whole value, for every route behind the same
authorizer); the function checks the scheme its dialect takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from order_capture.api.problems import Dialect

#: Authorization scheme per dialect, as each seed API defines it.
AUTH_SCHEME = {Dialect.NATIVE: "Bearer", Dialect.MEDUSA: "Bearer", Dialect.OMNITRON: "Token"}
AUTHORIZATION_HEADER = "Authorization"
#: Medusa v1's admin API token header; Medusa routes take it as well as `Authorization: Bearer`.
MEDUSA_TOKEN_HEADER = "x-medusa-access-token"  # noqa: S105  # a header name, not a secret


@dataclass(frozen=True)
class Credentials:
    """The API key a request presents, and how."""

    header: str
    #: The scheme before the key in ``Authorization``; None for Medusa's token header.
    scheme: str | None
    api_key: str

    def scheme_is(self, expected: str) -> bool:
        return self.scheme is None or self.scheme.lower() == expected.lower()


def header_value(headers: Mapping[str, object] | None, name: str) -> str | None:
    """A header's value, its name matched case-insensitively (as HTTP does)."""
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value) if value is not None else None
    return None


def credentials_of(headers: Mapping[str, object] | None, dialect: Dialect) -> Credentials | None:
    """The key of a request in ``dialect``; None when it sends none."""
    if dialect is Dialect.MEDUSA:
        # What medusa-js sends for its `apiKey` (with a session's `Authorization: Bearer
        # <JWT>` beside it in a browser that logged in): it wins.
        token = header_value(headers, MEDUSA_TOKEN_HEADER)
        if token is not None:
            return Credentials(MEDUSA_TOKEN_HEADER, None, token.strip())
    authorization = header_value(headers, AUTHORIZATION_HEADER)
    if not authorization:
        return None
    scheme, _, api_key = authorization.strip().partition(" ")
    return Credentials(AUTHORIZATION_HEADER, scheme, api_key.strip())
