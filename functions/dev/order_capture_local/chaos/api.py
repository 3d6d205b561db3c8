"""The API campaign: merchants' clients driving the HTTP API while everything goes wrong.

Orders are registered with ``PUT /orders/{id}`` (paid with the sandbox provider, which plays
Adyen's asynchronous confirmations, or with Aplazame, played by ``aplazame_sandbox``), then
each order runs a short random script of client requests, several orders at once:

* captures by amount and by items (native, Aplazame's dialect), of everything (Medusa), of
  whole lines and of every line (Omnitron);
* cancellations, some of units already captured (which must never take captured money);
* refunds of captured captures, some above what is left;
* races: two or three captures with different keys at once, refunds of one capture at once,
  a cancellation during a capture, the same request with the same key at once;
* same-key retries of earlier requests, and a client that retries 5xx answers with its key.

Meanwhile the providers fail (unavailable, timeouts after capturing or refunding, declines,
"received" answers confirmed, failed or reversed later by webhook), the webhook relay
delivers notifications late, repeatedly, out of order or only at the end, signed
notifications of refunds made outside the service arrive, and reconciliation runs every few
seconds. What every request finally got is kept for the verdict (``api_verdict``).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from order_capture_local.aplazame_sandbox import AplazameSandbox
from order_capture_local.chaos.api_operations import (
    OPERATIONS,
    WEIGHTS,
    capture_everything,
    capture_items,
    refund,
)
from order_capture_local.chaos.api_plan import (
    APLAZAME_FAULTS,
    MERCHANT,
    SANDBOX_FAULTS,
    UNEXPECTED_STATUSES,
    ApiOrderPlan,
    Sent,
    again,
    huge_amount_order,
    plan_order,
)
from order_capture_local.chaos.relay import WebhookRelay
from order_capture_local.runtime import LocalRuntime
from order_capture_local.sandbox import SandboxServer
from order_capture_local.sandbox_webhooks import sign_notification


@dataclass
class World:
    """What the campaign drives and watches."""

    runtime: LocalRuntime
    api_url: str
    api_key: str
    sandbox: SandboxServer
    aplazame: AplazameSandbox
    relay: WebhookRelay
    hmac_key: str


@dataclass
class ApiCampaign:
    seed: int
    orders_wanted: int
    concurrency: int = 6
    large_orders: int = 1
    api_key: str = ""
    plans: list[ApiOrderPlan] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    unexpected_examples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- the plan -------------------------------------------------------------------------------

    def plan(self) -> None:
        rng = random.Random(self.seed)
        for index in range(self.orders_wanted):
            order_id = f"api-{self.seed}-{index:04d}"
            if index == self.large_orders:
                self.plans.append(huge_amount_order(order_id, rng.getrandbits(32)))
            else:
                self.plans.append(plan_order(rng, order_id, large=index < self.large_orders))

    # --- running --------------------------------------------------------------------------------

    def run(self, world: World, progress: Any = None) -> None:
        self.api_key = world.api_key
        done = 0
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="api-client") as pool:
            for _ in pool.map(lambda plan: self._play(world, plan), self.plans):
                done += 1
                if progress is not None and (done % 10 == 0 or done == len(self.plans)):
                    progress(f"api orders {done}/{len(self.plans)}")
        self._post_foreign_notifications(world)

    def _play(self, world: World, plan: ApiOrderPlan) -> None:
        rng = random.Random(plan.seed)
        with httpx.Client(base_url=world.api_url, timeout=300) as client:
            payment = plan.detail["payment"]
            if plan.provider == "aplazame":
                world.aplazame.checkout(payment["reference"], payment["authorized_amount"])
            put = self._request(rng, "put", plan, f"PUT /orders/{plan.order_id}", plan.detail)
            self._send(client, world, put)
            if rng.random() < 0.1:
                self._send(client, world, again(put))
            if put.status != 200:
                return
            # A large order: half its lines by items, then everything (Medusa), then a refund.
            script = [capture_items, capture_everything, refund] if plan.large else None
            for step in range(len(script) if script else rng.randint(3, 8)):
                self._arm_faults(world, plan, rng)
                operation = (
                    script[step]
                    if script
                    else rng.choices(OPERATIONS, [weight for _, weight in WEIGHTS])[0]
                )
                requests = operation(self, client, plan, rng)
                _send_together(self, client, world, requests)
                if rng.random() < 0.12:
                    earlier = [s for s in self._sent_of(plan) if s.kind != "put"]
                    if earlier:
                        self._send(client, world, again(rng.choice(earlier)))

    def _sent_of(self, plan: ApiOrderPlan) -> list[Sent]:
        with self.lock:
            return [sent for sent in self.sent if sent.order_id == plan.order_id]

    def _request(
        self, rng: random.Random, kind: str, plan: ApiOrderPlan, target: str, body: Any,
        **extra: Any,
    ) -> Sent:  # fmt: skip
        """A request of ``kind`` (target: "METHOD /path"), under a fresh Idempotency-Key."""
        method, path = target.split(" ", 1)
        key = f"{kind}-{rng.getrandbits(64):016x}"
        sent = Sent(kind, plan.order_id, method, path, body, key=key)
        for name, value in extra.items():
            setattr(sent, name, value)
        return sent

    def _send(self, client: httpx.Client, world: World, sent: Sent, retries: int = 3) -> Sent:
        """Send as a careful client does: a 5xx, a lost answer or a request still in progress
        is retried with the same Idempotency-Key (README: 503 means retry later)."""
        headers = {
            "Authorization": f"{sent.scheme} {world.api_key}",
            "Idempotency-Key": sent.key,
        }
        if sent.path.startswith("/admin/"):  # Medusa's route: medusa-js's header (template)
            headers["x-medusa-access-token"] = world.api_key
        content = None
        if sent.body is not None:
            headers["Content-Type"] = sent.content_type
            content = json.dumps(sent.body).encode()
        with self.lock:
            self.sent.append(sent)
        started = time.monotonic()
        for attempt in range(retries + 1):
            try:
                response = client.request(sent.method, sent.path, content=content, headers=headers)
                status, text = response.status_code, response.text
            except httpx.HTTPError as error:
                status, text = None, f"{type(error).__name__}"
            sent.attempts += 1
            if _unexpected(status, text):
                with self.lock:
                    self.unexpected[f"{sent.kind} {status}"] += 1
                    if len(self.unexpected_examples) < 5:
                        self.unexpected_examples.append(
                            f"{sent.kind} {sent.method} {sent.path} {json.dumps(sent.body)[:120]}"
                            f" -> {status} {text[:300]}"
                        )
            sent.status, sent.text = status, text
            retryable = status is None or status >= 500 or "in progress" in text
            if not retryable or attempt == retries:
                break
            time.sleep(0.3 * (attempt + 1))
        sent.seconds = time.monotonic() - started
        return sent

    # --- faults ---------------------------------------------------------------------------------

    def _arm_faults(self, world: World, plan: ApiOrderPlan, rng: random.Random) -> None:
        roll = rng.random()
        if plan.provider == "aplazame":
            for threshold, kind, operation in APLAZAME_FAULTS:
                if roll < threshold:
                    world.aplazame.add_fault(kind, operation, delay_seconds=0.6)
                    self._count(f"aplazame {operation} {kind}")
                    return
                roll -= threshold
            return
        for threshold, kind, operation in SANDBOX_FAULTS:
            if roll < threshold:
                delay = 0.5 if kind == "timeout_after_capture" else rng.choice([0.05, 0.3, 1.0])
                world.sandbox.add_fault(
                    kind, count=1, status=rng.choice([500, 503]), delay_seconds=delay,
                    operation=operation,
                )  # fmt: skip
                self._count(f"sandbox {operation} {kind}")
                return
            roll -= threshold

    def _count(self, what: str) -> None:
        with self.lock:
            self.injected[what] += 1

    def _post_foreign_notifications(self, world: World) -> None:
        """Signed notifications of refunds made outside the service (in the provider's own
        back office), whose merchant reference looks like one of ours: to be accepted and
        ignored."""
        rng = random.Random(self.seed + 1)
        for index in range(3):
            item = {
                "pspReference": f"psp-external-{index}",
                "originalReference": "auth-external",
                "merchantAccountCode": "SandboxECOM",
                "merchantReference": f"{rng.getrandbits(128):032x}",
                "amount": {"value": 1000, "currency": "EUR"},
                "eventCode": "REFUND",
                "success": "true",
                "reason": "",
            }
            item["additionalData"] = {"hmacSignature": sign_notification(item, world.hmac_key)}
            body = {"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}
            world.relay.deliver(f"/webhooks/sandbox?merchant_id={MERCHANT}", json.dumps(body))
            self._count("external refund notifications")


def _send_together(
    campaign: ApiCampaign, client: httpx.Client, world: World, requests: list[Sent]
) -> None:
    if len(requests) == 1:
        campaign._send(client, world, requests[0])
        return
    threads = [
        threading.Thread(target=campaign._send, args=(client, world, sent)) for sent in requests
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _unexpected(status: int | None, text: str) -> bool:
    """An internal error, a 415 for a documented content type, or the gateway's own 502 (the
    function failed); a 502 in the dialect's shape (``outcome_unknown``) is documented."""
    if status == 502:
        return "outcome_unknown" not in text
    return status in UNEXPECTED_STATUSES
