"""Swagger UI in a real headless browser (Debian's chromium, driven by Playwright), as a
person would use it locally: open /swagger, Authorize with an API key, "Try it out" on a GET,
and see 200. Also /openapi.json names the server it is served under."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.api_support import (
    CLIENT_TIMEOUT_SECONDS,
    LocalApiUnderTest,
    Merchant,
    local_api,
    merchant,
)

__all__ = ["local_api", "merchant"]  # fixtures

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None:
        message = "Debian's chromium is not installed: run `make browser` (apt-get install)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def test_openapi_json_names_the_server_it_is_served_under(local_api: LocalApiUnderTest) -> None:
    with httpx.Client(base_url=local_api.url, timeout=CLIENT_TIMEOUT_SECONDS) as client:
        document = client.get("/openapi.json")
    assert document.status_code == 200
    assert document.json()["servers"] == [{"url": "/"}]
    assert "/orders/{order_id}/captures" in document.json()["paths"]


def test_swagger_ui_authorize_and_try_it_out(
    browser: Any, local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id = merchant.place()["order_id"]
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    seen: list[tuple[str, int]] = []
    page.on("response", lambda response: seen.append((response.url, response.status)))
    page.goto(f"{local_api.url}/swagger")
    # Authorize: the bearer scheme takes the API key.
    page.locator("button.authorize").first.click()
    bearer = page.locator(".auth-container").filter(has_text="bearer")
    bearer.locator("input").fill(merchant.api_key)
    bearer.locator("button.authorize").click()
    page.locator("button.btn-done").first.click()
    # Try it out on GET /orders/{order_id}/captures.
    operation = page.locator("[id$='-list_captures_orders__order_id__captures_get']")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("input[placeholder='order_id']").fill(order_id)
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip().startswith("200"), (status.inner_text(), seen)
    assert (f"{local_api.url}/orders/{order_id}/captures", 200) in seen
    body = operation.locator(".live-responses-table tbody .response-col_description").first
    assert "remaining_capture_amount" in body.inner_text()
    page.close()


def test_openapi_json_on_the_stage_url_names_the_stage() -> None:
    from order_capture.api.app import _openapi_document

    on_stage = {
        "path": "/openapi.json",
        "requestContext": {"stage": "v1", "path": "/v1/openapi.json"},
    }
    custom_domain = {
        "path": "/openapi.json",
        "requestContext": {"stage": "v1", "path": "/openapi.json"},
    }
    servers = [
        json.loads(_openapi_document(e)["body"])["servers"] for e in (on_stage, custom_domain)
    ]
    assert servers == [[{"url": "/v1"}], [{"url": "/"}]]
