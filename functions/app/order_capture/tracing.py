"""X-Ray subsegments with annotations, sent to Lambda's X-Ray daemon without the X-Ray SDK.

With ``Tracing: Active`` (template Globals) Lambda records every invocation itself. What the
service adds are the parts worth searching and timing: one ``handler`` subsegment per
invocation, annotated with the merchant, order and shipment ids, and one subsegment per
payment-provider call (``remote``), annotated with the provider and the operation. The X-Ray
SDK (through Powertools' Tracer) did the same but cost more than ``import boto3`` plus a client
at every cold start (BENCHMARKS.md, cold start); a subsegment is one JSON document in one UDP
datagram to the daemon, as the X-Ray documentation describes ("Sending segment documents to
the X-Ray daemon").

Nothing is sent unless Lambda says the invocation is sampled (``_X_AMZN_TRACE_ID`` with
``Sampled=1``) and names its daemon (``AWS_XRAY_DAEMON_ADDRESS``); ``POWERTOOLS_TRACE_DISABLED``
turns it off as it turned the Tracer off. Sending never fails an invocation.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from order_capture.config import trace_environment

_HEADER = b'{"format": "json", "version": 1}\n'
#: X-Ray annotation keys: letters, digits and underscores; string values up to 1,000 chars.
_ANNOTATION_KEY = re.compile(r"[^A-Za-z0-9_]")
_MAX_ANNOTATION = 1000

Annotation = str | int | float | bool


@dataclass
class Subsegment:
    name: str
    trace_id: str
    parent_id: str
    namespace: str | None = None
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    start_time: float = field(default_factory=time.time)
    annotations: dict[str, Annotation] = field(default_factory=dict)
    http_status: int | None = None

    def annotate(self, **values: Annotation | None) -> None:
        for key, value in values.items():
            if value is not None:
                self.annotations[_ANNOTATION_KEY.sub("_", key)] = (
                    value[:_MAX_ANNOTATION] if isinstance(value, str) else value
                )

    def document(self, error: BaseException | None) -> dict[str, Any]:
        document: dict[str, Any] = {
            "type": "subsegment",
            "name": self.name,
            "id": self.id,
            "trace_id": self.trace_id,
            "parent_id": self.parent_id,
            "start_time": self.start_time,
            "end_time": time.time(),
        }
        if self.namespace:
            document["namespace"] = self.namespace
        if self.annotations:
            document["annotations"] = self.annotations
        if self.http_status is not None:
            document["http"] = {"response": {"status": self.http_status}}
        if error is not None:
            # X-Ray: "fault" for our own failures (5xx), "error" for the caller's (4xx).
            document["fault"] = True
            document["cause"] = {"exceptions": [{"type": type(error).__name__}]}
        return document


_current: list[Subsegment] = []


def _trace_context() -> tuple[str, str] | None:
    """(trace id, parent id) of this invocation when it is sampled. Read per call: the
    Lambda runtime sets ``_X_AMZN_TRACE_ID`` afresh for every invocation."""
    environment = trace_environment()
    if environment.disabled:
        return None
    fields = dict(part.split("=", 1) for part in environment.trace_header.split(";") if "=" in part)
    if fields.get("Sampled") != "1" or "Root" not in fields or "Parent" not in fields:
        return None
    return fields["Root"], fields["Parent"]


def _daemon_address() -> tuple[str, int] | None:
    """``AWS_XRAY_DAEMON_ADDRESS``: ``host:port``, or ``udp:host:port tcp:host:port``."""
    for part in trace_environment().daemon_address.split():
        address = part.removeprefix("udp:")
        if part.startswith("tcp:"):
            continue
        host, _, port = address.rpartition(":")
        if host and port.isdigit():
            return host, int(port)
    return None


def _send(document: dict[str, Any]) -> None:
    address = _daemon_address()
    if address is None:
        return
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(_HEADER + json.dumps(document).encode(), address)
    except OSError:
        pass  # tracing is best effort: never fail a capture for a lost datagram


@contextmanager
def subsegment(
    name: str, namespace: str | None = None, **annotations: Annotation | None
) -> Iterator[Subsegment | None]:
    """A subsegment of the current one (or of Lambda's function segment), sent when the block
    ends, marked as a fault if it raised. Yields None when the invocation is not traced."""
    context = _trace_context()
    if context is None:
        yield None
        return
    trace_id, parent_id = context
    current = Subsegment(
        name,
        trace_id,
        _current[-1].id if _current else parent_id,
        namespace=namespace,
    )
    current.annotate(**annotations)
    _current.append(current)
    try:
        yield current
    except BaseException as error:
        _send(current.document(error))
        raise
    else:
        _send(current.document(None))
    finally:
        _current.remove(current)


def annotate(**values: Annotation | None) -> None:
    """Annotate the innermost open subsegment (the handler's), if the invocation is traced."""
    if _current:
        _current[-1].annotate(**values)
