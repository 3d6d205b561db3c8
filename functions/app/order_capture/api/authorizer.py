"""ApiAuthorizerFunction: API Gateway's Lambda REQUEST authorizer for the API's routes.

It resolves the request's API key to its merchant once; API Gateway caches the answer by the
key's header (``ReauthorizeEvery`` in template.yaml) and hands it to ApiFunction in
``requestContext.authorizer``, so ApiFunction reads no key item while the answer is cached.

A key we do not know is *allowed* with an empty ``merchant_id``: ApiFunction then answers the
dialect's own 401 body (Omnitron's ``authentication_failed``, Medusa's ``unauthorized``...),
which no gateway response can vary by route, without a lookup of its own. A request without the
header never reaches this function: API Gateway answers it with the ``UNAUTHORIZED`` gateway
response. The policy allows every route of the stage, since API Gateway applies a cached answer
to every route behind the same authorizer; the merchant, not the route, is what is authorized.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture.api.credentials import credentials_of
from order_capture.api.problems import dialect_of
from order_capture.config import settings
from order_capture.domain import merchant_api
from order_capture.observability import logger
from order_capture.ports import ApiKeyStore
from order_capture.wiring import lambda_entry

#: The key of ``requestContext.authorizer`` ApiFunction reads: the merchant, "" for no merchant.
MERCHANT_CONTEXT_KEY = "merchant_id"
#: principalId of an answer for a key we do not know (API Gateway requires one).
UNKNOWN_PRINCIPAL = "unknown-key"


def authorize(event: dict[str, Any], api_keys: ApiKeyStore) -> dict[str, Any]:
    """The authorizer's answer for one request: an Allow policy with the merchant in context."""
    request = APIGatewayAuthorizerRequestEvent(event)
    credentials = credentials_of(request.headers, dialect_of(request.path or "/"))
    merchant_id = None
    if credentials is not None and credentials.api_key:
        merchant_id = merchant_api.merchant_of(api_keys, credentials.api_key)
    if merchant_id is None:
        logger.info("unknown API key: the function answers 401")
    response = APIGatewayAuthorizerResponse.from_route_arn(
        request.method_arn,
        principal_id=merchant_id or UNKNOWN_PRINCIPAL,
        context={MERCHANT_CONTEXT_KEY: merchant_id or ""},
    )
    response.allow_all_routes()
    return response.asdict()


def authorized_merchant(event: dict[str, Any]) -> str | None:
    """What the authorizer resolved for a proxy event: the merchant, "" for a key it did not
    know, None when no authorizer ran (a direct invoke: the function looks the key up)."""
    context = (event.get("requestContext") or {}).get("authorizer") or {}
    value = context.get(MERCHANT_CONTEXT_KEY) if isinstance(context, dict) else None
    return str(value) if value is not None else None


@cache
def default_api_keys() -> ApiKeyStore:
    from order_capture.adapters.api_keys import DynamoDBApiKeyStore  # noqa: PLC0415

    return DynamoDBApiKeyStore(settings().table_name)


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorize(event, default_api_keys())
