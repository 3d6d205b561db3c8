"""ApiFunction: one Powertools resolver serving the three dialects (see the package doc).

``handle`` is the request's gatekeeper before routing: body size, content type and the API key
(in the dialect's scheme) are checked first, so an unauthenticated request learns nothing about
routes or bodies. Errors of any kind become the dialect's error response, through one
exception handler per kind.
"""

from __future__ import annotations

import base64
import importlib
import json
import threading
from functools import cache
from types import ModuleType
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_capture.api import cors, json_numbers
from order_capture.api.authorizer import authorized_merchant
from order_capture.api.common import MAX_JSON_DEPTH, json_depth, status_for
from order_capture.api.context import REQUEST_CONTEXT_KEY, ApiDependencies, RequestContext
from order_capture.api.credentials import (
    AUTH_SCHEME,
    MEDUSA_TOKEN_HEADER,
    credentials_of,
    header_value,
)
from order_capture.api.problems import (
    Dialect,
    PayloadTooLargeError,
    Problem,
    RouteNotFoundError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    dialect_of,
    invalid_request_from,
    odd_id_in_path,
)
from order_capture.api.resolver import PerRequestRestResolver
from order_capture.config import settings
from order_capture.domain import merchant_api
from order_capture.errors import InvalidEventError, OrderCaptureError
from order_capture.observability import logger
from order_capture.ports import SystemClock, WorkflowStarter
from order_capture.wiring import default_repository, lambda_entry

#: Requests above this are refused before parsing (API Gateway would allow 10 MB).
MAX_BODY_BYTES = 256 * 1024
JSON_MEDIA_TYPES = ("application/json", "application/vnd.aplazame.v1+json")
SWAGGER_PATH = "/swagger"
OPENAPI_PATH = "/openapi.json"
#: Every answer of Aplazame's API names its version (seed 003).
APLAZAME_MEDIA_TYPE_HEADER = "X-Aplazame-Media-Type"
APLAZAME_MEDIA_TYPE = "aplazame.v1"

#: The dialects' routes, each module loaded (and its routes registered) by the first request
#: whose path starts with its prefix, so a cold request pays for its own dialect only
#: (BENCHMARKS.md, cold start). First match wins; ``/webhooks/`` loads both webhook modules
#: since ``/webhooks/<provider>`` also matches Stripe's static route, which takes precedence.
WEBHOOKS_PREFIX = "/webhooks/"
ROUTE_MODULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("/admin/", ("medusa",)),
    ("/api/", ("omnitron",)),
    (WEBHOOKS_PREFIX, ("stripe_webhook", "webhooks")),
    ("/", ("native",)),
)
#: Every route module, in the order the OpenAPI document lists them.
DOCUMENT_ORDER = ("native", "medusa", "omnitron", "stripe_webhook", "webhooks")
_DIALECT_MODULES = {
    Dialect.NATIVE: "native",
    Dialect.MEDUSA: "medusa",
    Dialect.OMNITRON: "omnitron",
}

app = PerRequestRestResolver(enable_validation=True)
_included: set[str] = set()
#: The local API serves requests in threads: each module's routes are registered once.
_including = threading.Lock()


def route_module(name: str) -> ModuleType:
    return importlib.import_module(f"order_capture.api.{name}")


def refuse_a_provider_without_webhooks(path: str) -> None:
    """A webhook call for a provider without a webhook route is 404 before anything in it is
    checked, as any unknown route (its body was a validation error of a route not there). Both
    webhook modules are loaded for every ``/webhooks/`` path anyway."""
    provider = path.removeprefix(WEBHOOKS_PREFIX).split("/", 1)[0]
    stripe_provider = route_module("stripe_webhook").PATH.removeprefix(WEBHOOKS_PREFIX)
    if provider not in route_module("webhooks").ADYEN_FORMAT_PROVIDERS | {stripe_provider}:
        raise RouteNotFoundError(f"no webhooks for provider {provider!r}", field="provider")


def include_routes_for(path: str) -> None:
    """Register on ``app`` the routes of the modules that serve ``path``, once."""
    names = next((names for prefix, names in ROUTE_MODULES if path.startswith(prefix)), ("native",))
    with _including:
        for name in names:
            if name not in _included:
                app.include_router(route_module(name).router)
                _included.add(name)


@cache
def document_resolver() -> PerRequestRestResolver:
    """Every route, in the document's order, with the OpenAPI document's configuration and
    the Swagger UI route: the resolver that serves ``/openapi.json`` and ``/swagger``.
    Kept apart from ``app`` because Powertools' OpenAPI models cost more than a cold start's
    whole baseline to import and no capture needs them."""
    from aws_lambda_powertools.event_handler.openapi.models import (  # noqa: PLC0415
        APIKey,
        APIKeyIn,
        HTTPBearer,
    )

    resolver = PerRequestRestResolver(enable_validation=True)
    for name in DOCUMENT_ORDER:
        router = route_module(name).router
        # Including a router points its request state at the resolver: the routes keep
        # reading ``app``'s (or, not yet included there, their own).
        serving = router.api_resolver
        resolver.include_router(router)
        router.api_resolver = serving
    resolver.configure_openapi(
        title="order-capture API",
        version="1.0.0",
        summary="Captures of authorized payments in the Aplazame, Medusa and Omnitron dialects.",
        description="Amounts are integers in the currency's minor units, except Omnitron's "
        "decimal amounts. Every POST and PUT takes an optional `Idempotency-Key` header: sent, "
        "a retry with it gets the first response; not sent, each route is safe by its meaning "
        "(see each route).",
        security_schemes={
            "bearer": HTTPBearer(description="`Authorization: Bearer <API key>` (native, Medusa)"),
            "medusa_token": APIKey(
                name=MEDUSA_TOKEN_HEADER,
                in_=APIKeyIn.header,
                description="`x-medusa-access-token: <API key>` (Medusa; what medusa-js sends)",
            ),
            "token": APIKey(
                name="Authorization",
                in_=APIKeyIn.header,
                description="`Authorization: Token <API key>` (Omnitron)",
            ),
        },
    )
    resolver.enable_swagger(path=SWAGGER_PATH)
    return resolver


def openapi_json_schema() -> str:
    """The API's OpenAPI document (docs/openapi.json)."""
    return document_resolver().get_openapi_json_schema()


# --- Errors -> the dialect's response ----------------------------------------------------------


def error_response(dialect: Dialect, error: OrderCaptureError) -> Response[str]:
    module = route_module(_DIALECT_MODULES[dialect])
    problem = Problem(error=error, status=status_for(error, module.STATUS_BY_ERROR))
    headers = {}
    if isinstance(error, UnauthorizedError):
        headers["WWW-Authenticate"] = AUTH_SCHEME[dialect]
    if problem.status >= 500:
        logger.warning("request failed", extra={"reason": error.reason})
    return Response(
        status_code=problem.status,
        content_type="application/json",
        body=json.dumps(module.error_body(problem)),
        headers=headers,
    )


def _current_dialect() -> Dialect:
    return dialect_of(app.current_event.path)


def _domain_error(error: OrderCaptureError) -> Response[str]:
    return error_response(_current_dialect(), error)


def _invalid_request(error: RequestValidationError) -> Response[str]:
    return error_response(_current_dialect(), invalid_request_from(list(error.errors())))


def _route_not_found(_: NotFoundError) -> Response[str]:
    event = app.current_event
    odd_id = odd_id_in_path(event.resource, event.path_parameters)
    return error_response(
        _current_dialect(),
        odd_id or RouteNotFoundError(f"no route {event.http_method} {event.path}", field="path"),
    )


app.exception_handler(OrderCaptureError)(_domain_error)
app.exception_handler(RequestValidationError)(_invalid_request)
app.not_found(_route_not_found)


# --- The gate: size, content type, API key -----------------------------------------------------


def _header(event: dict[str, Any], name: str) -> str | None:
    return header_value(event.get("headers"), name)


def _check_body(event: dict[str, Any]) -> None:
    body = event.get("body")
    if not body:
        return
    # The limit is in bytes: a character of text may take up to 4 of them in UTF-8.
    size = len(body) if event.get("isBase64Encoded") else len(body.encode(errors="surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise PayloadTooLargeError(
            f"body: {size} bytes is over the limit of {MAX_BODY_BYTES}", field="body"
        )
    text = body
    if event.get("isBase64Encoded"):
        try:
            text = base64.b64decode(body, validate=True).decode()
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            raise InvalidEventError("body: not UTF-8 text", field="body") from None
    media_type = (_header(event, "Content-Type") or "").split(";")[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaTypeError(
            f"Content-Type: {media_type or 'none'} is not supported; send "
            f"{' or '.join(JSON_MEDIA_TYPES)}",
            field="Content-Type",
        )
    if (depth := json_depth(text)) > MAX_JSON_DEPTH:
        raise InvalidEventError(
            f"body: JSON nested {depth} levels deep; at most {MAX_JSON_DEPTH}", field="body"
        )
    _check_is_an_object(text)


def _check_is_an_object(text: str) -> None:
    """Every route's body is a JSON object, its numbers ones every parser of ours reads
    (``json_numbers``). Another JSON value would reach the resolver, which reads a list as
    an object missing every field ("order: Field required")."""
    try:
        value = json_numbers.loads(text)
    except ValueError:
        return  # malformed JSON: the resolver names where
    if isinstance(value, dict):
        found = json_numbers.refused_number(value)
        if found is None:
            return
        field, why = found
        raise InvalidEventError(f"{field}: {why}", field=field)
    kind = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
    raise InvalidEventError(
        f"body: Invalid data. Expected a JSON object, but got {kind}", field="body"
    )


def _authenticate(event: dict[str, Any], dialect: Dialect, dependencies: ApiDependencies) -> str:
    """The merchant of the request's API key. The key itself never reaches a log line.

    Behind API Gateway the authorizer resolved the key already (``requestContext.authorizer``,
    cached by API Gateway): no lookup here. Without one (a direct invoke) the key is looked up.
    """
    scheme = AUTH_SCHEME[dialect]
    credentials = credentials_of(event.get("headers"), dialect)
    if credentials is None:
        raise UnauthorizedError(
            f"Authorization: send `Authorization: {scheme} <API key>`", credentials_given=False
        )
    resolved = authorized_merchant(event)
    merchant_id = None
    if credentials.scheme_is(scheme) and credentials.api_key:
        merchant_id = (
            merchant_api.merchant_of(dependencies.api_keys, credentials.api_key)
            if resolved is None
            else resolved or None
        )
    if merchant_id is not None:
        return merchant_id
    if credentials.header == MEDUSA_TOKEN_HEADER:
        raise UnauthorizedError(
            f"{MEDUSA_TOKEN_HEADER}: not a valid API key", credentials_given=True
        )
    raise UnauthorizedError(
        f"Authorization: not a valid `{scheme} <API key>`", credentials_given=True
    )


def _normalized(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its JSON media type spelled ``application/json``, which is the only
    spelling the resolver's body parser understands: Aplazame's, and any other case (media
    types are case-insensitive, RFC 9110 8.3.1; ``_check_body`` accepted it already)."""
    media_type = _header(event, "Content-Type")
    if media_type is None or media_type == "application/json":
        return event
    if media_type.split(";")[0].strip().lower() not in JSON_MEDIA_TYPES:
        return event
    headers = {k: v for k, v in event["headers"].items() if k.lower() != "content-type"}
    multi = {
        k: v
        for k, v in (event.get("multiValueHeaders") or {}).items()
        if k.lower() != "content-type"
    }
    headers["Content-Type"] = "application/json"
    multi["Content-Type"] = ["application/json"]
    return event | {"headers": headers, "multiValueHeaders": multi}


def _proxy_response(response: Response[str]) -> dict[str, Any]:
    """An API Gateway proxy response for a request refused before routing."""
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.items():
        headers[name] = value if isinstance(value, list) else [value]
    return {
        "statusCode": response.status_code,
        "multiValueHeaders": headers,
        "body": response.body,
        "isBase64Encoded": False,
    }


def _fingerprint(event: dict[str, Any]) -> dict[str, Any]:
    body = event.get("body") or None
    try:
        parsed_body = json.loads(body) if body else None
    except ValueError:
        parsed_body = body
    return {
        "method": event.get("httpMethod"),
        "path": event.get("path"),
        "query": event.get("queryStringParameters") or {},
        "body": parsed_body,
    }


def handle(
    event: dict[str, Any],
    context: LambdaContext,
    dependencies: ApiDependencies | None = None,
) -> dict[str, Any]:
    """Authenticate and check the request, then route it."""
    path = str(event.get("path") or "/")
    origins = settings().cors_allowed_origins
    if event.get("httpMethod") == "OPTIONS":
        return cors.preflight(event, origins)
    if event.get("httpMethod") == "GET" and path == SWAGGER_PATH:
        return document_resolver().resolve(event, context)
    if event.get("httpMethod") == "GET" and path == OPENAPI_PATH:
        return cors.with_cors_headers(_openapi_document(event), event, origins)
    response = _with_dialect_headers(_handle(event, context, path, dependencies), path)
    return cors.with_cors_headers(response, event, origins)


def _handle(
    event: dict[str, Any],
    context: LambdaContext,
    path: str,
    dependencies: ApiDependencies | None,
) -> dict[str, Any]:
    dialect = dialect_of(path)
    dependencies = dependencies or default_dependencies()
    try:
        _check_body(event)
        # A provider's webhook has no API key: it proves itself by the signature of every
        # notification, which the webhook route checks (api/webhooks.py).
        is_webhook = path.startswith(WEBHOOKS_PREFIX)
        if is_webhook:
            refuse_a_provider_without_webhooks(path)
        merchant_id = "" if is_webhook else _authenticate(event, dialect, dependencies)
    except OrderCaptureError as error:
        return _proxy_response(error_response(dialect, error))
    if merchant_id:
        logger.append_keys(merchant_id=merchant_id)
    app.context[REQUEST_CONTEXT_KEY] = RequestContext(
        merchant_id=merchant_id,
        dependencies=dependencies,
        lambda_context=context,
        fingerprint=_fingerprint(event),
    )
    include_routes_for(path)
    return app.resolve(_normalized(event), context)


def _openapi_document(event: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document, its server the base path it is served under: ``/v1`` on the
    stage's own URL, ``/`` behind a custom domain or locally (as Powertools' Swagger UI)."""
    context = event.get("requestContext") or {}
    stage = str(context.get("stage") or "")
    served_under_stage = stage not in {"", "$default"} and str(
        context.get("path") or ""
    ).startswith(f"/{stage}/")
    document = json.loads(openapi_json_schema())
    document["servers"] = [{"url": f"/{stage}" if served_under_stage else "/"}]
    return {
        "statusCode": 200,
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "body": json.dumps(document),
        "isBase64Encoded": False,
    }


def _with_dialect_headers(response: dict[str, Any], path: str) -> dict[str, Any]:
    """Headers a dialect's clients expect on every answer: Aplazame's media type (seed 003)."""
    if dialect_of(path) is not Dialect.NATIVE or path.startswith(WEBHOOKS_PREFIX):
        return response
    headers = dict(response.get("multiValueHeaders") or {})
    headers[APLAZAME_MEDIA_TYPE_HEADER] = [APLAZAME_MEDIA_TYPE]
    return response | {"multiValueHeaders": headers}


# --- Wiring --------------------------------------------------------------------------------------

_installed_workflow: list[WorkflowStarter] = []


def install_workflow_starter(workflow: WorkflowStarter | None) -> None:
    """Replace the StartSyncExecution adapter. The local runtime does (moto has no
    StartSyncExecution); on AWS nothing calls this."""
    _installed_workflow.clear()
    if workflow is not None:
        _installed_workflow.append(workflow)
    default_dependencies.cache_clear()


@cache
def default_dependencies() -> ApiDependencies:
    """Collaborators for Lambda, built on the first request (not at import)."""
    from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415
        DynamoDBPersistenceLayer,
    )

    from order_capture.adapters.api_keys import DynamoDBApiKeyStore  # noqa: PLC0415
    from order_capture.adapters.eventbridge import EventBridgePublisher  # noqa: PLC0415
    from order_capture.adapters.providers import ConfiguredProviders  # noqa: PLC0415
    from order_capture.adapters.stepfunctions import (  # noqa: PLC0415
        StepFunctionsConfirmationWaiters,
        StepFunctionsWorkflowStarter,
    )

    table_name = settings().table_name
    workflow = (
        _installed_workflow[0]
        if _installed_workflow
        else StepFunctionsWorkflowStarter(settings().capture_workflow_arn or "")
    )
    return ApiDependencies(
        repository=default_repository(),
        api_keys=DynamoDBApiKeyStore(table_name),
        workflow=workflow,
        clock=SystemClock(),
        confirmation_waiters=StepFunctionsConfirmationWaiters(settings().confirmation_workflow_arn),
        publisher=EventBridgePublisher(settings().event_bus_name),
        idempotency_store=DynamoDBPersistenceLayer(
            table_name=table_name, key_attr="PK", sort_key_attr="SK"
        ),
        providers=ConfiguredProviders(settings()),
        webhook_keys=ConfiguredProviders(settings()),
    )


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
