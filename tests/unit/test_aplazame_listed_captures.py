"""``AplazameProvider.listed_captures`` and ``find_refund`` read ``GET /orders/{id}/captures``
in the shape of Aplazame's capture documentation (seed 003: each capture's ``refunds`` and
``refunded_amount``), through ``httpx.MockTransport``."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.errors import ProviderError, ProviderLookupUnsupportedError
from order_capture.ports import ProviderRefundLookup
from tests.unit.provider_adapters_support import aplazame
from tests.unit.provider_recorder import Recorder

REFUNDS: list[dict[str, Any]] = [
    {"id": "rf-ours", "amount": 2000, "created": "2019-06-22T10:00:00+02:00"},
    {"id": "rf-back-office", "amount": 3000, "created": "2019-06-23T10:00:00+02:00"},
]
SEED_CAPTURE: dict[str, Any] = {  # seed 003's capture, refunded twice (once in the back office)
    "amount": 10050,
    "id": "cf04aa87a6364f14b164e48a84e99936",
    "created": "2019-06-21T16:51:19.494155+02:00",
    "refunds": REFUNDS,
    "refunded_amount": 5000,
    "remaining_amount": 5050,
}


def test_defect_11_aplazame_lists_each_capture_with_every_refund() -> None:
    recorder = Recorder().answer(200, {"remaining_capture_amount": 0, "results": [SEED_CAPTURE]})

    (listed,) = aplazame(recorder).listed_captures("order 42", "EUR")

    assert (recorder.last.method, recorder.last.url.raw_path) == (
        "GET",
        b"/orders/order%2042/captures",
    )
    assert (listed.provider_reference, listed.amount) == (SEED_CAPTURE["id"], 10050)
    assert [(r.provider_reference, r.amount, r.status) for r in listed.refunds] == [
        ("rf-ours", 2000, "succeeded"),
        ("rf-back-office", 3000, "succeeded"),
    ]
    assert (listed.refunded_amount, listed.refundable_amount) == (5000, 5050)


def test_aplazame_refunded_amount_above_its_listed_refunds_is_what_counts() -> None:
    """A list that shows fewer refunds than its ``refunded_amount`` still leaves only what
    the total says to refund."""
    partial = SEED_CAPTURE | {"refunds": REFUNDS[:1]}
    recorder = Recorder().answer(200, {"results": [partial]})

    (listed,) = aplazame(recorder).listed_captures("order 42", "EUR")

    assert listed.refundable_amount == 10050 - 5000


def test_an_unreadable_aplazame_list_is_a_provider_error() -> None:
    recorder = Recorder().answer(200, {"results": [{"amount": "ten"}]})
    with pytest.raises(ProviderError):
        aplazame(recorder).listed_captures("order 42", "EUR")


def test_defect_11_a_lost_refund_is_found_beside_a_back_office_refund_of_another_amount() -> None:
    recorder = Recorder().answer(200, {"results": [SEED_CAPTURE]})
    lookup = ProviderRefundLookup(
        authorization_reference="order 42", capture_reference=SEED_CAPTURE["id"],
        amount=2000, currency="EUR", known_references=[],
    )  # fmt: skip

    found = aplazame(recorder).find_refund(lookup)

    assert found is not None and found.provider_reference == "rf-ours"
    twice = SEED_CAPTURE | {"refunds": [REFUNDS[0]] * 2}
    recorder = Recorder().answer(200, {"results": [twice]})
    with pytest.raises(ProviderLookupUnsupportedError):
        aplazame(recorder).find_refund(lookup)
