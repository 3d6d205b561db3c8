"""API Gateway's Lambda REQUEST authorizers for the local API, run as API Gateway runs them.

From the ``Auth.Authorizers`` of the template's ``AWS::Serverless::Api``: a request without one
of the authorizer's identity headers gets the ``UNAUTHORIZED`` gateway response and the
authorizer is not invoked; otherwise the authorizer's function is invoked with the REQUEST
event (``methodArn``, headers, path...), its answer is kept for ``ReauthorizeEvery`` seconds per
value of the identity headers, a policy that does not allow the method's ARN is
``ACCESS_DENIED`` (403), a failed invocation ``AUTHORIZER_FAILURE`` (500), and an allowed
request reaches the route's function with ``principalId`` and the answer's ``context`` in
``requestContext.authorizer``.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from order_capture_local.template import LOCAL_ACCOUNT, LOCAL_REGION, _CfnLoader

if TYPE_CHECKING:
    from order_capture_local.api_server import GatewayResponses, HttpResponse
    from order_capture_local.runtime import LocalRuntime


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    function_id: str
    identity_headers: tuple[str, ...]
    ttl_seconds: int


def authorizer_specs(document: dict[str, Any], parameters: dict[str, str]) -> list[AuthorizerSpec]:
    """The Lambda REQUEST authorizers of the template's API."""
    specs = []
    for resource in document["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Api":
            continue
        authorizers = (resource["Properties"].get("Auth") or {}).get("Authorizers") or {}
        for name, spec in authorizers.items():
            function_arn = spec["FunctionArn"]  # {"Fn::GetAtt": [function, "Arn"]}
            identity = spec.get("Identity") or {}
            ttl = identity.get("ReauthorizeEvery", 300)
            if isinstance(ttl, dict):  # !Ref of a parameter
                ttl = parameters[ttl["Ref"]]
            specs.append(
                AuthorizerSpec(
                    name=name,
                    function_id=function_arn["Fn::GetAtt"][0],
                    identity_headers=tuple(identity.get("Headers") or ()),
                    ttl_seconds=int(ttl),
                )
            )
    return specs


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name.lower() and value:
            return str(value)
    return None


def method_arn(event: dict[str, Any]) -> str:
    context = event["requestContext"]
    return (
        f"arn:aws:execute-api:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{context['apiId']}/"
        f"{context['stage']}/{event['httpMethod']}{event['path']}"
    )


def allows(policy: dict[str, Any], arn: str) -> bool:
    """Whether an IAM policy document allows ``execute-api:Invoke`` on ``arn`` (a Deny wins)."""
    allowed = False
    for statement in policy.get("Statement") or []:
        resources = statement.get("Resource") or []
        resources = resources if isinstance(resources, list) else [resources]
        if not any(fnmatch.fnmatchcase(arn, pattern) for pattern in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


@dataclass
class LocalAuthorizers:
    runtime: LocalRuntime
    specs: dict[str, AuthorizerSpec]
    _answers: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any]]] = field(
        default_factory=dict
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: How many times each authorizer was invoked (its cache missed).
    invocations: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_template(cls, runtime: LocalRuntime) -> LocalAuthorizers:
        document = yaml.load(runtime.template_path.read_text(), Loader=_CfnLoader)
        specs = authorizer_specs(document, runtime.template.parameters)
        return cls(runtime, {spec.name: spec for spec in specs})

    def authorize(
        self, name: str, event: dict[str, Any], gateway: GatewayResponses
    ) -> HttpResponse | None:
        """None when the request may go on (``event`` then carries the authorizer's context),
        else API Gateway's answer."""
        spec = self.specs[name]
        identity = tuple(_header(event, header) or "" for header in spec.identity_headers)
        if not all(identity):
            return gateway.error(401, "Unauthorized")
        answer = self._answer(spec, identity, event)
        if answer is None:
            return gateway.error(500, "Internal server error", "AUTHORIZER_FAILURE")
        if not allows(answer.get("policyDocument") or {}, method_arn(event)):
            return gateway.error(
                403,
                "User is not authorized to access this resource with an explicit deny",
                "ACCESS_DENIED",
            )
        event["requestContext"]["authorizer"] = {
            "principalId": answer.get("principalId"),
            **(answer.get("context") or {}),
        }
        return None

    def _answer(
        self, spec: AuthorizerSpec, identity: tuple[str, ...], event: dict[str, Any]
    ) -> dict[str, Any] | None:
        key = (spec.name, identity)
        now = time.monotonic()
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        request = {"type": "REQUEST", "methodArn": method_arn(event)} | {
            name: event.get(name)
            for name in (
                "resource",
                "path",
                "httpMethod",
                "headers",
                "multiValueHeaders",
                "queryStringParameters",
                "multiValueQueryStringParameters",
                "pathParameters",
                "stageVariables",
                "requestContext",
            )
        }
        invocation = self.runtime.invoke(spec.function_id, request)
        with self._lock:
            self.invocations[spec.name] = self.invocations.get(spec.name, 0) + 1
        if invocation.failed or not isinstance(invocation.payload, dict):
            return None
        if spec.ttl_seconds > 0:
            with self._lock:
                self._answers[key] = (now + spec.ttl_seconds, invocation.payload)
        return invocation.payload
