"""Refunds made in Aplazame's back office (not through us) reach the ledger: Aplazame sends no
webhook for them, but ``GET /orders/{id}/captures`` lists every capture with its refunds, and
the ledger reads it before every new refund through us and in refund reconciliation
(``domain.listed_refunds``). Each is recorded once, with Aplazame's refund id; a refund through
us above what the capture has left is refused with a clear error before anything is sent.

On the DynamoDB ledger (moto), against Aplazame's API twice: a recording fake over
httpx.MockTransport (which requests the adapter makes), and the loopback Aplazame sandbox of the
fault campaign (whose back office refunds what it is asked, as Aplazame's would)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from order_capture.adapters.aplazame import AplazameProvider
from order_capture.adapters.credentials import ProviderCredentials
from order_capture.api.app import error_response
from order_capture.api.problems import Dialect
from order_capture.domain import capture_rules, listed_refunds, refund_reconciliation, service
from order_capture.domain.external_refunds import external_refund_id
from order_capture.errors import (
    OutcomeUnknownNotRetryableError,
    OverRefundError,
    ProviderUnavailableError,
)
from order_capture.models import (
    Capture,
    CaptureRequest,
    OrderPlacedDetail,
    PlannedCapture,
    RefundStatus,
)
from order_capture_local.aplazame_sandbox import AplazameSandbox
from tests.factories import order_placed
from tests.integration.refund_support import NOW, refund
from tests.support import FixedClock

AUTHORIZED = 10171  # the example order's total


class FakeAplazame:
    """Aplazame's captures and refunds over httpx.MockTransport, keeping every request: POST
    captures and refunds are made (refund number ``lost`` then times out: its answer is lost),
    GET lists the captures with their refunds; ``back_office_refund`` is a refund the merchant
    made in Aplazame's back office."""

    def __init__(self, lost: int = 0) -> None:
        self.captures: list[dict[str, Any]] = []
        #: How the next GETs fail (an httpx error raised, or a status answered), if they do.
        self.listing_fails: list[httpx.TransportError | int] = []
        self.requests: list[tuple[str, str]] = []
        self.lost = lost
        self.refunds_made = 0

    def _refund(self, capture: dict[str, Any], amount: int, prefix: str) -> None:
        self.refunds_made += 1
        capture["refunds"].append(
            {"id": f"{prefix}-{self.refunds_made}", "amount": amount,
             "created": f"2026-11-24T12:00:{self.refunds_made:02d}"}
        )  # fmt: skip
        capture["refunded_amount"] += amount

    def back_office_refund(self, amount: int, capture_number: int = 0) -> str:
        self._refund(self.captures[capture_number], amount, "bo")
        return str(self.captures[capture_number]["refunds"][-1]["id"])

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        if request.method == "GET" and self.listing_fails:
            failure = self.listing_fails.pop(0)
            if isinstance(failure, httpx.TransportError):
                raise type(failure)(str(failure), request=request)
            return httpx.Response(failure, json={"error": {"message": "unavailable"}})
        if request.method == "GET":
            return httpx.Response(200, json={"remaining_capture_amount": 0,
                                             "results": self.captures})  # fmt: skip
        amount = json.loads(request.content)["amount"]
        if request.url.path.endswith("/refunds"):
            capture_id = request.url.path.split("/")[-2]
            capture = next(c for c in self.captures if c["id"] == capture_id)
            self._refund(capture, amount, "re")
            if self.refunds_made == self.lost:
                raise httpx.ReadTimeout("no answer", request=request)
            return httpx.Response(200, json=capture)
        self.captures.append(
            {"id": f"cap-{len(self.captures) + 1}", "amount": amount, "refunds": [],
             "refunded_amount": 0, "created": "2026-11-24T12:00:00"}
        )  # fmt: skip
        return httpx.Response(200, json=self.captures[-1])

    def sent(self, method: str) -> list[str]:
        return [path for sent, path in self.requests if sent == method]

    def provider(self, name: str = "aplazame", merchant_id: str = "") -> AplazameProvider:
        return AplazameProvider(
            ProviderCredentials(api_key="test-key"), 5, httpx.MockTransport(self)
        )


def captured(repository: Any, provider: AplazameProvider) -> Capture:
    """The example order, paid with Aplazame, captured whole (10171 EUR) at ``provider``."""
    detail = OrderPlacedDetail.model_validate(order_placed(provider="aplazame")["detail"])
    service.register_order(repository, detail, FixedClock(NOW))
    request = CaptureRequest(
        merchant_id=detail.merchant_id, order_id=detail.order_id, shipment_id="s-1"
    )
    order = service.load_for_capture(repository, request).order
    planned = PlannedCapture(request=request, plan=capture_rules.plan_capture(order, request, NOW))
    pending = service.execute_capture(
        repository, provider, planned=planned, execution_id=None, now=NOW
    )
    return service.record_capture(repository, pending, NOW)


def stored(repository: Any, capture: Capture) -> Capture:
    found: Capture = repository.get_capture(
        capture.merchant_id, capture.order_id, capture.capture_id
    )
    return found


def test_defect_11_a_back_office_refund_is_recorded_before_ours_and_an_over_refund_refused(
    repository: Any,
) -> None:
    aplazame = FakeAplazame()
    capture = captured(repository, aplazame.provider())
    assert capture.amount == AUTHORIZED
    # Given the merchant refunded 6000 of the capture in Aplazame's back office
    back_office = aplazame.back_office_refund(6000)
    # When a refund of 5000 is asked through us (the ledger alone would still allow 10171)
    with pytest.raises(OverRefundError) as refused:
        refund(repository, aplazame, capture, 5000, "k-1")
    # Then it is refused before anything is sent, naming the field and what is left
    assert refused.value.field == "amount"
    assert "4171" in refused.value.message
    assert aplazame.sent("POST") == ["/orders/auth_merchant-1_order-1001/captures"]
    # and the back-office refund is in the ledger, refunded, with Aplazame's refund id
    (recorded,) = repository.list_refunds(capture.merchant_id, capture.order_id)
    assert (recorded.status, recorded.amount, recorded.provider_reference) == (
        RefundStatus.REFUNDED,
        6000,
        back_office,
    )
    assert recorded.refund_id == external_refund_id(capture.merchant_id, back_office, 0)
    after = stored(repository, capture)
    assert (after.refunded_amount, after.refundable_amount) == (6000, 4171)
    # A refund that fits goes through, and the back-office one is not recorded again
    _, after, made = refund(repository, aplazame, capture, 4171, "k-2")
    assert made.status is RefundStatus.REFUNDED
    assert (after.refunded_amount, after.refundable_amount) == (10171, 0)
    assert sorted(
        r.amount for r in repository.list_refunds(capture.merchant_id, capture.order_id)
    ) == [4171, 6000]
    assert len(aplazame.sent("POST")) == 2  # the capture, and our one refund


def test_defect_11_a_back_office_refund_read_twice_is_recorded_once(repository: Any) -> None:
    aplazame = FakeAplazame()
    capture = captured(repository, aplazame.provider())
    aplazame.back_office_refund(1000)
    order = repository.get_order(capture.merchant_id, capture.order_id)
    first = listed_refunds.record_listed_refunds(repository, aplazame, order, NOW)
    again = listed_refunds.record_listed_refunds(repository, aplazame, order, NOW)
    assert [r.amount for r in first.recorded] == [1000]
    assert again.recorded == []
    assert (
        first.refundable_at_provider
        == again.refundable_at_provider
        == {capture.capture_id: AUTHORIZED - 1000}
    )
    assert stored(repository, capture).refunded_amount == 1000
    assert len(aplazame.sent("POST")) == 1  # only the capture


def test_defect_11_our_refund_of_unknown_outcome_is_never_recorded_as_a_back_office_one(
    repository: Any,
) -> None:
    """A refund of ours whose answer was lost is listed at Aplazame under an id the ledger
    does not know: it must not be recorded a second time as made elsewhere. Reconciliation
    finds it by elimination, and only then records the back-office refund beside it."""
    aplazame = FakeAplazame(lost=1)
    capture = captured(repository, aplazame.provider())
    with pytest.raises(OutcomeUnknownNotRetryableError):
        refund(repository, aplazame, capture, 3000, "k-lost")
    back_office = aplazame.back_office_refund(2000)
    # A new refund through us reads the list: two refunds unknown to the ledger, one maybe ours
    with pytest.raises(OverRefundError) as refused:
        refund(repository, aplazame, capture, 5200, "k-new")
    assert "5171" in refused.value.message  # what Aplazame has left: 10171 - 3000 - 2000
    (ours,) = repository.list_refunds(capture.merchant_id, capture.order_id)
    assert (ours.status, ours.amount) == (RefundStatus.PENDING, 3000)
    # Reconciliation settles ours (the one refund of its amount), then records the other
    report = refund_reconciliation.reconcile_open_refunds(
        repository, aplazame, NOW + timedelta(hours=1), timedelta(minutes=15)
    )
    assert report == refund_reconciliation.RefundReconciliationReport(examined=1, refunded=1)
    by_reference = {
        r.provider_reference: (r.status, r.amount)
        for r in repository.list_refunds(capture.merchant_id, capture.order_id)
    }
    assert by_reference == {
        "re-1": (RefundStatus.REFUNDED, 3000),
        back_office: (RefundStatus.REFUNDED, 2000),
    }
    assert stored(repository, capture).refundable_amount == AUTHORIZED - 5000
    assert len(aplazame.sent("POST")) == 2  # the capture and our refund, each once


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("no answer"), httpx.ConnectError("refused"), 500, 503],
    ids=["read-timeout", "connection-refused", "500", "503"],
)
def test_defect_11_a_refund_whose_captures_cannot_be_read_is_refused_and_never_sent(
    repository: Any, failure: httpx.TransportError | int
) -> None:
    aplazame = FakeAplazame()
    capture = captured(repository, aplazame.provider())
    # Given the merchant may have refunded in Aplazame's back office, and the list that
    # would say so cannot be read
    aplazame.back_office_refund(6000)
    aplazame.listing_fails = [failure]
    # When a refund is asked through us
    with pytest.raises(ProviderUnavailableError) as refused:
        refund(repository, aplazame, capture, 5000, "k-1")
    # Then it is refused as retryable, naming the field, before anything is reserved or sent
    assert refused.value.retryable
    assert refused.value.field == "amount"
    assert "nothing was reserved or sent" in refused.value.message
    # as the native (Aplazame) dialect answers it: 503, its error naming the field
    answer = error_response(Dialect.NATIVE, refused.value)
    assert answer.status_code == 503
    assert json.loads(str(answer.body))["error"] | {"message": ""} == {
        "type": "provider_unavailable",
        "message": "",
        "field": "amount",
    }
    assert aplazame.sent("POST") == ["/orders/auth_merchant-1_order-1001/captures"]
    assert repository.list_refunds(capture.merchant_id, capture.order_id) == []
    assert stored(repository, capture).refundable_amount == AUTHORIZED
    # and the same request retried once the list reads is judged by it (over-refund refused)
    with pytest.raises(OverRefundError):
        refund(repository, aplazame, capture, 5000, "k-1")
    assert len(aplazame.sent("POST")) == 1


@pytest.fixture
def aplazame_sandbox() -> Iterator[AplazameSandbox]:
    sandbox = AplazameSandbox(port=0).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def test_defect_11_a_back_office_refund_at_the_aplazame_sandbox_is_never_refunded_again(
    repository: Any, aplazame_sandbox: AplazameSandbox
) -> None:
    provider = AplazameProvider(
        ProviderCredentials(api_key="test-key", base_url=aplazame_sandbox.url), 5
    )

    class Providers:
        def provider(self, name: str, merchant_id: str) -> AplazameProvider:
            return provider

    aplazame_sandbox.checkout("auth_merchant-1_order-1001", AUTHORIZED)
    capture = captured(repository, provider)
    # The merchant refunds 7000 in Aplazame's back office (what its API does for it)
    status, _ = aplazame_sandbox.refund(
        "auth_merchant-1_order-1001", str(capture.provider_reference), 7000
    )
    assert status == 200
    with pytest.raises(OverRefundError) as refused:
        refund(repository, Providers(), capture, 3500, "k-1")
    assert refused.value.field == "amount" and "3171" in refused.value.message
    _, after, made = refund(repository, Providers(), capture, 3171, "k-2")
    assert made.status is RefundStatus.REFUNDED
    assert (after.refunded_amount, after.refundable_amount) == (AUTHORIZED, 0)
    (at_sandbox,) = aplazame_sandbox.state.captures["auth_merchant-1_order-1001"]
    assert sorted(r["amount"] for r in at_sandbox["refunds"]) == [3171, 7000]
    in_ledger = {
        r.provider_reference: r.amount
        for r in repository.list_refunds(capture.merchant_id, capture.order_id)
    }
    assert in_ledger == {r["id"]: r["amount"] for r in at_sandbox["refunds"]}
