"""Authentication at API Gateway: the Lambda REQUEST authorizer (ApiAuthorizerFunction) resolves
the API key once, API Gateway caches its answer and ApiFunction reads the merchant from the
authorizer's context instead of the key item; without that context ApiFunction still looks
the key up (a direct invoke). The local API runs the authorizers as API Gateway does."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from order_capture.api.authorizer import MERCHANT_CONTEXT_KEY, authorize
from order_capture_local.local_authorizer import allows
from order_capture_local.runtime import AwsCall
from tests.integration.api_support import (
    CLIENT_TIMEOUT_SECONDS,
    LocalApiUnderTest,
    Merchant,
    idempotency_key,
    local_api,
    merchant,
)
from tests.support import ROOT

__all__ = ["local_api", "merchant"]  # fixtures

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/GET/orders/o-1/captures"


def key_lookups(api: LocalApiUnderTest, function_id: str) -> int:
    """How many times ``function_id`` read an API key item."""
    calls: list[AwsCall] = api.runtime.calls_by_function.get(function_id, [])
    return sum(
        1
        for call in calls
        if call.operation == "GetItem" and call.params["Key"]["PK"]["S"].startswith("APIKEY#")
    )


def test_the_key_is_resolved_once_and_api_function_reads_no_key_item(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place()
    invoked = local_api.api.authorizers.invocations.get("ApiKeyAuthorizer", 0)
    function_lookups = key_lookups(local_api, "ApiFunction")
    with merchant.client() as client:
        answers = [client.get(f"/orders/{detail['order_id']}/captures") for _ in range(3)]
        captured = client.post(
            f"/orders/{detail['order_id']}/captures",
            json={"amount": 100},
            headers=idempotency_key(),
        )
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert captured.status_code == 200, captured.text
    # merchant.place() asked the authorizer already; API Gateway's cache answered since
    assert local_api.api.authorizers.invocations["ApiKeyAuthorizer"] == invoked
    assert key_lookups(local_api, "ApiFunction") == function_lookups


def test_an_unknown_key_gets_the_dialects_401_without_a_lookup_by_api_function(
    local_api: LocalApiUnderTest,
) -> None:
    lookups = key_lookups(local_api, "ApiFunction")
    with httpx.Client(base_url=local_api.url, timeout=CLIENT_TIMEOUT_SECONDS) as client:
        omnitron = client.post(
            "/api/v1/capture-order/",
            json={"order": "any", "order_items": [{"pk": 1}]},
            headers={"Authorization": f"Token oc_{uuid.uuid4().hex}"},
        )
        medusa = client.post(
            "/admin/orders/any/capture", headers={"x-medusa-access-token": "oc_unknown"}
        )
    assert omnitron.status_code == 401
    assert omnitron.json() == {"detail": "Invalid token.", "code": "authentication_failed"}
    assert medusa.status_code == 401 and medusa.json()["type"] == "unauthorized"
    assert key_lookups(local_api, "ApiFunction") == lookups


def test_a_request_without_the_key_header_never_reaches_the_authorizer(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    before = dict(local_api.api.authorizers.invocations)
    with httpx.Client(base_url=local_api.url, timeout=CLIENT_TIMEOUT_SECONDS) as client:
        missing = client.get("/orders/any/captures")
        # Medusa's route is authorized by x-medusa-access-token, what medusa-js sends
        bearer_on_medusa = client.post(
            "/admin/orders/any/capture", headers={"Authorization": f"Bearer {merchant.api_key}"}
        )
    for answer in (missing, bearer_on_medusa):
        assert answer.status_code == 401
        assert answer.json()["error"]["type"] == "unauthorized"
        assert answer.json()["code"] == "not_authenticated"
        assert answer.headers["X-Aplazame-Media-Type"] == "aplazame.v1"
    assert local_api.api.authorizers.invocations == before


def test_a_key_of_one_scheme_is_not_accepted_in_another_dialects_scheme(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    # The authorizer's answer is cached by the header's whole value for every route behind
    # it: the dialect's scheme is ApiFunction's to check.
    detail = merchant.place()
    body = {"order": detail["order_id"], "order_items": [{"pk": 1}]}
    with merchant.client(scheme="Bearer") as bearer:
        assert bearer.get(f"/orders/{detail['order_id']}").status_code == 200
        refused = bearer.post("/api/v1/capture-order/", json=body)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Invalid token.", "code": "authentication_failed"}


def _proxy_event(path: str, headers: dict[str, str], authorizer: Any = None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events/api/native-list-captures.json").read_text())
    event["path"] = path
    event["pathParameters"] = {"order_id": path.split("/")[2]}
    event["headers"] = headers
    event["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    event["requestContext"].pop("authorizer", None)
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    return event


def test_api_function_still_authenticates_a_direct_invoke_without_authorizer_context(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place()
    path = f"/orders/{detail['order_id']}/captures"
    runtime = local_api.runtime
    lookups = key_lookups(local_api, "ApiFunction")
    unknown = runtime.invoke("ApiFunction", _proxy_event(path, {"Authorization": "Bearer oc_x"}))
    missing = runtime.invoke("ApiFunction", _proxy_event(path, {}))
    valid = runtime.invoke(
        "ApiFunction", _proxy_event(path, {"Authorization": f"Bearer {merchant.api_key}"})
    )
    assert unknown.payload["statusCode"] == missing.payload["statusCode"] == 401
    assert valid.payload["statusCode"] == 200, valid.payload
    assert key_lookups(local_api, "ApiFunction") == lookups + 2  # unknown and valid
    # With the authorizer's context, the context's merchant is the caller
    resolved = runtime.invoke(
        "ApiFunction",
        _proxy_event(
            path,
            {"Authorization": "Bearer oc_anything"},
            {"principalId": merchant.merchant_id, MERCHANT_CONTEXT_KEY: merchant.merchant_id},
        ),
    )
    refused = runtime.invoke(
        "ApiFunction",
        _proxy_event(path, {"Authorization": f"Bearer {merchant.api_key}"}, {"merchant_id": ""}),
    )
    assert resolved.payload["statusCode"] == 200
    assert refused.payload["statusCode"] == 401  # the authorizer did not know the key
    assert key_lookups(local_api, "ApiFunction") == lookups + 2


class _Keys:
    def __init__(self, merchants: dict[str, str]) -> None:
        self.merchants = merchants
        self.asked: list[str] = []

    def merchant_for(self, key_digest: str) -> str | None:
        self.asked.append(key_digest)
        return self.merchants.get(key_digest)

    def add(self, key_digest: str, merchant_id: str, created_at: datetime) -> None:
        self.merchants[key_digest] = merchant_id


def _request(path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {"type": "REQUEST", "methodArn": METHOD_ARN, "path": path, "headers": headers}


@given(
    scheme=st.sampled_from(["Bearer", "Token", "bearer", "Basic"]),
    other_route=st.sampled_from(["POST/api/v1/capture-order", "GET/orders/o-2", "POST/admin/x"]),
)
def test_an_answer_allows_every_route_with_the_merchant_whatever_the_scheme(
    scheme: str, other_route: str
) -> None:
    from order_capture.domain.merchant_api import api_key_digest

    api_key = "oc_" + "k" * 40
    keys = _Keys({api_key_digest(api_key): "merchant-a"})
    answer = authorize(
        _request("/orders/o-1/captures", {"authorization": f"{scheme} {api_key}"}), keys
    )
    assert answer["context"] == {MERCHANT_CONTEXT_KEY: "merchant-a"}
    assert answer["principalId"] == "merchant-a"
    # API Gateway applies a cached answer to every route behind the authorizer
    other = METHOD_ARN.rsplit("/v1/", 1)[0] + f"/v1/{other_route}"
    assert allows(answer["policyDocument"], METHOD_ARN) and allows(answer["policyDocument"], other)


def test_an_unknown_or_malformed_key_is_allowed_with_no_merchant_and_never_logged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = _Keys({})
    for headers in (
        {"Authorization": "Bearer oc_unknown-key"},
        {"Authorization": "Bearer"},
        {"Authorization": "not-our-key"},
    ):
        answer = authorize(_request("/orders/o-1", headers), keys)
        assert answer["context"] == {MERCHANT_CONTEXT_KEY: ""}
    assert len(keys.asked) == 1  # only the key of our format is looked up
    assert "oc_unknown-key" not in capsys.readouterr().out


def test_medusas_route_is_resolved_by_its_token_header() -> None:
    from order_capture.domain.merchant_api import api_key_digest

    api_key = "oc_" + "m" * 40
    keys = _Keys({api_key_digest(api_key): "merchant-m"})
    answer = authorize(
        _request(
            "/admin/orders/o-1/capture",
            {"x-medusa-access-token": api_key, "Authorization": "Bearer a-session-jwt"},
        ),
        keys,
    )
    assert answer["context"] == {MERCHANT_CONTEXT_KEY: "merchant-m"}


#: The template as API Gateway gets it (SAM's translator, from the SAM CLI's install): each
#: method's security.
SAM_TRANSLATE = """
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
template = yaml_parse(open(sys.argv[1]).read())
template["Globals"]["Function"]["CodeUri"] = "s3://bucket/code.zip"
for resource in template["Resources"].values():
    for uri in ("DefinitionUri", "ContentUri"):
        if uri in resource.get("Properties", {}):
            resource["Properties"][uri] = "s3://bucket/" + uri
class NoManagedPolicies:
    def load(self):
        return {}
out = transform(template, {}, NoManagedPolicies())
for resource in out["Resources"].values():
    if resource["Type"] == "AWS::ApiGateway::RestApi":
        body = resource["Properties"]["Body"]
        print(json.dumps({
            "paths": {path: {method: spec.get("security") for method, spec in methods.items()}
                      for path, methods in body["paths"].items()},
            "authorizers": {name: spec["x-amazon-apigateway-authorizer"]
                            for name, spec in body["securityDefinitions"].items()},
        }))
"""


def test_api_gateway_authorizes_every_route_but_webhooks_preflights_and_the_document() -> None:
    sam_python = ROOT / ".tools" / "sam" / "bin" / "python"
    if not sam_python.exists():
        pytest.fail("run `make validate-template` first: the SAM CLI is missing")
    translated = subprocess.run(
        [str(sam_python), "-c", SAM_TRANSLATE, str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        check=True,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    api = json.loads(translated.stdout)
    open_routes = set()
    for path, methods in api["paths"].items():
        for method, security in methods.items():
            (name,) = [next(iter(entry)) for entry in security]
            if name == "NONE":
                open_routes.add((method, path))
            else:
                expected = (
                    "MedusaTokenAuthorizer" if path.startswith("/admin/") else "ApiKeyAuthorizer"
                )
                assert name == expected, (method, path)
    assert open_routes == {
        *(("options", path) for path in api["paths"] if "options" in api["paths"][path]),
        ("post", "/webhooks/{provider}"),
        ("get", "/swagger"),
        ("get", "/openapi.json"),
    }
    for authorizer in api["authorizers"].values():
        assert authorizer["type"] == "request"
        assert authorizer["authorizerResultTtlInSeconds"] > 0  # cached
    assert {a["identitySource"] for a in api["authorizers"].values()} == {
        "method.request.header.Authorization",
        "method.request.header.x-medusa-access-token",
    }
