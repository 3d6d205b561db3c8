"""The remainder released when an order is finished through the HTTP API (issue 11): a capture
of the rest by amount (the native and Aplazame dialects), or Medusa's capture of everything
left after an amount capture, on the local runtime (moto, the real state machine, the
sandbox provider over HTTP). The sandbox, like Stripe, releases the rest itself when a capture
is sent final; a capture that was not leaves the rest held."""

from __future__ import annotations

from typing import Any

from tests.factories import EXAMPLE_ORDER_TOTAL
from tests.integration.api_support import (
    LocalApiUnderTest,
    Merchant,
    idempotency_key,
    local_api,
    merchant,
)

__all__ = ["local_api", "merchant"]  # fixtures

#: Authorized beyond the order's total (a tip, an over-authorization): what a release gives back.
OVER = 500


def authorization(api: LocalApiUnderTest, reference: str) -> dict[str, Any]:
    sandbox = api.runtime.sandbox
    assert sandbox is not None
    with sandbox.state.lock:
        return dict(sandbox.state.authorizations[reference])


def place(merchant: Merchant) -> dict[str, Any]:
    return merchant.place(payment={"authorized_amount": EXAMPLE_ORDER_TOTAL + OVER})


def capture_amount(merchant: Merchant, order_id: str, amount: int) -> dict[str, Any]:
    with merchant.client() as client:
        response = client.post(
            f"/orders/{order_id}/captures", json={"amount": amount}, headers=idempotency_key()
        )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_defect_11_the_rest_captured_by_amount_is_sent_final_and_released(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    # Given an order partly captured by amount
    detail = place(merchant)
    reference = detail["payment"]["reference"]
    first = capture_amount(merchant, detail["order_id"], 4000)
    assert first["remaining_capture_amount"] == EXAMPLE_ORDER_TOTAL - 4000
    assert not authorization(local_api, reference).get("released")

    # When the rest is captured by amount
    last = capture_amount(merchant, detail["order_id"], EXAMPLE_ORDER_TOTAL - 4000)

    # Then it went to the provider as the final capture, which released the rest (the sandbox,
    # like Stripe, releases on a final capture): nothing more is held for the shopper, and the
    # final capture is the ledger's record of it (no release was asked for)
    assert last["remaining_capture_amount"] == 0
    assert authorization(local_api, reference).get("released")
    stored = local_api.runtime.repository().get_capture(
        merchant.merchant_id, detail["order_id"], last["id"]
    )
    assert stored is not None and stored.releases_authorization


def test_medusas_capture_of_everything_left_after_an_amount_capture_releases_the_rest(
    local_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    detail = place(merchant)
    reference = detail["payment"]["reference"]
    capture_amount(merchant, detail["order_id"], 4000)

    with merchant.medusa_client() as client:
        response = client.post(
            f"/admin/orders/{detail['order_id']}/capture", headers=idempotency_key()
        )

    assert response.status_code == 200, response.text
    assert response.json()["order"]["status"] == "completed"
    assert authorization(local_api, reference).get("released")
