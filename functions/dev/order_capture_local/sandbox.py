"""A sandbox payment provider: a real HTTP server on loopback for local runs and tests.

It keeps authorizations and captures in memory and behaves like a careful provider:

* ``PUT /authorizations/{id}`` ``{"amount", "currency", "expires_at"}``: create an authorization
  (what a checkout does before the order is placed); repeating it with the same body is a no-op.
* ``GET /authorizations/{id}``: the authorization with its ``captured_amount``.
* ``POST /authorizations/{id}/captures`` ``{"amount", "currency", ...}`` with an
  ``Idempotency-Key`` header: captures. The same key replays the first answer (header
  ``Idempotent-Replayed: true``); the same key with another body is ``409``. Over-capture is
  ``402 amount_exceeds_authorization``, an expired authorization ``402 authorization_expired``.
  A capture with ``"final": true`` releases what the authorization has left (once it
  succeeds: an asynchronous one when it is confirmed).
* ``GET /captures``: every capture made (tests count them to prove "never twice");
  ``GET /captures/{id}``: one capture with its refunds.
* ``GET /authorizations/{id}/captures?idempotency_key=...``: the authorization's captures (each
  carries the ``idempotency_key`` it was made with), optionally only the one made with that key.
* ``POST /authorizations/{id}/captures/{capture_id}/refunds`` ``{"amount"}`` with an
  ``Idempotency-Key``: refunds part of a capture; above what the capture has left is
  ``402 amount_exceeds_capture``.
* ``POST /authorizations/{id}/release`` with an ``Idempotency-Key``: gives back what is not
  captured; later captures are ``402 authorization_released``.
* ``POST /_faults`` ``{"kind", "count", "status", "delay_seconds"}``: the next ``count`` captures
  fail: ``unavailable`` (answers ``status``, default 503, captures nothing), ``decline``,
  ``expired_authorization`` (answers ``402 authorization_expired``), ``timeout_after_capture``
  (captures, then answers only after ``delay_seconds``) or ``latency``. With
  ``"operation": "refund"`` the fault strikes the next refunds instead (``unavailable``,
  ``decline``, ``async`` or ``async_failed``).
* Asynchronous confirmation, like Adyen: fault ``async`` (or ``async_failed``) makes the next
  captures answer ``"status": "pending"`` ("received"), then POST an Adyen-shaped, HMAC-signed
  ``CAPTURE`` (or ``CAPTURE_FAILED``) notification to ``webhook_url?merchant_id=<merchant>``
  after ``delay_seconds`` (``SandboxServer.configure_webhook``, or ``POST /_webhook``
  ``{"url", "hmac_key"}``), retried until it is answered ``[accepted]``. For refunds the
  notification is ``REFUND`` with ``success`` true or false, as Adyen sends it. Fault
  ``async_reversed`` confirms first, then takes it back with a second notification
  (``CAPTURE_FAILED``, ``REFUND_FAILED``).
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from order_capture_local.sandbox_state import ASYNC_FAULT_KINDS, FAULT_KINDS, Fault, SandboxState
from order_capture_local.sandbox_webhooks import WebhookNotifier

MAX_BODY_BYTES = 1_000_000


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and `make run` read stdout."""

    # --- plumbing -------------------------------------------------------------------------------

    def _send(
        self, status: int, body: dict[str, Any] | list[Any], headers: dict[str, str] | None = None
    ) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return None
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _parts(self) -> list[str]:
        return [part for part in self.path.split("?")[0].split("/") if part]

    # --- routes -----------------------------------------------------------------------------------

    def do_GET(self) -> None:
        parts = self._parts()
        state = self.server.state
        if parts == ["captures"]:
            with state.lock:
                self._send(200, list(state.captures))
            return
        if len(parts) == 2 and parts[0] == "captures":
            with state.lock:
                capture = next((c for c in state.captures if c["id"] == parts[1]), None)
            if capture is None:
                self._send(404, _error("capture_not_found", parts[1]))
            else:
                self._send(200, capture)
            return
        if len(parts) == 3 and parts[0] == "authorizations" and parts[2] == "captures":
            self._list_captures(parts[1])
            return
        if len(parts) == 2 and parts[0] == "authorizations":
            with state.lock:
                authorization = state.authorizations.get(parts[1])
            if authorization is None:
                self._send(404, _error("authorization_not_found", parts[1]))
            else:
                self._send(200, authorization)
            return
        self._send(404, _error("not_found", self.path))

    def do_PUT(self) -> None:
        parts = self._parts()
        body = self._body()
        if len(parts) != 2 or parts[0] != "authorizations":
            self._send(404, _error("not_found", self.path))
            return
        if body is None or not isinstance(body.get("amount"), int) or not body.get("currency"):
            self._send(400, _error("invalid_request", "amount (int) and currency are required"))
            return
        state = self.server.state
        with state.lock:
            authorization = state.authorizations.setdefault(
                parts[1],
                {
                    "id": parts[1],
                    "amount": body["amount"],
                    "currency": body["currency"],
                    "expires_at": body.get("expires_at"),
                    "captured_amount": 0,
                },
            )
        self._send(200, authorization)

    def do_POST(self) -> None:
        parts = self._parts()
        body = self._body()
        if body is None:
            self._send(400, _error("invalid_request", "body must be a JSON object"))
        elif parts == ["_faults"]:
            self._add_fault(body)
        elif parts == ["_webhook"]:
            self.server.configure_webhook(str(body.get("url")), str(body.get("hmac_key")))
            self._send(200, {"url": self.server.webhook_url})
        elif len(parts) == 3 and parts[0] == "authorizations" and parts[2] == "captures":
            self._capture(parts[1], body)
        elif len(parts) == 5 and parts[0] == "authorizations" and parts[4] == "refunds":
            fault = self.server.state.take_fault("refund")
            if fault and fault.kind == "unavailable":
                self._send(fault.status, _error("unavailable", "injected fault"))
                return
            self._once_with_key(
                "refund", body, lambda: self._decide_refund(parts[1], parts[3], body, fault)
            )
        elif len(parts) == 3 and parts[0] == "authorizations" and parts[2] == "release":
            self._once_with_key("release", body, lambda: self._decide_release(parts[1]))
        else:
            self._send(404, _error("not_found", self.path))

    def _add_fault(self, body: dict[str, Any]) -> None:
        fault = Fault(
            kind=str(body.get("kind")),
            count=int(body.get("count", 1)),
            status=int(body.get("status", 503)),
            delay_seconds=float(body.get("delay_seconds", 0)),
            operation=str(body.get("operation", "capture")),
        )
        if fault.kind not in FAULT_KINDS:
            self._send(400, _error("invalid_request", f"unknown fault kind {fault.kind!r}"))
            return
        with self.server.state.lock:
            self.server.state.faults.append(fault)
        self._send(201, {"kind": fault.kind, "count": fault.count})

    def _capture(self, authorization_id: str, body: dict[str, Any]) -> None:
        key = self.headers.get("Idempotency-Key")
        if not key:
            self._send(400, _error("idempotency_key_required", "send an Idempotency-Key header"))
            return
        fault = self.server.state.take_fault()
        if fault and fault.kind == "unavailable":
            self._send(fault.status, _error("unavailable", "injected fault"))
            return
        if fault and fault.kind == "latency":
            time.sleep(fault.delay_seconds)
        status, reply, replayed = self._capture_once(authorization_id, key, body, fault)
        if fault and fault.kind == "timeout_after_capture":
            time.sleep(fault.delay_seconds)
        if fault and fault.kind in ASYNC_FAULT_KINDS and status == 201 and not replayed:
            with self.server.state.lock:
                reply["status"] = "pending"  # received; the outcome follows by webhook
            metadata = body.get("metadata") or {}
            threading.Thread(
                target=self.server.notify_capture,
                args=(reply, str(metadata.get("merchant_id", "")), fault),
                name="sandbox-webhook",
                daemon=True,
            ).start()
        self._send(status, reply, {"Idempotent-Replayed": "true"} if replayed else None)

    def _capture_once(
        self, authorization_id: str, key: str, body: dict[str, Any], fault: Fault | None
    ) -> tuple[int, dict[str, Any], bool]:
        state = self.server.state
        with state.lock:
            if key in state.replies:
                first_body, status, reply = state.replies[key]
                if first_body != body:
                    return (
                        409,
                        _error("idempotency_key_reused", "key used with another body"),
                        False,
                    )
                return status, reply, True
            status, reply = self._decide(authorization_id, body, fault)
            state.replies[key] = (body, status, reply)
            return status, reply, False

    def _decide(
        self, authorization_id: str, body: dict[str, Any], fault: Fault | None
    ) -> tuple[int, dict[str, Any]]:
        state = self.server.state
        authorization = state.authorizations.get(authorization_id)
        amount = body.get("amount")
        if authorization is None:
            return 404, _error("authorization_not_found", authorization_id)
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            return 400, _error("invalid_amount", "amount must be a positive integer")
        if str(body.get("currency", "")).upper() != authorization["currency"].upper():
            return 400, _error("currency_mismatch", f"authorized in {authorization['currency']}")
        if fault and fault.kind == "decline":
            return 402, _error("card_declined", "injected decline")
        expires_at = authorization.get("expires_at")
        if (fault and fault.kind == "expired_authorization") or (
            expires_at and datetime.fromisoformat(expires_at) <= datetime.now(UTC)
        ):
            return 402, _error("authorization_expired", f"expired at {expires_at}")
        if authorization.get("released"):
            state.captures_after_release.append(authorization_id)
            state.refused_after_release.append(
                {
                    "authorization_id": authorization_id,
                    "key": self.headers.get("Idempotency-Key"),
                    "amount": amount,
                    "final": body.get("final") is True,
                }
            )
            return 402, _error("authorization_released", "the authorization was released")
        if authorization["captured_amount"] + amount > authorization["amount"]:
            remaining = authorization["amount"] - authorization["captured_amount"]
            return 402, _error("amount_exceeds_authorization", f"only {remaining} remains")
        authorization["captured_amount"] += amount
        capture = {
            "id": f"cap_{uuid.uuid4().hex[:24]}",
            "authorization_id": authorization_id,
            "amount": amount,
            "currency": authorization["currency"],
            "status": "succeeded",
            "created": datetime.now(UTC).isoformat(),
            "idempotency_key": self.headers.get("Idempotency-Key"),
            "metadata": body.get("metadata") or {},
            "refunded_amount": 0,
            "refunds": [],
        }
        if body.get("final") is True:
            if fault and fault.kind in ASYNC_FAULT_KINDS:
                # Received, not made: the rest is released when it succeeds (a capture that
                # fails releases nothing, and the order can still capture).
                capture["final"] = True
            else:
                state.note_release(authorization, "final capture", capture["idempotency_key"])
                authorization["released"] = True
        state.captures.append(capture)
        return 201, capture

    # --- refunds, lookups, release --------------------------------------------------------------

    def _list_captures(self, authorization_id: str) -> None:
        query = parse_qs(urlsplit(self.path).query)
        key = query.get("idempotency_key", [None])[0]
        state = self.server.state
        with state.lock:
            if authorization_id not in state.authorizations:
                self._send(404, _error("authorization_not_found", authorization_id))
                return
            captures = [
                capture
                for capture in state.captures
                if capture["authorization_id"] == authorization_id
                and (key is None or capture["idempotency_key"] == key)
            ]
        self._send(200, {"captures": captures})

    def _once_with_key(
        self, scope: str, body: dict[str, Any], decide: Callable[[], tuple[int, dict[str, Any]]]
    ) -> None:
        """Run ``decide`` once per Idempotency-Key (in ``scope``) and replay its answer."""
        key = self.headers.get("Idempotency-Key")
        if not key:
            self._send(400, _error("idempotency_key_required", "send an Idempotency-Key header"))
            return
        state = self.server.state
        with state.lock:
            stored = state.replies.get(f"{scope}:{key}")
            if stored is None:
                status, reply = decide()
                state.replies[f"{scope}:{key}"] = (body, status, reply)
                replayed = False
            elif stored[0] != body:
                status, reply = 409, _error("idempotency_key_reused", "key used with another body")
                replayed = False
            else:
                _, status, reply = stored
                replayed = True
        self._send(status, reply, {"Idempotent-Replayed": "true"} if replayed else None)

    def _decide_refund(
        self, authorization_id: str, capture_id: str, body: dict[str, Any], fault: Fault | None
    ) -> tuple[int, dict[str, Any]]:
        """Called with the state lock held."""
        capture = next(
            (
                c
                for c in self.server.state.captures
                if c["id"] == capture_id and c["authorization_id"] == authorization_id
            ),
            None,
        )
        amount = body.get("amount")
        if capture is None:
            return 404, _error("capture_not_found", capture_id)
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            return 400, _error("invalid_amount", "amount must be a positive integer")
        if fault and fault.kind == "decline":
            return 402, _error("refund_declined", "injected decline")
        remaining = capture["amount"] - capture["refunded_amount"]
        if amount > remaining:
            return 402, _error("amount_exceeds_capture", f"only {remaining} remains")
        refund = {
            "id": f"re_{uuid.uuid4().hex[:24]}",
            "capture_id": capture_id,
            "amount": amount,
            "currency": capture["currency"],
            "status": "succeeded",
            "created": datetime.now(UTC).isoformat(),
            "idempotency_key": self.headers.get("Idempotency-Key"),
        }
        capture["refunded_amount"] += amount
        capture["refunds"].append(refund)
        if fault and fault.kind in ASYNC_FAULT_KINDS:
            refund["status"] = "pending"  # received; the outcome follows by webhook
            threading.Thread(
                target=self.server.notify_refund,
                args=(refund, capture, fault),
                name="sandbox-webhook",
                daemon=True,
            ).start()
        return 201, refund

    def _decide_release(self, authorization_id: str) -> tuple[int, dict[str, Any]]:
        """Called with the state lock held."""
        authorization = self.server.state.authorizations.get(authorization_id)
        if authorization is None:
            return 404, _error("authorization_not_found", authorization_id)
        released_amount = (
            0
            if authorization.get("released")
            else (authorization["amount"] - authorization["captured_amount"])
        )
        self.server.state.note_release(
            authorization, "release", self.headers.get("Idempotency-Key")
        )
        authorization["released"] = True
        return 200, {
            "authorization_id": authorization_id,
            "released_amount": released_amount,
            "status": "succeeded",
        }


class SandboxServer(WebhookNotifier, ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.state = SandboxState()
        self._thread: threading.Thread | None = None
        self._init_webhooks()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up before the answer (a provider timeout, ``timeout_after_capture``)
        is what the fault is for: no traceback. Anything else is socketserver's report."""
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipe, ConnectionReset
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def authorize(self, reference: str, amount: Any, currency: Any, expires_at: Any = None) -> None:
        """Create an authorization directly (what a checkout does); ignores bad input, which
        the service itself must reject."""
        if not isinstance(amount, int) or not isinstance(currency, str):
            return
        with self.state.lock:
            self.state.authorizations.setdefault(
                reference,
                {
                    "id": reference,
                    "amount": amount,
                    "currency": currency,
                    "expires_at": expires_at,
                    "captured_amount": 0,
                },
            )

    def add_fault(
        self,
        kind: str,
        count: int = 1,
        status: int = 503,
        delay_seconds: float = 0,
        operation: str = "capture",
    ) -> None:
        with self.state.lock:
            self.state.faults.append(Fault(kind, count, status, delay_seconds, operation))

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self.serve_forever, name="sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
