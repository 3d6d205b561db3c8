"""Medusa's own client against the Medusa dialect: ``@medusajs/medusa-js`` configured as its
README tells a user (``baseUrl``, ``apiKey``; nothing else) captures, and the 200 body compiles
as ``AdminOrdersRes`` of ``@medusajs/client-types`` under ``tsc --strict``.

The npm packages are pinned in tests/medusa/package.json + package-lock.json; ``make test``
installs them (``npm ci``) before pytest.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.api_support import LocalApiUnderTest, Merchant, local_api, merchant

__all__ = ["local_api", "merchant"]  # fixtures

CLIENT_DIR = Path(__file__).resolve().parents[1] / "medusa"
NODE_MODULES = CLIENT_DIR / "node_modules"


@pytest.fixture(scope="module")
def node() -> str:
    executable = shutil.which("node")
    if executable is None or not (NODE_MODULES / "@medusajs" / "medusa-js").is_dir():
        message = "Medusa's npm packages are not installed: run `make medusa-client` (npm ci)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return executable


def run_medusa_js(node: str, api: LocalApiUnderTest, api_key: str, order_id: str) -> dict[str, Any]:
    completed = subprocess.run(
        [node, str(CLIENT_DIR / "medusa_capture.cjs"), api.url, api_key, order_id],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {line["call"]: line for line in map(json.loads, completed.stdout.splitlines())}


def compile_as_admin_orders_res(node: str, bodies: list[dict[str, Any]], workdir: Path) -> None:
    """tsc --strict over ``const response: AdminOrdersRes = <body>`` for each body."""
    (workdir / "node_modules").symlink_to(NODE_MODULES)
    source = ['import type { AdminOrdersRes } from "@medusajs/client-types";']
    for index, body in enumerate(bodies):
        source.append(f"export const response{index}: AdminOrdersRes = {json.dumps(body)};")
    (workdir / "check.ts").write_text("\n".join(source) + "\n")
    config = json.loads((CLIENT_DIR / "tsconfig.json").read_text()) | {"files": ["check.ts"]}
    (workdir / "tsconfig.json").write_text(json.dumps(config))
    tsc = NODE_MODULES / "typescript" / "bin" / "tsc"
    completed = subprocess.run(
        [node, str(tsc), "-p", str(workdir / "tsconfig.json")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


SHOP = {
    "customer_id": "cus_01G2SG30J8C85S4A5CHM2S1NS2",
    "email": "buyer@example.com",
    "display_id": 2,
    "region_id": "reg_01G1G5V26T9H8Y0M4JNE3YGA4G",
    "metadata": {"car": "white", "weight": 1.5},
}


def test_medusa_js_captures_and_reads_every_error(
    node: str, local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = merchant.place(**SHOP)
    calls = run_medusa_js(node, local_api, merchant.api_key, detail["order_id"])

    captured = calls["capture"]
    assert captured["status"] == 200, captured
    order = captured["body"]["order"]
    assert order["id"] == detail["order_id"]
    assert order["paid_total"] == order["total"] and order["payment_status"] == "captured"
    assert {key: order[key] for key in SHOP} == SHOP  # stored and echoed
    assert order["customer"]["id"] == SHOP["customer_id"]
    assert order["region"]["id"] == SHOP["region_id"]
    assert order["fulfillment_status"] == "shipped"
    shipped = [(i["item_id"], i["quantity"]) for f in order["fulfillments"] for i in f["items"]]
    assert sorted(shipped) == sorted((i["item_id"], i["quantity"]) for i in detail["items"])

    # As Medusa's capturePayment: what is captured is skipped and the order answered
    again = calls["capture again"]
    assert again["status"] == 200, again
    assert again["body"]["order"]["paid_total"] == order["paid_total"]
    missing = calls["capture missing"]
    assert missing["status"] == 404 and missing["body"]["type"] == "not_found", missing
    stranger = calls["capture with an unknown key"]
    assert stranger["status"] == 401 and stranger["body"]["type"] == "unauthorized", stranger


def test_the_capture_body_compiles_as_admin_orders_res(
    node: str, local_api: LocalApiUnderTest, merchant: Merchant, tmp_path: Path
) -> None:
    with_shop = merchant.place(**SHOP)["order_id"]
    without_shop = merchant.place(items=[
        {"item_id": "a", "sku": "A", "quantity": 2, "unit_amount": 1500, "discount_amount": 100},
        {"item_id": "b", "sku": "B", "quantity": 1, "unit_amount": 700, "tax_amount": 70},
    ])["order_id"]  # fmt: skip
    bodies = []
    for order_id in (with_shop, without_shop):
        call = run_medusa_js(node, local_api, merchant.api_key, order_id)["capture"]
        assert call["status"] == 200, call
        bodies.append(call["body"])
    compile_as_admin_orders_res(node, bodies, tmp_path)


def test_a_body_that_breaks_the_type_does_not_compile(
    node: str, local_api: LocalApiUnderTest, merchant: Merchant, tmp_path: Path
) -> None:
    """The compile check can fail: the service's own body with a null display_id (what it
    sent before) is refused by tsc --strict."""
    order_id = merchant.place()["order_id"]
    body = run_medusa_js(node, local_api, merchant.api_key, order_id)["capture"]["body"]
    body["order"]["display_id"] = None
    with pytest.raises(AssertionError, match="TS2322: Type 'null' is not assignable"):
        compile_as_admin_orders_res(node, [body], tmp_path)
