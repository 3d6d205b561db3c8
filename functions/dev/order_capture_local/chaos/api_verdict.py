"""The API campaign's verdict: the ledger against what the providers really captured and
refunded (the sandbox's and the Aplazame sandbox's own records), and against what each client
request was answered.

Every figure of ``MUST_BE_ZERO`` counts orders, captures, refunds or requests that broke a
guarantee; ``left_to_an_operator`` counts what the service rightly refuses to guess (an
Aplazame capture or refund whose answer was lost and that elimination cannot tell apart).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from order_capture.adapters.dynamodb.codec import CAPTURE_LINES_PREFIX, LINES_SK
from order_capture.adapters.dynamodb.layout import lines_of, orders_in
from order_capture.domain.merchant_api import api_shipment_id, remaining_capture_amount
from order_capture.domain.refunds import refund_id_for
from order_capture.models import capture_id_for
from order_capture_local.chaos.api import ApiCampaign, World
from order_capture_local.chaos.api_plan import CAPTURE_KINDS, MERCHANT, Sent

OPEN_CAPTURE = frozenset({"pending", "requires_action"})


def order_total(order: dict[str, Any]) -> int:
    return int(
        sum(
            line["quantity"] * line["unit_amount"] - line["discount_amount"] + line["tax_amount"]
            for line in order["lines"]
        )
        + order["shipping_amount"]
    )


class ApiVerdict:
    def __init__(self, campaign: ApiCampaign, world: World, ledger: list[dict[str, Any]]) -> None:
        self.campaign = campaign
        self.world = world
        mine = [item for item in ledger if f"#{MERCHANT}#" in item["PK"]]
        self.order_models = orders_in(mine)
        self.orders = {order.order_id: order.model_dump(mode="json") for order in self.order_models}
        catalogs = {item["PK"]: item for item in mine if item["SK"] == LINES_SK}
        lines = {
            item["SK"].removeprefix(CAPTURE_LINES_PREFIX): item
            for item in mine
            if item["SK"].startswith(CAPTURE_LINES_PREFIX)
        }
        self.captures = {}
        for item in mine:
            if item["SK"].startswith("CAPTURE#"):
                capture = dict(item)
                # A capture's lines: an item of their own, or folded into it (layout)
                stored = lines.get(capture["capture_id"]) or (item if "positions" in item else None)
                if stored is not None:
                    named = lines_of(stored, catalogs[item["PK"]])
                    capture["lines"] = [line.model_dump() for line in named]
                self.captures[capture["capture_id"]] = capture
        self.refunds = [item for item in mine if item["SK"].startswith("REFUND#")]
        self.figures: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = defaultdict(list)

    def flag(self, figure: str, what: str) -> None:
        self.figures[figure] += 1
        if len(self.examples[figure]) < 5:
            self.examples[figure].append(what)

    # --- the provider's records ---------------------------------------------------------------

    def sandbox_records(self) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
        state = self.world.sandbox.state
        with state.lock:
            captures = [dict(c, refunds=[dict(r) for r in c["refunds"]]) for c in state.captures]
        by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for capture in captures:
            by_key[capture["idempotency_key"]].append(capture)
        return by_key, captures

    # --- checks -------------------------------------------------------------------------------

    def check(self) -> dict[str, Any]:
        refunds_by_capture: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in self.refunds:
            refunds_by_capture[item["capture_id"]].append(item)
        sandbox_by_key, _ = self.sandbox_records()
        for order_id, order in self.orders.items():
            captures = [c for c in self.captures.values() if c["order_id"] == order_id]
            if order["payment"]["provider"] == "aplazame":
                provider_captured, provider_refunded, operator = self._aplazame_order(
                    order, captures, refunds_by_capture
                )
            else:
                provider_captured, provider_refunded = self._sandbox_order(
                    order, captures, refunds_by_capture, sandbox_by_key
                )
                operator = False
            self._order_totals(order, captures, provider_captured, provider_refunded, operator)
        ours = {c["capture_id"] for c in self.captures.values()}
        for key, made in sandbox_by_key.items():
            if key not in ours and made[0]["metadata"].get("merchant_id") == MERCHANT:
                self.flag("double_provider_captures", f"sandbox capture under unknown key {key}")
        self._requests()
        return {"figures": dict(self.figures), "examples": dict(self.examples)}

    def _unsent(
        self, name: str, capture: dict[str, Any], at_provider: dict[str, Any] | None
    ) -> bool:
        """Whether ``capture`` is a capture of 0 (units worth nothing left to capture), which
        is captured in the ledger and never sent: one the provider holds is flagged."""
        if capture["status"] != "captured" or capture["amount"] != 0:
            return False
        if at_provider is not None:
            self.flag("ledger_provider_mismatches", f"{name}: a capture of 0 was sent")
        return True

    def _sandbox_order(
        self,
        order: dict[str, Any],
        captures: list[dict[str, Any]],
        refunds_by_capture: dict[str, list[dict[str, Any]]],
        sandbox_by_key: dict[str, list[dict[str, Any]]],
    ) -> tuple[int, int]:
        provider_captured = provider_refunded = 0
        for capture in captures:
            made = sandbox_by_key.get(capture["capture_id"], [])
            if len(made) > 1:
                self.flag("double_provider_captures", f"{capture['capture_id']} x{len(made)}")
            at_provider = made[0] if made else None
            succeeded = at_provider is not None and at_provider["status"] == "succeeded"
            name = f"{order['order_id']}/{capture['capture_id']}"
            if capture["status"] in OPEN_CAPTURE:
                self.flag("ledger_provider_mismatches", f"{name} left {capture['status']}")
            elif self._unsent(name, capture, at_provider):
                continue
            elif (capture["status"] == "captured") != succeeded or (
                succeeded and at_provider is not None and at_provider["amount"] != capture["amount"]
            ):
                provider_status = at_provider["status"] if at_provider else "absent"
                self.flag(
                    "ledger_provider_mismatches",
                    f"{name}: ledger {capture['status']}, provider {provider_status}",
                )
            if at_provider is None:
                continue
            if succeeded:
                provider_captured += at_provider["amount"]
            made_refunds = [r for r in at_provider["refunds"] if r["status"] == "succeeded"]
            provider_refunded += sum(r["amount"] for r in made_refunds)
            self._sandbox_refunds(
                name, capture, at_provider, refunds_by_capture[capture["capture_id"]]
            )
        return provider_captured, provider_refunded

    def _sandbox_refunds(
        self,
        name: str,
        capture: dict[str, Any],
        at_provider: dict[str, Any],
        ledger_refunds: list[dict[str, Any]],
    ) -> None:
        by_key = Counter(r["idempotency_key"] for r in at_provider["refunds"])
        ledger_by_id = {r["refund_id"]: r for r in ledger_refunds}
        for key, count in by_key.items():
            if count > 1 or key not in ledger_by_id:
                self.flag("refunds_twice_at_provider", f"{name}: refund key {key} x{count}")
        for made in at_provider["refunds"]:
            ledger = ledger_by_id.get(made["idempotency_key"])
            if ledger is None:
                continue
            expected = {"succeeded": "refunded", "failed": "failed"}.get(made["status"], "pending")
            if ledger["status"] != expected or ledger["amount"] != made["amount"]:
                self.flag(
                    "ledger_provider_mismatches",
                    f"{name}: refund {made['idempotency_key']} ledger {ledger['status']}, "
                    f"provider {made['status']}",
                )
        for ledger in ledger_refunds:
            if ledger["status"] == "refunded" and ledger["refund_id"] not in by_key:
                self.flag("ledger_provider_mismatches", f"{name}: refund {ledger['refund_id']} "
                          "refunded in the ledger, absent at the provider")  # fmt: skip
        self._over_refund(name, capture, at_provider["amount"], at_provider["refunded_amount"])

    def _aplazame_capture(
        self,
        name: str,
        capture: dict[str, Any],
        at_provider: dict[str, Any] | None,
        refunds_by_capture: dict[str, list[dict[str, Any]]],
    ) -> bool:
        """Judge one ledger capture against Aplazame's record of it: True when it matches
        the capture Aplazame made."""
        if self._unsent(name, capture, at_provider):
            return False
        if capture["status"] == "captured":
            if at_provider is None or at_provider["amount"] != capture["amount"]:
                self.flag("ledger_provider_mismatches", f"{name}: captured, not at Aplazame")
                return False
            self._aplazame_refunds(name, capture, at_provider, refunds_by_capture)
            return True
        if capture["status"] in OPEN_CAPTURE:
            if capture.get("provider_reference") or capture["status"] == "pending":
                self.flag("ledger_provider_mismatches", f"{name} left {capture['status']}")
        elif at_provider is not None:
            self.flag("ledger_provider_mismatches", f"{name}: failed, captured at Aplazame")
        return False

    def _aplazame_order(
        self,
        order: dict[str, Any],
        captures: list[dict[str, Any]],
        refunds_by_capture: dict[str, list[dict[str, Any]]],
    ) -> tuple[int, int, bool]:
        state = self.world.aplazame.state
        with state.lock:
            made = [dict(c, refunds=list(c["refunds"])) for c in state.captures.get(
                order["payment"]["reference"], [])]  # fmt: skip
        by_reference = {c["id"]: c for c in made}
        open_unreferenced = [
            c for c in captures if c["status"] in OPEN_CAPTURE and not c.get("provider_reference")
        ]
        matched: set[str] = set()
        operator = False
        for capture in captures:
            name = f"{order['order_id']}/{capture['capture_id']}"
            at_provider = by_reference.get(capture.get("provider_reference") or "")
            if self._aplazame_capture(name, capture, at_provider, refunds_by_capture):
                assert at_provider is not None
                matched.add(at_provider["id"])
        unmatched = [c for c in made if c["id"] not in matched]
        if open_unreferenced:
            operator = True
            self.figures["left_to_an_operator"] += len(open_unreferenced)
            if sum(c["amount"] for c in unmatched) > sum(c["amount"] for c in open_unreferenced):
                self.flag("double_provider_captures", f"{order['order_id']}: Aplazame holds more")
        else:
            for capture in unmatched:
                self.flag(
                    "double_provider_captures",
                    f"{order['order_id']}: Aplazame capture {capture['id']} the ledger lacks",
                )
        captured = sum(c["amount"] for c in made)
        refunded = sum(r["amount"] for c in made for r in c["refunds"])
        return captured, refunded, operator

    def _aplazame_refunds(
        self,
        name: str,
        capture: dict[str, Any],
        at_provider: dict[str, Any],
        refunds_by_capture: dict[str, list[dict[str, Any]]],
    ) -> None:
        ledger = refunds_by_capture[capture["capture_id"]]
        done = [r for r in ledger if r["status"] == "refunded"]
        pending = [r for r in ledger if r["status"] == "pending"]
        made = at_provider["refunds"]
        if len(made) > len(done) + len(pending):
            self.flag(
                "refunds_twice_at_provider",
                f"{name}: Aplazame made {len(made)} refunds, the ledger knows "
                f"{len(done)} (+{len(pending)} pending)",
            )
        made_amount = sum(r["amount"] for r in made)
        done_amount = sum(r["amount"] for r in done)
        if not done_amount <= made_amount <= done_amount + sum(r["amount"] for r in pending):
            self.flag("ledger_provider_mismatches", f"{name}: Aplazame refunded {made_amount}, "
                      f"the ledger {done_amount}")  # fmt: skip
        self.figures["left_to_an_operator"] += len(pending)
        self._over_refund(name, capture, at_provider["amount"], made_amount)

    def _over_refund(
        self, name: str, capture: dict[str, Any], provider_amount: int, provider_refunded: int
    ) -> None:
        ledger_refunds = capture.get("refunded_amount", 0) + capture.get("refund_pending_amount", 0)
        if provider_refunded > provider_amount or ledger_refunds > capture["amount"]:
            self.flag("refunds_over_refunded", f"{name}: refunded {provider_refunded} "
                      f"(ledger {ledger_refunds}) of {capture['amount']}")  # fmt: skip

    def _order_totals(
        self,
        order: dict[str, Any],
        captures: list[dict[str, Any]],
        provider_captured: int,
        provider_refunded: int,
        operator: bool,
    ) -> None:
        order_id = order["order_id"]
        total = order_total(order)
        limit = min(total, order["payment"]["authorized_amount"])
        if provider_captured > limit or order["captured_amount"] + order["reserved_amount"] > limit:
            self.flag("over_captures", f"{order_id}: captured {provider_captured} of {limit}")
        if not operator and (
            order["captured_amount"] != provider_captured or order["reserved_amount"] != 0
        ):
            self.flag(
                "ledger_provider_mismatches",
                f"{order_id}: ledger captured {order['captured_amount']} reserved "
                f"{order['reserved_amount']}, provider {provider_captured}",
            )
        if order.get("refunded_amount", 0) > order["captured_amount"]:
            self.flag("refunds_over_refunded", f"{order_id}: order refunded past its captures")
        worth = total - order["canceled_amount"]
        pending_refunds = sum(c.get("refund_pending_amount", 0) for c in captures)
        kept_by_ledger = order["captured_amount"] - order.get("refunded_amount", 0)
        kept_by_provider = provider_captured - provider_refunded
        if kept_by_ledger - pending_refunds > worth or kept_by_provider - pending_refunds > worth:
            self.flag(
                "cancellations_took_captured_money",
                f"{order_id}: keeps {kept_by_provider} (ledger {kept_by_ledger}) of an order now "
                f"worth {worth} (canceled {order['canceled_amount']} of {total})",
            )

    def _requests(self) -> None:
        refund_ids = {item["refund_id"] for item in self.refunds}
        for sent in self.campaign.sent:
            name = f"{sent.kind} {sent.method} {sent.path} key {sent.key}"
            if sent.status is None or sent.status >= 500:
                if not self._left_to_an_operator(sent, refund_ids):
                    self.flag("lost_shipments", f"{name}: still {sent.status} once all settled")
                continue
            if sent.status != 200:
                continue
            if sent.kind in CAPTURE_KINDS:
                self._captured(name, sent)
            elif sent.kind == "refund":
                body = sent.json() or {}
                refund_id = (body.get("refund") or {}).get("id")
                if refund_id not in refund_ids:
                    self.flag("lost_shipments", f"{name}: answered 200, no refund in the ledger")

    def _captured(self, name: str, sent: Sent) -> None:
        """A capture request answered 200: its capture is in the ledger, as asked."""
        capture_id = capture_id_for(MERCHANT, sent.order_id, api_shipment_id(MERCHANT, sent.key))
        capture = self.captures.get(capture_id)
        if capture is None and sent.kind == "capture_medusa" and self._finished(sent):
            return  # as Medusa's: nothing left to capture, the order answered (200)
        if capture is None:
            self.flag(
                "lost_shipments",
                f"{name}: answered 200 ({sent.text[:160]}), no capture in the ledger",
            )
        elif sent.asked is not None:
            self._asked_for(name, sent.asked, capture)

    def _finished(self, sent: Sent) -> bool:
        """Whether ``sent``'s order had nothing left to capture when a Medusa capture that
        captured nothing answered it: its answer says ``completed`` (captured, nothing left,
        nothing in flight), or the order has nothing left now (an order whose rest is worth
        nothing is ``pending`` with nothing captured; the status may be left out by the
        request's ``fields``; a reversal after the answer may have given units back)."""
        order = (sent.json() or {}).get("order") or {}
        if order.get("status") == "completed":
            return True
        stored = next((o for o in self.order_models if o.order_id == sent.order_id), None)
        return stored is not None and remaining_capture_amount(stored) == 0

    def _left_to_an_operator(self, sent: Sent, refund_ids: set[str]) -> bool:
        """README: ``502 outcome_unknown`` answers a request whose answer an Aplazame lost,
        again on every retry, while its capture or refund stays open for an operator."""
        if sent.status != 502 or "outcome_unknown" not in sent.text:
            return False
        if sent.kind in CAPTURE_KINDS:
            capture_id = capture_id_for(
                MERCHANT, sent.order_id, api_shipment_id(MERCHANT, sent.key)
            )
            capture = self.captures.get(capture_id)
            return capture is not None and capture["status"] in OPEN_CAPTURE
        if sent.kind == "refund":
            capture_id = sent.path.split("/captures/", 1)[1].split("/", 1)[0]
            refund_id = refund_id_for(MERCHANT, capture_id, sent.key)
            pending = {r["refund_id"] for r in self.refunds if r["status"] == "pending"}
            return refund_id in pending and refund_id in refund_ids
        return False

    def _asked_for(self, name: str, asked: dict[str, int | None], capture: dict[str, Any]) -> None:
        """A capture of items takes only the units it was asked for."""
        for line in capture.get("lines") or []:
            limit = asked.get(line["item_id"], 0)
            if line["item_id"] not in asked or (limit is not None and line["quantity"] > limit):
                self.flag(
                    "over_captures",
                    f"{name}: captured {line['quantity']} of {line['item_id']} (asked {limit})",
                )
