"""Who emitted each event the local runtime saw go to EventBridge, so that a wrong count of
announcements explains itself (docs/fault-campaign.md): the function and what it served (the
execution and attempt of a step, the request of the API function, the copy of a delivered
webhook body), or the state machine execution whose own task sent it, and the moment.

On AWS the same is read from the functions' logs and the executions' histories; locally the
runtime notes it beside each event (``LocalRuntime.emitted_events``, key ``emitted_by``)."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any


class Emitters:
    """Names the invocations a runtime runs, counting each step attempt and webhook copy."""

    def __init__(self) -> None:
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def invoked(self, function_id: str, event: Any) -> str:
        """The name of this invocation of ``function_id`` with ``event`` (counted)."""
        served = _served(event)
        with self._lock:
            self._seen[f"{function_id} {served}"] += 1
            count = self._seen[f"{function_id} {served}"]
        if served.startswith("exec "):
            return f"{function_id} {served} attempt {count}"
        if served.startswith("POST /webhooks/"):
            return f"{function_id} {served} copy {count}"
        return f"{function_id} {served}".rstrip()


def emitter(invocation: str | None, entry: dict[str, Any]) -> str:
    """Who sent ``entry`` (a PutEvents entry) now: the invocation running in this thread, else
    the state machine execution named in the entry's resources (Step Functions' own task
    adds the machine's and the execution's ARNs), at the moment."""
    at = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
    if invocation is not None:
        return f"{at} {invocation}"
    executions = [r for r in entry.get("Resources", []) if ":execution:" in r]
    if executions:
        machine, name = executions[-1].split(":execution:", 1)[1].split(":", 1)
        return f"{at} {machine} execution {_short(name)} (its own task)"
    return f"{at} unknown"


def _served(event: Any) -> str:
    if not isinstance(event, dict):
        return ""
    execution = event.get("execution_id")
    if isinstance(execution, str):
        return f"exec {_short(execution.rsplit(':', 1)[-1])}"
    if "httpMethod" in event:
        path = str(event.get("path"))
        if path.startswith("/webhooks/"):
            body = str(event.get("body") or "").encode()
            return f"POST {path} body {hashlib.sha256(body).hexdigest()[:8]}"
        return f"{event['httpMethod']} {path}"
    capture = event.get("capture")
    if isinstance(capture, dict) and "task_token" in event:
        return f"waiting for {capture.get('capture_id')}"
    return ""


def _short(name: str) -> str:
    """An execution's name, shortened to what tells executions apart (its end)."""
    return name if len(name) <= 24 else f"...{name[-16:]}"
