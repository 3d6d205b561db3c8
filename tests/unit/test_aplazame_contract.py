"""Contract tests of the Aplazame adapter against the request/response shapes of Aplazame's
public API docs, through ``httpx.MockTransport`` (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.adapters.aplazame import AplazameProvider
from order_capture.adapters.credentials import ProviderCredentials
from order_capture.errors import (
    OutcomeUnknownNotRetryableError,
    ProviderDeclinedError,
    ProviderError,
    ProviderLookupUnsupportedError,
    ProviderNotConfiguredError,
    ProviderUnavailableError,
)
from order_capture.ports import (
    ProviderCaptureLookup,
)
from tests.unit.provider_adapters_support import (
    APLAZAME_CAPTURE,
    KEY,
    SECRET,
    aplazame,
    capture_request,
    lookup,
    refund_request,
    release_request,
)
from tests.unit.provider_recorder import Recorder, json_body


def test_aplazame_capture_posts_the_amount_with_version_and_bearer_key() -> None:
    recorder = Recorder().answer(200, APLAZAME_CAPTURE)

    capture = aplazame(recorder).capture(capture_request("order 42"))

    sent = recorder.last
    assert (sent.method, sent.url.raw_path) == ("POST", b"/orders/order%2042/captures")
    assert str(sent.url).startswith("https://api.aplazame.com/")
    assert sent.headers["Accept"] == "application/vnd.aplazame.v1+json"
    assert sent.headers["Authorization"] == f"Bearer {SECRET}"
    assert json_body(sent) == {"amount": 10050}
    assert capture.provider_reference == "cf04aa87a6364f14b164e48a84e99936"
    assert (capture.amount, capture.currency, capture.status) == (10050, "EUR", "succeeded")


def test_aplazame_refund_targets_the_capture_and_returns_the_newest_refund() -> None:
    recorder = Recorder().answer(
        200,
        {  # POST /orders/:orderId/captures/:captureId/refunds, Aplazame docs
            "amount": 70070,
            "id": "cf04aa87a6364f14b164e48a84e99936",
            "created": "2019-06-21T16:51:19.494155+02:00",
            "refunds": [
                {"id": "older", "amount": 100, "created": "2019-06-21T16:50:00+02:00"},
                {
                    "id": "db654bf752a84b7eaf6fcb7ab5801f60",
                    "amount": 10050,
                    "pending_amount": 60020,
                    "created": "2019-06-21T16:52:07.733892+02:00",
                },
            ],
            "refunded_amount": 10150,
            "remaining_amount": 59920,
        },
    )

    refund = aplazame(recorder).refund(refund_request("o-42", "cf04aa87", 10050))

    assert recorder.last.url.path == "/orders/o-42/captures/cf04aa87/refunds"
    assert json_body(recorder.last) == {"amount": 10050}
    assert (refund.provider_reference, refund.amount) == ("db654bf752a84b7eaf6fcb7ab5801f60", 10050)


def _refunded(*refunds: dict[str, Any]) -> dict[str, Any]:
    return {"amount": 70070, "id": "cf04aa87", "refunds": list(refunds)}


@pytest.mark.parametrize(
    "refunds",
    [
        # A racing refund of the same capture, newer, of another amount: not ours
        [
            {"id": "ours", "amount": 10050, "created": "2026-03-29T01:10:00+00:00"},
            {"id": "racing", "amount": 500, "created": "2026-03-29T01:11:00+00:00"},
        ],
        # Ours is the newest, but written in another offset: as text it looks older
        [
            {"id": "ours", "amount": 10050, "created": "2026-03-29T01:10:00+00:00"},
            {"id": "older", "amount": 10050, "created": "2026-03-29T03:05:00+02:00"},
        ],
    ],
    ids=["racing-refund", "other-offset"],
)
def test_review_aplazame_refund_is_the_newest_refund_of_the_amount_sent(
    refunds: list[dict[str, Any]],
) -> None:
    # The answer lists every refund of the capture; "ours" was the newest by text order,
    # whatever its amount: a racing refund's id and amount were recorded for ours.
    recorder = Recorder().answer(200, _refunded(*refunds))

    refund = aplazame(recorder).refund(refund_request("o-42", "cf04aa87", 10050))

    assert (refund.provider_reference, refund.amount) == ("ours", 10050)


def test_review_aplazame_refund_answer_without_the_amount_sent_is_an_unknown_outcome() -> None:
    recorder = Recorder().answer(200, _refunded({"id": "other", "amount": 500, "created": ""}))
    with pytest.raises(OutcomeUnknownNotRetryableError):
        aplazame(recorder).refund(refund_request("o-42", "cf04aa87", 10050))


def test_aplazame_finds_a_capture_by_its_id_in_the_order_captures() -> None:
    recorder = Recorder().answer(
        200, {"remaining_capture_amount": 0, "results": [APLAZAME_CAPTURE]}
    )
    provider = aplazame(recorder)

    found = provider.find_capture(lookup("o-42", provider_reference=str(APLAZAME_CAPTURE["id"])))

    assert (recorder.last.method, recorder.last.url.path) == ("GET", "/orders/o-42/captures")
    assert found is not None and found.amount == 10050
    recorder.answer(200, {"remaining_capture_amount": 0, "results": [APLAZAME_CAPTURE]})
    assert provider.find_capture(lookup("o-42", provider_reference="other")) is None


def test_aplazame_cannot_look_up_by_idempotency_key() -> None:
    recorder = Recorder()
    with pytest.raises(ProviderLookupUnsupportedError):
        aplazame(recorder).find_capture(lookup("o-42", idempotency_key=KEY))
    assert recorder.requests == []


def aplazame_captures(*amounts_by_id: tuple[str, int]) -> dict[str, Any]:
    """GET /orders/:orderId/captures with captures of these ids and amounts."""
    results = [{**APLAZAME_CAPTURE, "id": id_, "amount": amount} for id_, amount in amounts_by_id]
    return {"remaining_capture_amount": 0, "results": results}


def by_elimination(amount: int, *known: str) -> ProviderCaptureLookup:
    return ProviderCaptureLookup(
        authorization_reference="o-42",
        merchant_id="m-1",
        order_id="o-1",
        idempotency_key=KEY,
        amount=amount,
        known_references=list(known),
    )


def test_aplazame_finds_a_capture_of_unknown_outcome_by_elimination() -> None:
    recorder = Recorder().answer(200, aplazame_captures(("cap-a", 5000), ("cap-b", 10050)))
    found = aplazame(recorder).find_capture(by_elimination(10050, "cap-a"))
    assert (recorder.last.method, recorder.last.url.path) == ("GET", "/orders/o-42/captures")
    assert found is not None
    assert (found.provider_reference, found.amount) == ("cap-b", 10050)


def test_aplazame_without_an_unknown_capture_says_nothing_was_captured() -> None:
    recorder = Recorder().answer(200, aplazame_captures(("cap-a", 5000)))
    assert aplazame(recorder).find_capture(by_elimination(10050, "cap-a")) is None


@pytest.mark.parametrize(
    "captures",
    [
        [("cap-a", 5000), ("cap-b", 10050), ("cap-c", 10050)],  # two candidates
        [("cap-a", 5000), ("cap-b", 9999)],  # one, of another amount
    ],
)
def test_aplazame_never_guesses_between_unknown_captures(captures: list[tuple[str, int]]) -> None:
    recorder = Recorder().answer(200, aplazame_captures(*captures))
    with pytest.raises(ProviderLookupUnsupportedError, match="for a person to decide"):
        aplazame(recorder).find_capture(by_elimination(10050, "cap-a"))


def test_aplazame_release_voids_the_remaining_amount_and_skips_when_nothing_remains() -> None:
    recorder = Recorder().answer(200, {"remaining_amount": 0, "results": []})
    provider = aplazame(recorder)

    provider.release(release_request("o-42", 4000))
    provider.release(release_request("o-42", 0))

    assert len(recorder.requests) == 1
    assert recorder.last.url.path == "/orders/o-42/void"
    assert json_body(recorder.last) == {"amount": 4000}


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            400,
            {
                "error": {
                    "fields": {"amount": ["exceeds"]},
                    "message": "API validation error",
                    "type": "ApiValidationException",
                }
            },
            # Aplazame documents no field as an over-capture signal: a refusal like any other.
            ProviderDeclinedError,
        ),
        # Our media type does not suit the key: an integration error for an operator.
        (406, {}, ProviderNotConfiguredError),
        (415, {"error": {"message": "Unsupported", "type": "x"}}, ProviderNotConfiguredError),
        (
            400,
            {"error": {"message": "API validation error", "type": "ApiValidationException"}},
            ProviderDeclinedError,
        ),
        (
            401,
            {
                "error": {
                    "message": "Authentication credentials were not provided.",
                    "type": "UnauthorizedException",
                }
            },
            ProviderNotConfiguredError,
        ),
        (
            403,
            {"error": {"message": "Forbidden", "type": "ForbiddenException"}},
            ProviderDeclinedError,
        ),
        (
            404,
            {
                "error": {
                    "fields": {"order__id": "145000006"},
                    "message": "Object not found",
                    "type": "ObjectNotFoundException",
                }
            },
            ProviderDeclinedError,
        ),
        (429, {}, ProviderUnavailableError),
        (503, {}, ProviderUnavailableError),
        # No idempotency key at Aplazame: a 500 after sending may have captured.
        # Aplazame's captures take no idempotency key: a lost answer must not be retried.
        (500, {}, OutcomeUnknownNotRetryableError),
        (408, {}, OutcomeUnknownNotRetryableError),
    ],
)
def test_aplazame_error_mapping(
    status: int, body: dict[str, Any], error: type[ProviderError]
) -> None:
    with pytest.raises(error) as raised:
        aplazame(Recorder().answer(status, body)).capture(capture_request("o-42"))
    assert type(raised.value) is error
    assert SECRET not in str(raised.value)


def test_defect_11_aplazame_test_mode_keys_ask_for_the_sandbox_media_type() -> None:
    recorder = Recorder().answer(200, APLAZAME_CAPTURE)
    credentials = ProviderCredentials(api_key=SECRET, test_mode=True)
    AplazameProvider(credentials, 5, recorder.transport).capture(capture_request("o-42"))
    assert recorder.last.headers["Accept"] == "application/vnd.aplazame.sandbox.v1+json"
