"""Each provider's units: exact conversion both ways, and refusal of what a provider cannot take
(at registration, naming the field)."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.adapters.adyen import AdyenProvider
from order_capture.adapters.aplazame import AplazameProvider
from order_capture.adapters.credentials import ProviderCredentials
from order_capture.adapters.stripe import StripeProvider
from order_capture.domain import capture_rules
from order_capture.domain.refunds import check_refundable
from order_capture.errors import InvalidAmountError, UnsupportedCurrencyError
from order_capture.models import (
    Capture,
    CaptureRequest,
    CaptureStatus,
    OrderPlacedDetail,
)
from order_capture.ports import (
    ProviderCaptureLookup,
    ProviderRefundRequest,
)
from order_capture.provider_units import ADYEN, APLAZAME, STRIPE, units_for
from tests.unit.provider_recorder import Recorder, form_body, json_body
from tests.unit.provider_units_support import NOW, capture_request


def refund_request(currency: str, amount: int) -> ProviderRefundRequest:
    return ProviderRefundRequest(
        authorization_reference="ref-1",
        capture_reference="ref-1",
        amount=amount,
        currency=currency,
        idempotency_key="refund-1",
        merchant_id="m-1",
        order_id="o-1",
    )


def adyen(recorder: Recorder) -> AdyenProvider:
    credentials = ProviderCredentials(api_key="k", merchant_account="Shop")
    return AdyenProvider(credentials, 5, recorder.transport)


def stripe(recorder: Recorder) -> StripeProvider:
    return StripeProvider(ProviderCredentials(api_key="sk_test_x"), 5, recorder.transport)


RECEIVED = {"status": "received", "pspReference": "P1"}


def stripe_intent(currency: str, amount: int) -> dict[str, Any]:
    return {"id": "ref-1", "object": "payment_intent", "status": "succeeded",
            "currency": currency.lower(), "amount_received": amount}  # fmt: skip


@pytest.mark.parametrize(
    ("currency", "ours", "adyens"),
    [
        ("CLP", 5000, 500000),  # ISO 0 decimals, Adyen 2
        ("ISK", 1234, 123400),  # ISO 0 decimals, Adyen 2
        ("IDR", 1500000, 15000),  # ISO 2 decimals, Adyen 0
        ("CVE", 250000, 2500),  # ISO 2 decimals, Adyen 0
        ("EUR", 10050, 10050),
        ("KWD", 12345, 12345),
        ("JPY", 500, 500),
    ],
)
def test_defect_11_adyen_amounts_are_in_adyens_exponent(
    currency: str, ours: int, adyens: int
) -> None:
    recorder = Recorder().answer(201, RECEIVED).answer(201, RECEIVED)
    provider = adyen(recorder)

    provider.capture(capture_request(currency, ours))
    assert json_body(recorder.last)["amount"] == {"value": adyens, "currency": currency}
    assert (
        sum(i["quantity"] * i["amountIncludingTax"] for i in json_body(recorder.last)["lineItems"])
        == adyens
    )
    provider.refund(refund_request(currency, ours))
    assert json_body(recorder.last)["amount"] == {"value": adyens, "currency": currency}
    assert ADYEN.from_provider(adyens, currency) == ours


def test_defect_11_adyen_refuses_what_it_cannot_represent_before_sending() -> None:
    recorder = Recorder()
    with pytest.raises(InvalidAmountError, match="multiples of 100"):
        adyen(recorder).capture(capture_request("IDR", 1550))
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("currency", "ours", "stripes"),
    [
        ("ISK", 1234, 123400),  # two-decimal at Stripe, in multiples of 100
        ("MGA", 150000, 1500),  # zero-decimal at Stripe, ISO two
        # Stripe's "special cases": UGX became zero-decimal, but is still sent two-decimal
        # in multiples of 100 ("To charge 5 UGX, provide an amount value of 500").
        ("UGX", 5000, 500000),
        ("KWD", 12340, 12340),  # three decimals, last digit 0
        ("HUF", 105050, 105050),  # two-decimal for charges, as ISO
        ("TWD", 99999, 99999),
        ("JPY", 500, 500),
    ],
)
def test_defect_11_stripe_amounts_are_in_stripes_units(
    currency: str, ours: int, stripes: int
) -> None:
    recorder = Recorder().answer(200, stripe_intent(currency, stripes))
    recorder.answer(200, {"object": "list", "data": []})
    recorder.answer(200, {"id": "re_1", "object": "refund", "status": "succeeded",
                          "amount": stripes, "currency": currency.lower()})  # fmt: skip
    provider = stripe(recorder)

    capture = provider.capture(capture_request(currency, ours, final_capture=True))
    assert form_body(recorder.last)["amount_to_capture"] == str(stripes)
    assert capture.amount == ours
    refund = provider.refund(refund_request(currency, ours))
    assert form_body(recorder.last)["amount"] == str(stripes)
    assert refund.amount == ours


@pytest.mark.parametrize(
    ("currency", "amount"),
    [("KWD", 12345), ("BHD", 1), ("JOD", 999), ("OMR", 5), ("TND", 1001), ("MGA", 150)],
)
def test_defect_11_stripe_refuses_amounts_it_cannot_take(currency: str, amount: int) -> None:
    recorder = Recorder()
    with pytest.raises(InvalidAmountError):
        stripe(recorder).capture(capture_request(currency, amount))
    assert recorder.requests == []


def test_defect_11_stripe_lookup_reads_stripes_units_back() -> None:
    recorder = Recorder().answer(200, stripe_intent("ISK", 123400) | {"metadata": {}})
    found = stripe(recorder).find_capture(
        ProviderCaptureLookup(
            authorization_reference="ref-1", merchant_id="m-1", order_id="o-1",
            provider_reference="ref-1",
        )
    )  # fmt: skip
    assert found is not None and found.amount == 1234


def test_defect_11_aplazame_takes_euros_only() -> None:
    recorder = Recorder()
    provider = AplazameProvider(ProviderCredentials(api_key="k"), 5, recorder.transport)
    with pytest.raises(UnsupportedCurrencyError) as refused:
        provider.capture(capture_request("USD", 1000))
    assert refused.value.field == "currency"
    assert recorder.requests == []


def detail(provider: str, currency: str, **changes: Any) -> OrderPlacedDetail:
    body: dict[str, Any] = {
        "merchant_id": "m",
        "order_id": "o",
        "currency": currency,
        "items": [{"item_id": "a", "sku": "A", "quantity": 3, "unit_amount": 1000}],
        "shipping_amount": 0,
        "payment": {
            "provider": provider,
            "reference": "r",
            "authorized_amount": 3000,
            "expires_at": "2099-01-01T00:00:00Z",
        },
    }
    payment = {key: changes.pop(key) for key in ("authorized_amount",) if key in changes}
    body |= changes
    body["payment"] |= payment
    return OrderPlacedDetail.model_validate(body)


@pytest.mark.parametrize(
    ("provider", "currency", "changes", "field"),
    [
        ("aplazame", "USD", {}, "currency"),
        ("stripe", "KWD", {"authorized_amount": 3010, "shipping_amount": 5}, "items"),
        ("stripe", "KWD", {"authorized_amount": 3005}, "payment.authorized_amount"),
        ("stripe", "MGA", {"shipping_amount": 50, "authorized_amount": 3100}, "items"),
        ("adyen", "IDR", {"shipping_amount": 1, "authorized_amount": 3100}, "items"),
        ("stripe", "IQD", {}, "currency"),
    ],
)
def test_defect_11_an_order_its_provider_cannot_take_is_refused_at_registration(
    provider: str, currency: str, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises((InvalidAmountError, UnsupportedCurrencyError)) as refused:
        capture_rules.register_order(detail(provider, currency, **changes), NOW)
    assert refused.value.field == field
    assert field.rsplit(".", maxsplit=1)[-1] in refused.value.message


def test_defect_11_capture_and_refund_by_amount_must_be_representable() -> None:
    order = capture_rules.register_order(detail("stripe", "KWD"), NOW)
    request = CaptureRequest(merchant_id="m", order_id="o", shipment_id="s", amount=1005)
    with pytest.raises(InvalidAmountError) as refused:
        capture_rules.plan_capture(order, request, NOW)
    assert refused.value.field == "amount"
    captured = Capture(
        capture_id="c", merchant_id="m", order_id="o", shipment_id="s", amount=3000,
        currency="KWD", status=CaptureStatus.CAPTURED, provider="stripe",
        provider_reference="pi", trigger="api", created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    with pytest.raises(InvalidAmountError) as refund_refused:
        check_refundable(captured, 15)
    assert refund_refused.value.field == "amount"
    check_refundable(captured, 10)


def test_exact_inverses_for_every_supported_currency() -> None:
    for units in (STRIPE, ADYEN, APLAZAME, units_for("sandbox")):
        for currency in units.currencies:
            step = units.granularity(currency)
            for amount in (0, step, 7 * step, 123_456 * step):
                value = units.to_provider(amount, currency)
                assert units.from_provider(value, currency) == amount
            if step > 1:
                with pytest.raises(InvalidAmountError):
                    units.to_provider(step + 1, currency)
