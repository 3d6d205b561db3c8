"""CloudWatch Logs per invocation, measured (issue 15): the bytes each handler writes to stdout
at the template's log level (Powertools Logger's JSON lines, and Powertools Metrics' EMF
documents, which Lambda ingests as log events too), plus the lines Lambda writes itself.

On Lambda, everything a function prints becomes log events of its log group, billed per byte
ingested. Locally the handlers run in-process: ``LogMeter.metering`` points the Logger's
stream and ``sys.stdout`` at a stream that counts what is written while a function is being
invoked (``LocalRuntime.invoking_function``), per function, and passes anything else on."""

from __future__ import annotations

import io
import logging
import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO

#: The lines Lambda writes per invocation in the text log format (the template sets no
#: ``LoggingConfig``), in the format the Lambda developer guide documents ("Monitoring and
#: troubleshooting", the REPORT fields; with active tracing, REPORT's XRAY line). A request id
#: is a UUID (36 characters); durations and memory are written with the widths a capture's
#: invocation has (``350.00 ms``, ``Memory Size: 512 MB``, ``Max Memory Used: 128 MB``). Not
#: counted: REPORT's ``Init Duration`` (cold starts only, about 25 bytes).
_REQUEST_ID = "8f507cfc-1d2b-4697-b07a-ac58fc914c95"
PLATFORM_LINES = (
    f"START RequestId: {_REQUEST_ID} Version: $LATEST\n",
    f"END RequestId: {_REQUEST_ID}\n",
    f"REPORT RequestId: {_REQUEST_ID}\tDuration: 350.00 ms\tBilled Duration: 350 ms\t"
    "Memory Size: 512 MB\tMax Memory Used: 128 MB\t\n"
    "XRAY TraceId: 1-5e34a614-10bd4b5f1fb44f07bc535a10\tSegmentId: 07f5c4a82d1f6f85\t"
    "Sampled: true\t\n",
)


#: What Lambda's environment says on AWS that the local one does not, and the handlers' lines
#: carry: with active tracing, every invocation's trace header (Powertools Logger adds its
#: root as ``xray_trace_id`` to each line); Metrics published (the local runtime disables them).
LAMBDA_ENVIRONMENT = {
    "_X_AMZN_TRACE_ID": "Root=1-5e34a614-10bd4b5f1fb44f07bc535a10;Parent=07f5c4a82d1f6f85;"
    "Sampled=0",
    "POWERTOOLS_METRICS_DISABLED": "false",
}


def platform_bytes_per_invocation() -> int:
    """What Lambda's START, END and REPORT lines of one invocation weigh, in bytes."""
    return sum(len(line.encode()) for line in PLATFORM_LINES)


class Invoking(Protocol):
    def invoking_function(self) -> str | None: ...


class _MeteredStream(io.TextIOBase):
    """Counts what is written during an invocation (on its function), passes the rest on."""

    def __init__(self, meter: LogMeter, passthrough: TextIO) -> None:
        self.meter = meter
        self.passthrough = passthrough

    def write(self, text: str) -> int:
        function_id = self.meter.runtime.invoking_function()
        if function_id is None:
            return self.passthrough.write(text)
        self.meter.add(function_id, text)
        return len(text)

    def flush(self) -> None:
        self.passthrough.flush()


class LogMeter:
    """Bytes each function wrote to its log, per function id (``bytes_by_function``), and the
    text itself when ``keep`` (tests)."""

    def __init__(self, runtime: Invoking, *, keep: bool = False) -> None:
        self.runtime = runtime
        self.keep = keep
        self.bytes_by_function: Counter[str] = Counter()
        self.texts: dict[str, list[str]] = {}

    def add(self, function_id: str, text: str) -> None:
        self.bytes_by_function[function_id] += len(text.encode())
        if self.keep:
            self.texts.setdefault(function_id, []).append(text)

    def snapshot(self) -> Counter[str]:
        return Counter(self.bytes_by_function)

    @contextmanager
    def metering(self, level: str) -> Iterator[None]:
        """For the block: the Logger at ``level`` (the template's ``LogLevel``) writing into
        the meter, Metrics published at each invocation's end into the meter too, in
        ``LAMBDA_ENVIRONMENT``."""
        from order_capture.observability import logger  # noqa: PLC0415

        previous_level = logger.log_level
        previous_environment = {name: os.environ.get(name) for name in LAMBDA_ENVIRONMENT}
        streams = [
            (handler, handler.setStream(_MeteredStream(self, handler.stream)))
            for handler in logger.handlers
            if isinstance(handler, logging.StreamHandler)
        ]
        previous_stdout = sys.stdout
        sys.stdout = _MeteredStream(self, previous_stdout)
        os.environ.update(LAMBDA_ENVIRONMENT)
        logger.setLevel(level)
        try:
            yield
        finally:
            logger.setLevel(previous_level)
            for name, value in previous_environment.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            sys.stdout = previous_stdout
            for handler, previous in streams:
                handler.setStream(previous)


def since(now: Counter[str], before: Counter[str]) -> Counter[str]:
    """The bytes written between two snapshots, per function."""
    return Counter({key: now[key] - before[key] for key in now if now[key] != before[key]})
