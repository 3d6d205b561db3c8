"""A manual-capture PaymentIntent with multicapture, played over httpx.MockTransport: what
Stripe would hold, its answers checked by Stripe's spec3."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import httpx

from tests.unit.provider_specs import validate_stripe_response


class FakeIntent:
    """One manual-capture PaymentIntent with multicapture: what Stripe would hold."""

    def __init__(self, currency: str, capturable: int) -> None:
        self.currency = currency.lower()
        self.capturable = capturable
        self.captured: list[int] = []
        self.finals: list[bool] = []
        self.refunded: list[int] = []

    def intent(self) -> dict[str, Any]:
        card = {"multicapture": {"status": "available"}}
        return {
            "id": "pi_1", "object": "payment_intent", "currency": self.currency,
            "amount_capturable": self.capturable, "amount_received": sum(self.captured),
            "status": "requires_capture" if self.capturable else "succeeded", "metadata": {},
            "latest_charge": {"id": "ch_1", "object": "charge",
                              "payment_method_details": {"card": card}},
        }  # fmt: skip

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """The answer, checked against what Stripe's spec3 documents for the operation."""
        answer = self.answer(request)
        validate_stripe_response(request, answer.status_code, answer.json())
        return answer

    def answer(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode())) if request.content else {}
        path = request.url.path
        if path.endswith("/capture"):
            amount = int(form["amount_to_capture"])
            assert 0 < amount <= self.capturable, "Stripe refuses more than is capturable"
            self.captured.append(amount)
            self.finals.append(form["final_capture"] == "true")
            self.capturable = 0 if form["final_capture"] == "true" else self.capturable - amount
        elif path == "/v1/refunds" and request.method == "POST":
            amount = int(form["amount"])
            assert amount <= sum(self.captured) - sum(self.refunded)
            self.refunded.append(amount)
            return httpx.Response(200, json={"id": f"re_{len(self.refunded)}", "object": "refund",
                                             "amount": amount, "currency": self.currency,
                                             "status": "succeeded"})  # fmt: skip
        elif path == "/v1/refunds":
            return httpx.Response(200, json={"object": "list", "data": []})
        return httpx.Response(200, json=self.intent())
