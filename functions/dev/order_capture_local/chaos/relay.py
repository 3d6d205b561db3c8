"""A webhook relay between the sandbox provider and the API: it takes each notification the
sandbox sends (answering ``[accepted]``, so the sandbox is done with it) and delivers it to the
API the way an unlucky provider would, retrying each delivery until the API accepts it, as
Adyen does:

* ``direct``: at once;
* ``late``: after ``late_seconds`` (past the confirmation workflow's wait);
* ``repeated``: two or three times, some copies at the same moment;
* ``held``: only when :meth:`WebhookRelay.release_held` is called, after the campaign ran
  reconciliation (a notification that came after everything else, or seemed lost).

A notification the API still refuses after ``attempts`` deliveries is counted as never accepted.
"""

from __future__ import annotations

import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("direct", "late", "repeated", "held")


class _Handler(BaseHTTPRequestHandler):
    server: WebhookRelay
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the campaign reads stdout."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.take(self.path, body)
        payload = b"[accepted]"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class WebhookRelay(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        target_url: str,
        seed: int,
        weights: dict[str, float] | None = None,
        late_seconds: float = 3.0,
        attempts: int = 40,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.target_url = target_url.rstrip("/")
        self.random = random.Random(seed)
        self.weights = weights or {"direct": 0.55, "late": 0.15, "repeated": 0.2, "held": 0.1}
        self.late_seconds = late_seconds
        self.attempts = attempts
        self.counts: Counter[str] = Counter()
        #: The first notifications the API never accepted (for the campaign's examples).
        self.refused: list[str] = []
        self._lock = threading.Lock()
        self._held: list[tuple[str, bytes]] = []
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def take(self, path: str, body: bytes) -> None:
        with self._lock:
            mode = self.random.choices(list(self.weights), list(self.weights.values()))[0]
            copies = self.random.choice([2, 3]) if mode == "repeated" else 1
            self.counts[f"webhook notifications {mode}"] += 1
            if mode == "held":
                self._held.append((path, body))
                return
        delay = self.late_seconds if mode == "late" else 0.0
        for copy in range(copies):
            # Repeated copies: the first two at the same moment, a third a little later.
            self._deliver_later(path, body, delay + (0.5 if copy == 2 else 0.0))

    def deliver(self, path: str, body: str) -> None:
        """Deliver a notification of the campaign's own making, at once."""
        self.counts["webhook notifications direct"] += 1
        self._deliver_later(path, body.encode(), 0.0)

    def release_held(self) -> int:
        with self._lock:
            held, self._held = self._held, []
        for path, body in held:
            self._deliver_later(path, body, 0.0)
        return len(held)

    def wait_idle(self, timeout_seconds: float) -> bool:
        """Wait until no delivery is in flight (held ones do not count)."""
        deadline = time.monotonic() + timeout_seconds
        with self._idle:
            while self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _deliver_later(self, path: str, body: bytes, delay: float) -> None:
        with self._lock:
            self._in_flight += 1
        threading.Thread(
            target=self._deliver, args=(path, body, delay), name="relay", daemon=True
        ).start()

    def _deliver(self, path: str, body: bytes, delay: float) -> None:
        try:
            time.sleep(delay)
            for attempt in range(self.attempts):
                if attempt:
                    time.sleep(0.2)
                if _accepted(f"{self.target_url}{path}", body):
                    with self._lock:
                        self.counts["webhook deliveries"] += attempt + 1
                    return
            with self._lock:
                self.counts["webhook deliveries"] += self.attempts
                self.counts["never accepted"] += 1
                if len(self.refused) < 5:
                    self.refused.append(
                        f"{path.split('?', maxsplit=1)[0]}: {body[:300].decode(errors='replace')}"
                    )
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def start(self) -> WebhookRelay:
        threading.Thread(target=self.serve_forever, name="relay-server", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def _accepted(url: str, payload: bytes) -> bool:
    request = urllib.request.Request(
        url, data=payload, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return b"[accepted]" in response.read()
    except (urllib.error.URLError, OSError):
        return False
