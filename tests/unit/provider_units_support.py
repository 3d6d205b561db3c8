"""What the provider-units tests share: the moment, each provider's units by name, and a
provider capture request in a currency."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from order_capture.models import CaptureLine
from order_capture.ports import ProviderCaptureRequest
from order_capture.provider_units import ADYEN, APLAZAME, STRIPE

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PROVIDERS = {"stripe": STRIPE, "adyen": ADYEN, "aplazame": APLAZAME}


def capture_request(currency: str, amount: int, **extra: Any) -> ProviderCaptureRequest:
    return ProviderCaptureRequest(
        authorization_reference="ref-1",
        amount=amount,
        currency=currency,
        idempotency_key="key-1",
        lines=extra.pop("lines", [CaptureLine(item_id="i1", quantity=1, amount=amount)]),
        merchant_id="m-1",
        order_id="o-1",
        **extra,
    )
