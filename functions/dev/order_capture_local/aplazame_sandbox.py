"""A sandbox of Aplazame's merchant API on loopback, for the fault campaign.

It answers what ``adapters/aplazame.py`` calls, in Aplazame's shapes (its docs' examples, as in
``tests/unit/test_aplazame_contract.py``), and keeps what it really captured and refunded:

* ``POST /orders/{id}/captures`` ``{"amount"}``: a capture (``{"id", "amount", "created",
  "refunds", "refunded_amount", "remaining_amount", "remaining_capture_amount"}``); above what
  the order has left is ``400`` with ``fields.amount``, as Aplazame answers.
* ``GET /orders/{id}/captures``: ``{"remaining_capture_amount", "results": [capture]}``.
* ``POST /orders/{id}/captures/{capture}/refunds`` ``{"amount"}``: the capture with all its
  refunds; above what the capture has left is ``400`` with ``fields.amount``.
* ``POST /orders/{id}/void`` ``{"amount"}``: gives back what is not captured.

Aplazame takes no idempotency keys, so nothing here deduplicates: a request sent twice is
served twice, which is what the campaign must never make the service do. Faults
(:meth:`AplazameSandbox.add_fault`) strike the next captures or refunds: ``unavailable``
(``503``, nothing done), ``error_after`` (done, then ``500``) and ``timeout_after`` (done, then
the answer comes only after ``delay_seconds``, past the client's timeout).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

APLAZAME_FAULT_KINDS = frozenset({"unavailable", "error_after", "timeout_after"})


@dataclass
class AplazameFault:
    kind: str
    operation: str  # capture or refund
    delay_seconds: float = 0.0


@dataclass
class AplazameState:
    #: Aplazame order id -> {"amount", "captured", "voided"}.
    orders: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Aplazame order id -> its captures, each with its ``refunds``.
    captures: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    faults: list[AplazameFault] = field(default_factory=list)
    faults_served: Counter[str] = field(default_factory=Counter)
    #: Every void (the order id, amount asked and voided), and every capture of an order
    #: after a void: the fault campaign's release figures.
    voids: list[dict[str, Any]] = field(default_factory=list)
    captures_after_void: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _error(status: int, message: str, amount_field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": f"Api{status}Exception", "message": message}
    if amount_field:
        error["fields"] = {"amount": [amount_field]}
    return {"error": error}


class _Handler(BaseHTTPRequestHandler):
    server: AplazameSandbox
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the campaign reads stdout."""

    def _send(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _parts(self) -> list[str]:
        return [part for part in self.path.split("?")[0].split("/") if part]

    def do_GET(self) -> None:
        parts = self._parts()
        state = self.server.state
        if len(parts) == 3 and parts[0] == "orders" and parts[2] == "captures":
            with state.lock:
                if parts[1] not in state.orders:
                    self._send(404, _error(404, "order not found"))
                    return
                body = {
                    "remaining_capture_amount": self.server.remaining(parts[1]),
                    "results": [dict(c) for c in state.captures.get(parts[1], [])],
                }
            self._send(200, body)
            return
        self._send(404, _error(404, "not found"))

    def do_POST(self) -> None:
        parts = self._parts()
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = None
        amount = body.get("amount") if isinstance(body, dict) else None
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            self._send(400, _error(400, "invalid amount", "must be a positive integer"))
            return
        if len(parts) == 3 and parts[0] == "orders" and parts[2] == "captures":
            self._faulty("capture", lambda: self.server.capture(parts[1], amount))
        elif len(parts) == 5 and parts[0] == "orders" and parts[4] == "refunds":
            self._faulty("refund", lambda: self.server.refund(parts[1], parts[3], amount))
        elif len(parts) == 3 and parts[0] == "orders" and parts[2] == "void":
            self._send(*self.server.void(parts[1], amount))
        else:
            self._send(404, _error(404, "not found"))

    def _faulty(self, operation: str, act: Any) -> None:
        fault = self.server.take_fault(operation)
        if fault is not None and fault.kind == "unavailable":
            self._send(503, _error(503, "injected fault: unavailable"))
            return
        status, answer = act()
        if fault is not None and fault.kind == "error_after":
            self._send(500, _error(500, "injected fault: error after the operation"))
            return
        if fault is not None and fault.kind == "timeout_after":
            time.sleep(fault.delay_seconds)
        # The client may have given up waiting: the answer is lost, what was done stays done.
        with contextlib.suppress(OSError):
            self._send(status, answer)


class AplazameSandbox(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.state = AplazameState()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def checkout(self, order_id: str, amount: int) -> None:
        """What Aplazame's checkout does before the order is placed: an approved loan."""
        with self.state.lock:
            self.state.orders.setdefault(order_id, {"amount": amount, "captured": 0, "voided": 0})
            self.state.captures.setdefault(order_id, [])

    def add_fault(self, kind: str, operation: str = "capture", delay_seconds: float = 0) -> None:
        if kind not in APLAZAME_FAULT_KINDS:
            raise ValueError(f"unknown Aplazame fault {kind!r}")
        with self.state.lock:
            self.state.faults.append(AplazameFault(kind, operation, delay_seconds))

    def take_fault(self, operation: str) -> AplazameFault | None:
        with self.state.lock:
            fault = next((f for f in self.state.faults if f.operation == operation), None)
            if fault is not None:
                self.state.faults.remove(fault)
                self.state.faults_served[f"{operation} {fault.kind}"] += 1
            return fault

    def remaining(self, order_id: str) -> int:
        """Called with the lock held."""
        order = self.state.orders[order_id]
        return order["amount"] - order["captured"] - order["voided"]

    def capture(self, order_id: str, amount: int) -> tuple[int, dict[str, Any]]:
        with self.state.lock:
            if order_id not in self.state.orders:
                return 404, _error(404, "order not found")
            if self.state.orders[order_id]["voided"]:
                self.state.captures_after_void.append(order_id)
            if amount > self.remaining(order_id):
                return 400, _error(400, "amount exceeds the order", "exceeds what is left")
            self.state.orders[order_id]["captured"] += amount
            capture = {
                "id": uuid.uuid4().hex,
                "amount": amount,
                "created": datetime.now(UTC).isoformat(),
                "refunds": [],
                "refunded_amount": 0,
                "remaining_amount": amount,
            }
            self.state.captures[order_id].append(capture)
            return 200, {**capture, "remaining_capture_amount": self.remaining(order_id)}

    def refund(self, order_id: str, capture_id: str, amount: int) -> tuple[int, dict[str, Any]]:
        with self.state.lock:
            capture = next(
                (c for c in self.state.captures.get(order_id, []) if c["id"] == capture_id), None
            )
            if capture is None:
                return 404, _error(404, "capture not found")
            if amount > capture["remaining_amount"]:
                return 400, _error(400, "amount exceeds the capture", "exceeds what is left")
            capture["refunds"].append(
                {
                    "id": uuid.uuid4().hex,
                    "amount": amount,
                    "created": datetime.now(UTC).isoformat(),
                }
            )
            capture["refunded_amount"] += amount
            capture["remaining_amount"] -= amount
            return 200, json.loads(json.dumps(capture))

    def void(self, order_id: str, amount: int) -> tuple[int, dict[str, Any]]:
        with self.state.lock:
            if order_id not in self.state.orders:
                return 404, _error(404, "order not found")
            voided = min(amount, self.remaining(order_id))
            self.state.orders[order_id]["voided"] += voided
            self.state.voids.append({"order_id": order_id, "amount": amount, "voided": voided})
            return 200, {"remaining_amount": self.remaining(order_id), "results": []}

    def start(self) -> AplazameSandbox:
        self._thread = threading.Thread(target=self.serve_forever, name="aplazame", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
