"""CORS: the allowed origins are the template parameter CorsAllowedOrigins (default none);
preflights are answered by the function, locally as on AWS, before authentication."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import yaml

from order_capture.api import cors
from order_capture_local.template import _CfnLoader
from tests.integration.api_support import CLIENT_TIMEOUT_SECONDS, LocalApiUnderTest, served_api

ADMIN = "http://admin.example:7001"
PREFLIGHT = {
    "Origin": ADMIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "x-medusa-access-token,content-type",
}


@pytest.fixture(scope="module")
def cors_api() -> Iterator[LocalApiUnderTest]:
    overrides = {"CorsAllowedOrigins": f"https://shop.example,{ADMIN}"}
    with served_api(parameter_overrides=overrides) as api:
        yield api


def test_a_preflight_from_an_allowed_origin_is_answered(cors_api: LocalApiUnderTest) -> None:
    with httpx.Client(base_url=cors_api.url, timeout=CLIENT_TIMEOUT_SECONDS) as client:
        response = client.options("/admin/orders/any/capture", headers=PREFLIGHT)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ADMIN
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "x-medusa-access-token" in allowed and "content-type" in allowed


def test_an_answer_to_an_allowed_origin_carries_cors_headers(cors_api: LocalApiUnderTest) -> None:
    merchant = cors_api.merchant()
    detail = merchant.place()
    with httpx.Client(base_url=cors_api.url, timeout=CLIENT_TIMEOUT_SECONDS) as client:
        response = client.post(
            f"/admin/orders/{detail['order_id']}/capture",
            headers={"Origin": ADMIN, "x-medusa-access-token": merchant.api_key},
        )
        # A key refused by ApiFunction (API Gateway's own answers carry no CORS headers)
        refused = client.get(
            "/orders/x/captures", headers={"Origin": ADMIN, "Authorization": "Bearer oc_none"}
        )
    assert response.status_code == 200, response.text
    for answer in (response, refused):  # errors too, so the page can read them
        assert answer.headers["Access-Control-Allow-Origin"] == ADMIN
        assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    assert refused.status_code == 401


def test_other_origins_get_no_cors_headers(cors_api: LocalApiUnderTest) -> None:
    with httpx.Client(base_url=cors_api.url, timeout=CLIENT_TIMEOUT_SECONDS) as client:
        preflight = client.options(
            "/orders/any/captures", headers=PREFLIGHT | {"Origin": "https://evil.example"}
        )
        answer = client.get("/orders/any/captures", headers={"Origin": "https://evil.example"})
    assert preflight.status_code == 204
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_by_default_no_origin_is_allowed(cors_api: LocalApiUnderTest) -> None:
    template = yaml.load(cors_api.runtime.template_path.read_text(), Loader=_CfnLoader)
    assert template["Parameters"]["CorsAllowedOrigins"]["Default"] == ""
    event = {"httpMethod": "OPTIONS", "headers": PREFLIGHT}
    assert "Access-Control-Allow-Origin" not in cors.preflight(event, ())["multiValueHeaders"]
