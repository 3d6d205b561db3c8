"""``order-capture local start-api``: the template's API routes on loopback, like
``sam local start-api`` but without Docker.

Routes come from template.yaml (the ``Api`` events of its functions). Each HTTP request becomes
an API Gateway REST proxy event and is handed to the function's handler through
:meth:`LocalRuntime.invoke`, as Lambda would; captures run the real state machine on the
embedded AWS. Two things the cloud does differently are emulated here:

* moto has no ``StartSyncExecution``: :class:`LocalWorkflowStarter` starts the Express machine
  and waits for it, and is installed in place of the AWS adapter.
* a shop's checkout authorizes the payment before the order is registered: for
  ``PUT /orders/{order_id}`` the sandbox provider gets the authorization first, as
  ``put-events`` does for `Order Placed`.

``POST /_local/keys`` ``{"merchant_id"}`` (loopback only, not part of the API) creates an API key;
``order-capture keys create`` uses it.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from order_capture.ports import WorkflowResult
from order_capture_local.executions import ExecutionReport
from order_capture_local.local_authorizer import LocalAuthorizers
from order_capture_local.runtime import LocalRuntime
from order_capture_local.template import LOCAL_ACCOUNT, LOCAL_REGION, _CfnLoader

API_FUNCTION = "ApiFunction"
API_STATE_MACHINE = "CaptureApiStateMachine"
KEYS_PATH = "/_local/keys"
#: ``GET /_local/deliveries/{event_id}`` (the local stack): what the functions an event was
#: delivered to answered.
DELIVERIES_PATH = "/_local/deliveries/"
#: ``GET /_local/emitted``: the events the service emitted (Payment Captured...).
EMITTED_PATH = "/_local/emitted"
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


def openapi_document() -> str:
    """The API's OpenAPI document as committed in docs/openapi.json."""
    from order_capture.api.app import openapi_json_schema  # noqa: PLC0415

    return openapi_json_schema() + "\n"


class LocalWorkflowStarter:
    """WorkflowStarter for the local runtime: StartExecution, then wait for the end."""

    def __init__(self, runtime: LocalRuntime, machine_id: str = API_STATE_MACHINE) -> None:
        self.runtime = runtime
        self.machine_id = machine_id

    def execute(self, execution_input: dict[str, Any], name: str) -> ExecutionReport:
        """One execution to its end, reported as the runtime sees it (the benchmark records
        these)."""
        with self.runtime.unattributed():
            arn = self.runtime.start_execution(self.machine_id, execution_input, name=name)
            return self.runtime.wait_for(arn)

    def run(self, execution_input: dict[str, Any], name: str) -> WorkflowResult:
        report = self.execute(execution_input, name)
        status = (
            report.status if report.status in {"SUCCEEDED", "TIMED_OUT", "ABORTED"} else "FAILED"
        )
        return WorkflowResult(
            status=status, output=report.output, error=report.error, cause=report.cause
        )


@dataclass(frozen=True)
class ApiRoute:
    function_id: str
    method: str
    path: str  # as in the template: /orders/{order_id}
    #: The Lambda authorizer API Gateway runs first (its name in the Api's Auth), or None.
    authorizer: str | None = None

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path.rstrip("/")))
        return re.compile(f"^{regex}/?$")


def api_routes(template_path: Path) -> list[ApiRoute]:
    """Every ``Api`` event of every function in the template, with its authorizer."""
    document = yaml.load(template_path.read_text(), Loader=_CfnLoader)
    default = _api_auth(document).get("DefaultAuthorizer")
    routes = []
    for logical_id, resource in document["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "Api":
                properties = event["Properties"]
                authorizer = (properties.get("Auth") or {}).get("Authorizer", default)
                routes.append(
                    ApiRoute(
                        logical_id,
                        str(properties["Method"]).upper(),
                        properties["Path"],
                        None if authorizer in {None, "NONE"} else str(authorizer),
                    )
                )
    return routes


def _api_auth(document: dict[str, Any]) -> dict[str, Any]:
    for resource in document["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Api":
            return dict(resource["Properties"].get("Auth") or {})
    return {}


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def _gateway_error(status: int, message: str) -> HttpResponse:
    """A plain error of the local server itself (not one API Gateway would answer)."""
    body = json.dumps({"message": message}).encode()
    return HttpResponse(status, [("Content-Type", "application/json")], body)


#: API Gateway's response type for each error the local API answers itself.
GATEWAY_RESPONSE_TYPES = {
    401: "UNAUTHORIZED",
    403: "MISSING_AUTHENTICATION_TOKEN",
    413: "REQUEST_TOO_LARGE",
    429: "THROTTLED",
    502: "INTEGRATION_FAILURE",
    504: "INTEGRATION_TIMEOUT",
}


@dataclass(frozen=True)
class GatewayResponses:
    """The API's ``GatewayResponses`` (template.yaml), rendered as API Gateway renders them."""

    responses: dict[str, Any]

    @classmethod
    def from_template(cls, template_path: Path) -> GatewayResponses:
        document = yaml.load(template_path.read_text(), Loader=_CfnLoader)
        for resource in document["Resources"].values():
            if resource.get("Type") == "AWS::Serverless::Api":
                return cls(dict(resource["Properties"].get("GatewayResponses") or {}))
        return cls({})

    def error(self, status: int, message: str, response_type: str | None = None) -> HttpResponse:
        response_type = response_type or GATEWAY_RESPONSE_TYPES.get(
            status, f"DEFAULT_{status // 100}XX"
        )
        spec = self.responses.get(response_type) or self.responses.get(f"DEFAULT_{status // 100}XX")
        if spec is None:  # API Gateway's own default body
            return _gateway_error(status, message)
        template = str(spec["ResponseTemplates"]["application/json"])
        body = (
            template.replace("$context.error.messageString", json.dumps(message))
            .replace("$context.error.message", message)
            .replace("$context.error.responseType", response_type)
        )
        headers = [("Content-Type", "application/json")]
        for name, value in (spec.get("ResponseParameters", {}).get("Headers") or {}).items():
            headers.append((name, str(value).strip("'")))  # static values are quoted
        return HttpResponse(int(spec.get("StatusCode", status)), headers, body.encode())


class LocalApi:
    """The API Gateway part: route, build the proxy event, invoke, unwrap the response."""

    def __init__(self, runtime: LocalRuntime) -> None:
        from order_capture.api.app import install_workflow_starter  # noqa: PLC0415

        self.runtime = runtime
        self.routes = api_routes(runtime.template_path)
        self.gateway_responses = GatewayResponses.from_template(runtime.template_path)
        self.authorizers = LocalAuthorizers.from_template(runtime)
        install_workflow_starter(LocalWorkflowStarter(runtime))

    def close(self) -> None:
        from order_capture.api.app import install_workflow_starter  # noqa: PLC0415

        install_workflow_starter(None)

    def create_api_key(self, merchant_id: str) -> str:
        from pydantic import TypeAdapter  # noqa: PLC0415

        from order_capture.adapters.api_keys import DynamoDBApiKeyStore  # noqa: PLC0415
        from order_capture.domain import merchant_api  # noqa: PLC0415
        from order_capture.models import Identifier  # noqa: PLC0415
        from order_capture.ports import SystemClock  # noqa: PLC0415

        TypeAdapter(Identifier).validate_python(merchant_id)
        table = next(iter(self.runtime.template.tables.values())).name
        return merchant_api.create_api_key(DynamoDBApiKeyStore(table), merchant_id, SystemClock())

    def request(
        self,
        method: str,
        target: str,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        body: bytes | str | None = None,
    ) -> HttpResponse:
        """One HTTP request, as API Gateway would pass it to the function and answer it."""
        split = urlsplit(target)
        path = unquote(split.path) or "/"
        for route in self.routes:
            match = route.pattern.match(path)
            if match and route.method == method.upper():
                break
        else:
            # What API Gateway answers for a method and path it has no resource for.
            return self.gateway_responses.error(403, "Missing Authentication Token")
        raw_body = body.encode() if isinstance(body, str) else body
        event = _proxy_event(
            method=method.upper(),
            path=path,
            query=split.query,
            headers=headers,
            body=raw_body,
            route=route,
            match=match,
        )
        if route.authorizer is not None:
            refused = self.authorizers.authorize(route.authorizer, event, self.gateway_responses)
            if refused is not None:
                return refused
        self._play_checkout(route, event)
        invocation = self.runtime.invoke(route.function_id, event)
        if invocation.failed or not isinstance(invocation.payload, dict):
            return self.gateway_responses.error(502, "Internal server error")
        return _http_response(invocation.payload)

    def _play_checkout(self, route: ApiRoute, event: dict[str, Any]) -> None:
        if route.method != "PUT" or not route.path.startswith("/orders/"):
            return
        try:
            detail = json.loads(event.get("body") or "null")
        except ValueError:
            return
        if isinstance(detail, dict):
            self.runtime._play_checkout({"detail-type": "Order Placed", "detail": detail})


def _proxy_event(
    *,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str] | list[tuple[str, str]] | None,
    body: bytes | None,
    route: ApiRoute,
    match: re.Match[str],
) -> dict[str, Any]:
    header_pairs = list(headers.items() if isinstance(headers, dict) else headers or [])
    multi_headers: dict[str, list[str]] = {}
    for name, value in header_pairs:
        multi_headers.setdefault(name, []).append(value)
    multi_query = parse_qs(query, keep_blank_values=True)
    text = None
    base64_encoded = False
    if body:
        try:
            text = body.decode()
        except UnicodeDecodeError:
            import base64  # noqa: PLC0415

            text, base64_encoded = base64.b64encode(body).decode(), True
    now = time.time()
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": match.groupdict() or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT,
            "apiId": "local",
            "resourcePath": route.path,
            "httpMethod": method,
            # As `sam local start-api` and a custom domain: the stage is not in the URL, so the
            # served OpenAPI document's server is "/" (Swagger UI's "Try it out" reaches us).
            "path": path,
            "stage": "v1",
            "requestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": None},
            "domainName": "127.0.0.1",
            "protocol": "HTTP/1.1",
            "region": LOCAL_REGION,
        },
        "body": text,
        "isBase64Encoded": base64_encoded,
    }


def _http_response(payload: dict[str, Any]) -> HttpResponse:
    headers: list[tuple[str, str]] = []
    for name, values in (payload.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(value)) for value in values)
    for name, value in (payload.get("headers") or {}).items():
        if not any(existing.lower() == name.lower() for existing, _ in headers):
            headers.append((name, str(value)))
    body = payload.get("body") or ""
    if payload.get("isBase64Encoded"):
        import base64  # noqa: PLC0415

        raw = base64.b64decode(body)
    else:
        raw = str(body).encode()
    return HttpResponse(int(payload.get("statusCode", 502)), headers, raw)


class _Handler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self._send(self.server.api.gateway_responses.error(413, "Request Too Long"))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else None
        if self.command == "POST" and urlsplit(self.path).path == KEYS_PATH:
            self._send(self._create_key(body))
            return
        if self.command == "GET" and self.path.startswith(DELIVERIES_PATH):
            self._send(self._deliveries(self.path.removeprefix(DELIVERIES_PATH)))
            return
        if self.command == "GET" and self.path == EMITTED_PATH:
            emitted = list(self.server.api.runtime.emitted_events)
            body = json.dumps({"emitted": emitted}).encode()
            self._send(HttpResponse(200, [("Content-Type", "application/json")], body))
            return
        response = self.server.api.request(
            self.command, self.path, list(self.headers.items()), body
        )
        self._send(response)

    def _create_key(self, body: bytes | None) -> HttpResponse:
        try:
            merchant_id = json.loads(body or b"{}")["merchant_id"]
            api_key = self.server.api.create_api_key(merchant_id)
        except (ValueError, KeyError, TypeError) as error:
            return _gateway_error(400, f"give {{'merchant_id': <id>}}: {error}")
        payload = {"merchant_id": merchant_id, "api_key": api_key}
        return HttpResponse(
            201, [("Content-Type", "application/json")], json.dumps(payload).encode()
        )

    def _deliveries(self, event_id: str) -> HttpResponse:
        invocations = self.server.deliveries.get(unquote(event_id), [])
        body = json.dumps({"invocations": invocations}).encode()
        return HttpResponse(200, [("Content-Type", "application/json")], body)

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in {"content-length", "connection"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Access log on stderr, without headers (they carry API keys)."""
        if self.server.access_log:
            super().log_message(format, *args)


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        api: LocalApi,
        host: str = "127.0.0.1",
        port: int = 3000,
        *,
        access_log: bool = True,
        deliveries: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.api = api
        self.access_log = access_log
        self.deliveries = deliveries if deliveries is not None else {}
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ApiServer:
        """Serve in a background thread (tests); the CLI calls serve_forever itself."""
        self._thread = threading.Thread(target=self.serve_forever, name="local-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
