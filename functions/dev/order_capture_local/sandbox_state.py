"""What the sandbox provider (order_capture_local.sandbox) keeps in memory: its authorizations,
captures and refunds, the answers it replays per Idempotency-Key, the releases it made, and the
faults queued to strike its next captures or refunds."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: ``async_reversed``: confirmed by a first notification, then failed by a second one (the
#: provider took the money back), as a late Adyen ``CAPTURE_FAILED`` / ``REFUND_FAILED`` does.
ASYNC_FAULT_KINDS = frozenset({"async", "async_failed", "async_reversed"})
FAULT_KINDS = frozenset(
    {"unavailable", "decline", "expired_authorization", "timeout_after_capture", "latency"}
    | ASYNC_FAULT_KINDS
)


@dataclass
class Fault:
    kind: str
    count: int
    status: int = 503
    delay_seconds: float = 0.0
    #: Which calls the fault strikes: ``capture`` or ``refund``.
    operation: str = "capture"


@dataclass
class SandboxState:
    authorizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    captures: list[dict[str, Any]] = field(default_factory=list)
    #: idempotency key -> (request body, status, response body)
    replies: dict[str, tuple[dict[str, Any], int, dict[str, Any]]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    #: How many times each fault kind has struck (the fault campaign reports them).
    faults_served: Counter[str] = field(default_factory=Counter)
    #: Every release of an authorization's rest (a release request, or a final capture), and
    #: every capture refused because its authorization was released: the fault campaign's.
    releases: list[dict[str, Any]] = field(default_factory=list)
    captures_after_release: list[str] = field(default_factory=list)
    #: Of each capture so refused: its authorization, idempotency key, amount and final flag.
    refused_after_release: list[dict[str, Any]] = field(default_factory=list)
    #: Authorizations a capture of which was confirmed, then reversed (``async_reversed``):
    #: where a final capture also released the rest, the reversed units are capturable again
    #: but no capture of them can succeed (the campaign reports those apart).
    reversed_captures: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note_release(self, authorization: dict[str, Any], by: str, key: str | None) -> None:
        """Called with the lock held, as ``authorization`` is released ``by`` a request (a
        release, or a final capture) under idempotency ``key``: the campaign names who
        released an authorization twice by its keys (a release id, a capture id)."""
        in_flight = [
            c["id"] for c in self.captures
            if c["authorization_id"] == authorization["id"] and c["status"] == "pending"
        ]  # fmt: skip
        self.releases.append(
            {
                "authorization_id": authorization["id"],
                "by": by,
                "key": key,
                "captures_in_flight": in_flight,
            }
        )

    def take_fault(self, operation: str = "capture") -> Fault | None:
        with self.lock:
            fault = next((f for f in self.faults if f.operation == operation), None)
            if fault is None:
                return None
            self.faults_served[fault.kind] += 1
            fault.count -= 1
            if fault.count <= 0:
                self.faults.remove(fault)
            return fault
