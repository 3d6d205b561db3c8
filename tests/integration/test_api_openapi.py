"""The OpenAPI document: generated from the code, committed, valid, served, and honoured by
the API under schemathesis (no server error, no response outside the schema)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from order_capture_local.api_server import openapi_document
from tests.integration.api_support import CLIENT_TIMEOUT_SECONDS, LocalApiUnderTest, local_api

__all__ = ["local_api"]  # fixture

pytestmark = pytest.mark.slow(55)  # seconds of CPU: scheduled first (conftest.py)

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_committed_openapi_document_is_current() -> None:
    assert COMMITTED.read_text() == openapi_document(), (
        "docs/openapi.json is stale: run `order-capture openapi -o docs/openapi.json`"
    )


def test_openapi_document_is_valid_and_covers_every_route() -> None:
    document = json.loads(openapi_document())
    validate(document)
    assert set(document["paths"]) == {
        "/orders/{order_id}/captures",
        "/orders/{order_id}/captures/{capture_id}",
        "/orders/{order_id}/captures/{capture_id}/refunds",
        "/webhooks/{provider}",
        "/webhooks/stripe",
        "/orders/{order_id}",
        "/orders/{order_id}/cancellations",
        "/admin/orders/{id}/capture",
        "/api/v1/capture-order",
    }


def test_swagger_ui_is_served(local_api: LocalApiUnderTest) -> None:
    with httpx.Client(base_url=local_api.url, timeout=CLIENT_TIMEOUT_SECONDS) as client:
        page = client.get("/swagger")
        spec = client.get("/swagger", params={"format": "json"})
    assert page.status_code == 200 and "swagger-ui" in page.text.lower()
    assert spec.status_code == 200 and spec.json()["paths"]


def _fuzz_merchant(local_api: LocalApiUnderTest) -> str:
    """A merchant whose orders the generated requests can reach: path values are random, so
    most requests meet 404; orders named like schemathesis' first picks get further."""
    merchant = local_api.merchant("fuzz")
    event = json.loads((COMMITTED.parents[1] / "events" / "order-placed.json").read_text())
    for order_id in ("0", "A", "order-1"):
        detail = event["detail"] | {"merchant_id": merchant.merchant_id, "order_id": order_id}
        assert merchant.put_order(detail).status_code == 200
    return merchant.api_key


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def _fuzz(operation: Any, mode: GenerationMode, base_url: str, api_key: str) -> None:
    scheme = "Token" if operation.path.startswith("/api/") else "Bearer"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any) -> None:
        headers = {"Authorization": f"{scheme} {api_key}"}
        if case.method in {"POST", "PUT"}:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    call()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_honours_its_schema(local_api: LocalApiUnderTest, mode: GenerationMode) -> None:
    """Every operation, with generated valid (positive) and invalid (negative) requests: no
    5xx, and every response matches the document (content type, body schema)."""
    api_key = _fuzz_merchant(local_api)
    schema = schemathesis.openapi.from_dict(json.loads(openapi_document()))
    for result in schema.get_all_operations():
        _fuzz(result.ok(), mode, local_api.url, api_key)  # type: ignore[union-attr]
