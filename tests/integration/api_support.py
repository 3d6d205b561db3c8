"""Fixtures of the HTTP API tests: template.yaml's API served on loopback by the local
runtime (moto, the real state machine, the sandbox provider), and clients per merchant."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from order_capture.api.app import install_workflow_starter
from order_capture.models import CaptureRequest
from order_capture.ports import WorkflowResult
from order_capture_local.api_server import ApiServer, LocalApi, LocalWorkflowStarter
from order_capture_local.runtime import LocalRuntime
from tests.factories import load_event

#: How long a test's HTTP client waits for an answer. httpx's default (5 s) is shorter than a
#: capture through the whole workflow takes on two busy cores; API Gateway gives 29 s.
CLIENT_TIMEOUT_SECONDS = 60


@dataclass
class LocalApiUnderTest:
    runtime: LocalRuntime
    api: LocalApi
    server: ApiServer

    @property
    def url(self) -> str:
        return self.server.url

    def merchant(self, prefix: str = "merchant") -> Merchant:
        merchant_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
        return Merchant(self, merchant_id, self.api.create_api_key(merchant_id))


@dataclass
class Merchant:
    """A merchant with its own API key, and a client that sends it in a dialect's scheme."""

    api: LocalApiUnderTest
    merchant_id: str
    api_key: str
    #: How long its clients wait (``dataclasses.replace`` it for a wait bounded otherwise).
    timeout: httpx.Timeout = field(default_factory=lambda: httpx.Timeout(CLIENT_TIMEOUT_SECONDS))

    def client(self, scheme: str = "Bearer") -> httpx.Client:
        return httpx.Client(
            base_url=self.api.url,
            headers={"Authorization": f"{scheme} {self.api_key}"},
            timeout=self.timeout,
        )

    def medusa_client(self) -> httpx.Client:
        """A client of Medusa's route as medusa-js is: the key in ``x-medusa-access-token``
        (the header API Gateway's authorizer of that route takes)."""
        return httpx.Client(
            base_url=self.api.url,
            headers={"x-medusa-access-token": self.api_key},
            timeout=self.timeout,
        )

    def put_order(self, detail: dict[str, Any], key: str | None = None) -> httpx.Response:
        with self.client() as client:
            return client.put(
                f"/orders/{detail['order_id']}",
                json=detail,
                headers={"Idempotency-Key": key or uuid.uuid4().hex},
            )

    def place(self, **overrides: Any) -> dict[str, Any]:
        """Register a new order (events/order-placed.json unless overridden); its detail."""
        detail = order_detail(self.merchant_id, **overrides)
        response = self.put_order(detail)
        assert response.status_code == 200, response.text
        return detail


def order_detail(merchant_id: str, **overrides: Any) -> dict[str, Any]:
    detail: dict[str, Any] = copy.deepcopy(load_event("order-placed")["detail"])
    detail["merchant_id"] = merchant_id
    detail["order_id"] = f"order-{uuid.uuid4().hex[:10]}"
    detail["payment"]["reference"] = f"auth_{detail['order_id']}"
    payment = overrides.pop("payment", {})
    detail["payment"].update(payment)
    detail.update(overrides)
    return detail


def seed_order(merchant_id: str) -> dict[str, Any]:
    """The figures of Aplazame's capture documentation: an order of 70070."""
    return order_detail(
        merchant_id,
        currency="EUR",
        items=[{"item_id": "1", "sku": "SOFA-3", "quantity": 1, "unit_amount": 70070}],
        shipping_amount=0,
        payment={"authorized_amount": 70070},
    )


def idempotency_key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def ledger_items(api: LocalApiUnderTest, merchant_id: str) -> list[dict[str, Any]]:
    return [item for item in api.runtime.ledger() if f"#{merchant_id}#" in item["PK"]]


def ledger_captures(api: LocalApiUnderTest, merchant_id: str) -> list[dict[str, Any]]:
    """The merchant's capture items, failed ones included (the API lists only the others)."""
    return [item for item in ledger_items(api, merchant_id) if item["SK"].startswith("CAPTURE#")]


@contextmanager
def served_api(**runtime_options: Any) -> Iterator[LocalApiUnderTest]:
    """The API served on loopback by a local runtime made with ``runtime_options``
    (``parameter_overrides``, ``retry_time_scale``), stopped on exit."""
    with LocalRuntime(**runtime_options) as runtime:
        api = LocalApi(runtime)
        server = ApiServer(api, port=0, access_log=False).start()
        try:
            yield LocalApiUnderTest(runtime, api, server)
        finally:
            server.stop()
            api.close()


@pytest.fixture(scope="module")
def local_api() -> Iterator[LocalApiUnderTest]:
    with served_api() as api:
        yield api


@pytest.fixture
def merchant(local_api: LocalApiUnderTest) -> Merchant:
    return local_api.merchant()


def body_text(response: httpx.Response) -> str:
    return json.dumps(response.json())


def captured(merchant: Merchant, amount: int = 10050) -> tuple[str, dict[str, Any]]:
    """Aplazame's seed order of 70070 with one capture of ``amount``: (order id, capture)."""
    detail = seed_order(merchant.merchant_id)
    assert merchant.put_order(detail).status_code == 200
    with merchant.client() as client:
        response = client.post(
            f"/orders/{detail['order_id']}/captures",
            json={"amount": amount},
            headers=idempotency_key(),
        )
    assert response.status_code == 200, response.text
    return detail["order_id"], response.json()


def refund(
    merchant: Merchant, order_id: str, capture_id: str, amount: Any, key: str | None = None
) -> httpx.Response:
    with merchant.client() as client:
        return client.post(
            f"/orders/{order_id}/captures/{capture_id}/refunds",
            json={"amount": amount},
            headers={"Idempotency-Key": key or uuid.uuid4().hex},
        )


class RacingWorkflow:
    """The API's workflow, with another request's capture (``race``) run whole first, between
    the route's check of the order and the start of its own workflow: a race the route loses."""

    def __init__(self, inner: Any, race: CaptureRequest) -> None:
        self.inner = inner
        self.race = race
        self.raced = False

    def run(self, execution_input: dict[str, Any], name: str) -> WorkflowResult:
        if not self.raced:
            self.raced = True
            won = self.inner.run({"capture_request": self.race.model_dump(mode="json")}, "race")
            assert won.status == "SUCCEEDED", won
        result: WorkflowResult = self.inner.run(execution_input, name)
        return result


@contextmanager
def racing_first(
    api: LocalApiUnderTest, merchant_id: str, order_id: str, **what: Any
) -> Iterator[None]:
    """The API's next capture loses a race to another capture of ``what`` (``amount`` or
    ``items``) of the order, made by the API (shipment ``racing-shipment``)."""
    race = CaptureRequest(
        merchant_id=merchant_id,
        order_id=order_id,
        shipment_id="racing-shipment",
        trigger="api",
        **what,
    )
    install_workflow_starter(RacingWorkflow(LocalWorkflowStarter(api.runtime), race))
    try:
        yield
    finally:
        install_workflow_starter(LocalWorkflowStarter(api.runtime))
