"""Stripe's ``Stripe-Signature``, judged by Stripe's own library (``stripe`` on PyPI, a dev
dependency): what ``stripe.WebhookSignature`` signs we accept, what we sign it accepts, and both
refuse the same forgeries; the refund events we read are events and refunds by Stripe's spec3."""

from __future__ import annotations

import json
import time
import typing
from typing import Any

import pytest
import stripe
from hypothesis import given, settings
from hypothesis import strategies as st

from order_capture.adapters import stripe_events
from order_capture.adapters.stripe_events import REFUND_EVENTS, sign, signature_is_valid
from tests.unit.provider_specs import stripe_operation, validate_stripe_object

SECRET = "whsec_test_" + "5" * 32
OTHER_SECRET = "whsec_test_" + "6" * 32


def stripe_accepts(payload: bytes, header: str, secret: str = SECRET) -> bool:
    """What ``stripe.Webhook.construct_event`` checks before it parses the body."""
    try:
        stripe.WebhookSignature.verify_header(
            payload, header, secret, stripe.Webhook.DEFAULT_TOLERANCE
        )
    except stripe.SignatureVerificationError:
        return False
    return True


def stripes_header(payload: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    header: str = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), secret, timestamp
    )
    return header


def refund_event(status: str = "succeeded", kind: str = "refund.updated", **refund: Any) -> bytes:
    """A Stripe event about a refund of ours, as Stripe's API reference shows one."""
    document = {
        "id": "evt_1QFjXb2eZvKYlo2C0Zb5Ytrx",
        "object": "event",
        "api_version": "2024-06-20",
        "created": 1_764_590_000,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
        "data": {
            "object": {
                "id": "re_3QFjXb2eZvKYlo2C1xS7Y0kP",
                "object": "refund",
                "amount": 1500,
                "balance_transaction": None,
                "charge": "ch_3QFjXb2eZvKYlo2C1",
                "created": 1_764_589_000,
                "currency": "eur",
                "metadata": {"refund_key": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"},
                "payment_intent": "pi_3QFjXb2eZvKYlo2C1",
                "reason": None,
                "receipt_number": None,
                "source_transfer_reversal": None,
                "status": status,
                "transfer_reversal": None,
                **refund,
            }
        },
    }
    return json.dumps(document).encode()


CHARGE = {"object": {"object": "charge", "id": "ch_1"}}
payloads = st.text(min_size=0, max_size=400).map(str.encode)


@settings(max_examples=60, deadline=None)
@given(payload=payloads, age=st.integers(min_value=0, max_value=299))
def test_what_stripes_library_signs_we_accept(payload: bytes, age: int) -> None:
    now = int(time.time())
    header = stripes_header(payload, timestamp=now - age)
    assert signature_is_valid(payload, header, SECRET, now)


@settings(max_examples=60, deadline=None)
@given(payload=payloads)
def test_what_we_sign_stripes_library_accepts_and_is_stripes_header(payload: bytes) -> None:
    now = int(time.time())
    ours = sign(payload, SECRET, now)
    assert ours == stripes_header(payload, timestamp=now)
    assert stripe_accepts(payload, ours)


def test_stripes_library_builds_the_event_we_read_from_our_signature() -> None:
    payload, now = refund_event(), int(time.time())
    event = stripe.Webhook.construct_event(payload, sign(payload, SECRET, now), SECRET)
    ours = stripe_events.parse_event(payload)
    assert ours is not None
    assert (event.id, event.type, event.data.object.id) == (
        ours.id,
        ours.type,
        ours.data.object["id"],
    )


def test_several_v1_signatures_one_valid_is_enough_as_while_a_secret_is_rolled() -> None:
    payload, now = refund_event(), int(time.time())
    old = sign(payload, OTHER_SECRET, now).split(",")[1]
    header = f"{sign(payload, SECRET, now)},{old},v0=6ffbb59b2300aae63f272406069a9788598b792a"
    rolled = f"t={now},{old},{sign(payload, SECRET, now).split(',')[1]}"
    for candidate in (header, rolled):
        assert signature_is_valid(payload, candidate, SECRET, now)
        assert stripe_accepts(payload, candidate)


def _forgeries(payload: bytes, now: int) -> dict[str, tuple[bytes, str | None]]:
    good = sign(payload, SECRET, now)
    v1 = good.split(",")[1].removeprefix("v1=")
    return {
        "other secret": (payload, sign(payload, OTHER_SECRET, now)),
        "body changed": (payload + b" ", good),
        "older than 300 s": (payload, sign(payload, SECRET, now - 301)),
        "time changed": (payload, f"t={now - 1},v1={v1}"),
        "v0 only": (payload, f"t={now},v0={v1}"),
        "no time": (payload, f"v1={v1}"),
        "no signature": (payload, f"t={now}"),
        "garbage": (payload, "not a signature"),
        "empty": (payload, ""),
    }


@pytest.mark.parametrize(
    "case", list(_forgeries(b"{}", 0)), ids=lambda case: case.replace(" ", "-")
)
def test_we_and_stripes_library_refuse_the_same_forgeries(case: str) -> None:
    now = int(time.time())
    payload, header = _forgeries(refund_event(), now)[case]
    assert header is not None
    assert not signature_is_valid(payload, header, SECRET, now)
    assert not stripe_accepts(payload, header)


@pytest.mark.parametrize("header", ["t={now},v1=\u00e9", "t=\u00b2,v1={v1}", "t=\u0661,v1={v1}"])
def test_review_a_header_in_other_characters_is_refused_never_a_crash(header: str) -> None:
    # Stripe's own library raises on the first (TypeError from compare_digest): the route
    # would answer 500, not 401.
    payload, now = refund_event(), int(time.time())
    v1 = sign(payload, SECRET, now).split(",")[1].removeprefix("v1=")
    assert not signature_is_valid(payload, header.format(now=now, v1=v1), SECRET, now)


def test_no_header_or_no_secret_is_refused() -> None:
    payload, now = refund_event(), int(time.time())
    assert not signature_is_valid(payload, None, SECRET, now)
    assert not signature_is_valid(payload, sign(payload, SECRET, now), None, now)
    assert not signature_is_valid(payload, sign(payload, "", now), "", now)


# --- The events we read, by Stripe's spec3 ----------------------------------------------------


def test_the_refund_events_we_read_are_stripe_event_types() -> None:
    """Each is an event type a webhook endpoint can enable: ``enabled_events`` of
    ``WebhookEndpoint.create`` in Stripe's library (``refund.failed`` is newer than the
    2024-04-10 spec3, whose list has the others)."""
    (listed,) = typing.get_args(stripe.params.WebhookEndpointCreateParams.__annotations__[
        "enabled_events"
    ])  # fmt: skip
    assert set(REFUND_EVENTS) <= set(typing.get_args(listed))
    operation = stripe_operation("POST", "/v1/webhook_endpoints")
    schema = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    in_spec3 = set(schema["properties"]["enabled_events"]["items"]["enum"])
    assert REFUND_EVENTS - in_spec3 == {"refund.failed"}
    assert "charge.refunded" in in_spec3  # there, and deliberately not read (module doc)


@pytest.mark.parametrize(
    "status", ["pending", "requires_action", "succeeded", "failed", "canceled"]
)
def test_refund_events_are_events_and_refunds_by_stripes_spec(status: str) -> None:
    document = json.loads(refund_event(status, failure_reason="expired_or_canceled_card"))
    validate_stripe_object(document, "event")
    validate_stripe_object(document["data"]["object"], "refund")


@pytest.mark.parametrize(
    ("status", "ours"),
    [
        ("pending", "pending"),
        ("requires_action", "pending"),
        ("succeeded", "succeeded"),
        ("failed", "failed"),
        ("canceled", "failed"),
    ],
)
def test_a_refunds_status_is_read_as_stripe_means_it(status: str, ours: str) -> None:
    event = stripe_events.parse_event(refund_event(status, failure_reason="lost_or_stolen_card"))
    assert event is not None
    state = stripe_events.refund_of(event)
    assert state is not None
    assert (state.status, state.amount, state.currency) == (ours, 1500, "EUR")
    assert state.reference == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert state.provider_reference == "re_3QFjXb2eZvKYlo2C1xS7Y0kP"


def test_a_refund_amount_is_read_back_from_stripes_units() -> None:
    """ISK is two-decimal at Stripe (ISO: none): 150000 at Stripe is 1500 kronur."""
    event = stripe_events.parse_event(refund_event(amount=150000, currency="isk"))
    assert event is not None
    state = stripe_events.refund_of(event)
    assert state is not None and (state.amount, state.currency) == (1500, "ISK")


@pytest.mark.parametrize(
    "payload",
    [
        refund_event(kind="payment_intent.succeeded"),
        refund_event(kind="charge.refunded"),
        json.dumps(
            {"object": "event", "id": "evt_1", "type": "refund.updated", "data": CHARGE}
        ).encode(),
        json.dumps({"object": "list", "data": []}).encode(),
        b"not json",
        b"\xff\xfe",
    ],
    ids=["other-event", "charge-refunded", "not-a-refund", "not-an-event", "text", "bytes"],
)
def test_what_is_no_refund_event_reports_no_refund(payload: bytes) -> None:
    event = stripe_events.parse_event(payload)
    assert event is None or stripe_events.refund_of(event) is None
