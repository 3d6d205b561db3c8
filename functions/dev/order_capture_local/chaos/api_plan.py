"""The API campaign's plan: its orders (some at the API's limits), the requests a client
sends, and the faults the providers are told to make."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

MERCHANT = "merchant-api-chaos"
SANDBOX_CURRENCIES = ["EUR", "USD", "JPY", "KWD", "GBP"]
#: Answers a valid request must never get: an internal error, a gateway error (the function
#: failed), an unsupported media type for a content type the API documents.
UNEXPECTED_STATUSES = frozenset({500, 502, 415})
#: The largest amount the models accept, and the largest order the API takes (lines, id length).
MAX_LINES = 1000
MAX_ID = 128
CAPTURE_KINDS = frozenset({"capture_amount", "capture_items", "capture_medusa", "capture_omnitron"})


@dataclass
class Sent:
    """One client request, as the client finally saw it (after its own retries)."""

    kind: str
    order_id: str
    method: str
    path: str
    body: Any
    key: str
    scheme: str = "Bearer"
    content_type: str = "application/json"
    #: Items a capture asked for: item id -> units (None: every open unit of the line).
    asked: dict[str, int | None] | None = None
    status: int | None = None
    text: str = ""
    attempts: int = 0
    #: How long the client waited for its final answer, retries included.
    seconds: float = 0.0

    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None


@dataclass
class ApiOrderPlan:
    order_id: str
    provider: str
    detail: dict[str, Any]
    numeric_items: bool
    seed: int
    large: bool = False


#: (probability, kind, operation) of a fault before a step; the rest of the time none.
SANDBOX_FAULTS = [
    (0.05, "unavailable", "capture"),
    (0.04, "timeout_after_capture", "capture"),
    (0.03, "latency", "capture"),
    (0.02, "decline", "capture"),
    (0.08, "async", "capture"),
    (0.03, "async_failed", "capture"),
    (0.03, "async_reversed", "capture"),
    (0.03, "unavailable", "refund"),
    (0.02, "decline", "refund"),
    (0.05, "async", "refund"),
    (0.02, "async_failed", "refund"),
    (0.02, "async_reversed", "refund"),
]
APLAZAME_FAULTS = [
    (0.05, "unavailable", "capture"),
    (0.04, "error_after", "capture"),
    (0.04, "timeout_after", "capture"),
    (0.04, "unavailable", "refund"),
    (0.04, "error_after", "refund"),
    (0.05, "timeout_after", "refund"),
]


def again(sent: Sent) -> Sent:
    """The same request with the same key (a client's retry)."""
    return Sent(
        sent.kind, sent.order_id, sent.method, sent.path, sent.body, sent.key, sent.scheme,
        sent.content_type, sent.asked,
    )  # fmt: skip


# --- orders -----------------------------------------------------------------------------------


def plan_order(rng: random.Random, order_id: str, large: bool) -> ApiOrderPlan:
    provider = "aplazame" if rng.random() < 0.3 else "sandbox"
    currency = "EUR" if provider == "aplazame" else rng.choice(SANDBOX_CURRENCIES)
    numeric = not large and rng.random() < 0.5
    count = MAX_LINES if large else rng.randint(1, 4)
    lines: list[dict[str, Any]] = []
    for index in range(1, count + 1):
        if large:  # the longest ids the API accepts
            item_id = f"{index:04d}-".ljust(MAX_ID, "x")
        else:
            item_id = str(100 + index) if numeric else f"line-{index}"
        quantity = 1 if large else rng.randint(1, 4)
        unit_amount = rng.randint(1, 999) if large else rng.randint(0, 50_000)
        lines.append(
            {
                "item_id": item_id,
                "sku": f"S{index}" if large else f"SKU-{rng.randint(1, 999)}",
                "quantity": quantity,
                "unit_amount": unit_amount,
                "discount_amount": rng.randint(0, quantity * unit_amount // 3),
                "tax_amount": 0 if large else rng.randint(0, 3_000),
            }
        )
    total = sum(
        line["quantity"] * line["unit_amount"] - line["discount_amount"] + line["tax_amount"]
        for line in lines
    )
    shipping = rng.choice([0, 495, 1000])
    # Some authorizations are below the order's total: never capture more than authorized.
    short = rng.randint(0, total // 4) if rng.random() < 0.1 else 0
    detail = {
        "merchant_id": MERCHANT,
        "currency": currency,
        "items": lines,
        "shipping_amount": shipping,
        "payment": {
            "provider": provider,
            "reference": f"auth-{order_id}",
            "authorized_amount": max(1, total + shipping - short),
            "expires_at": "2099-01-01T00:00:00Z",
        },
    }
    return ApiOrderPlan(order_id, provider, detail, numeric, rng.getrandbits(32), large)


def huge_amount_order(order_id: str, seed: int) -> ApiOrderPlan:
    """An order at the largest amounts the API accepts (a total of 10^15 minor units)."""
    unit = (10**15 - 1) // 3
    detail = {
        "merchant_id": MERCHANT,
        "currency": "JPY",
        "items": [
            {
                "item_id": "101",
                "sku": "GOLD",
                "quantity": 3,
                "unit_amount": unit,
                "discount_amount": 0,
                "tax_amount": 0,
            },
        ],
        "shipping_amount": 10**15 - 3 * unit,
        "payment": {
            "provider": "sandbox",
            "reference": f"auth-{order_id}",
            "authorized_amount": 10**15,
            "expires_at": "2099-01-01T00:00:00Z",
        },
    }
    return ApiOrderPlan(order_id, "sandbox", detail, True, seed)
