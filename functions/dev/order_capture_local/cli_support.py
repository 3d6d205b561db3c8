"""What makes ``order-capture`` behave like ``sam`` and ``aws`` at its edges: a user's mistake is
one line on stderr and a non-zero exit (never a traceback), ``-`` reads stdin, sandbox faults
are checked before anything starts, and a wait longer than a few seconds says so on stderr.

A traceback is kept for what is not the user's doing (a defect): only the errors below are
translated.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from order_capture_local.sandbox_state import ASYNC_FAULT_KINDS, FAULT_KINDS

PROG = "order-capture"
#: Exit status of a user's mistake that argparse did not catch (argparse's own is 2 too).
USAGE_ERROR = 2
#: Faults whose delay is the point (``timeout_after_capture`` answers after it, ``latency``
#: delays the answer); the async ones confirm by webhook after it.
DELAYED_FAULT_KINDS = frozenset({"timeout_after_capture", "latency"})
DEFAULT_ASYNC_DELAY_SECONDS = 1.0


def read_json_source(source: str) -> Any:
    """A JSON document from a file, or from stdin for ``-``."""
    try:
        text = sys.stdin.read() if source == "-" else open(source).read()  # noqa: PTH123, SIM115
        return json.loads(text)
    except (OSError, ValueError) as error:
        where = "stdin" if source == "-" else source
        raise SystemExit(f"{PROG}: cannot read {where}: {error}") from None


@dataclass(frozen=True)
class SandboxFault:
    kind: str
    delay_seconds: float


def sandbox_fault(text: str) -> SandboxFault:
    """``KIND`` or ``KIND:SECONDS`` (argparse type): a known fault kind, and its delay."""
    kind, separator, delay = text.partition(":")
    if kind not in FAULT_KINDS:
        raise argparse.ArgumentTypeError(
            f"unknown fault {kind!r}; known: {', '.join(sorted(FAULT_KINDS))}"
        )
    if not separator:
        if kind in DELAYED_FAULT_KINDS:
            raise argparse.ArgumentTypeError(
                f"{kind} needs its delay: {kind}:SECONDS (e.g. {kind}:2)"
            )
        return SandboxFault(kind, DEFAULT_ASYNC_DELAY_SECONDS if kind in ASYNC_FAULT_KINDS else 0)
    try:
        seconds = float(delay)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 300:
        raise argparse.ArgumentTypeError(f"{text!r}: the delay is seconds from 0 to 300")
    return SandboxFault(kind, seconds)


@contextmanager
def progress(
    what: str, *, after_seconds: float = 3.0, every_seconds: float = 5.0
) -> Iterator[None]:
    """Say on stderr that ``what`` is still going on, once it has taken ``after_seconds``."""
    done = threading.Event()
    started = time.monotonic()

    def report() -> None:
        wait = after_seconds
        while not done.wait(wait):
            elapsed = time.monotonic() - started
            print(f"{PROG}: {what}... ({elapsed:.0f} s)", file=sys.stderr, flush=True)
            wait = every_seconds

    reporter = threading.Thread(target=report, name="progress", daemon=True)
    reporter.start()
    try:
        yield
    finally:
        done.set()
        reporter.join()


def explain(error: BaseException, table: str | None = None) -> str | None:
    """The one line a user's mistake or missing environment deserves; None for a defect.
    ``table``: the table the command was pointed at (``--table``)."""
    from botocore.exceptions import (  # noqa: PLC0415
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    from order_capture.errors import LedgerUnavailableError  # noqa: PLC0415

    if isinstance(error, FileNotFoundError):
        return f"no such file: {error.filename}"
    if isinstance(error, NoRegionError):
        return "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or use the local stack"
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials: configure them (aws configure / AWS_PROFILE)"
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach {error.kwargs.get('endpoint_url', 'the AWS endpoint')}"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", str(error))
        if code == "ResourceNotFoundException":
            what = f"table {table!r}" if table else "an AWS resource the command uses"
            return f"{what} does not exist ({message}): check the name and the region"
        return f"AWS refused {error.operation_name}: {code}: {message}"
    if isinstance(error, LedgerUnavailableError):
        # The adapter's wrapper hides what went wrong (an endpoint down, a table missing).
        cause = explain(error.__cause__, table) if error.__cause__ is not None else None
        return cause or f"the ledger cannot be read: {error}"
    if isinstance(error, BotoCoreError):
        return f"the AWS call failed: {error}"
    if isinstance(error, urllib.error.URLError | ConnectionError):
        reason = getattr(error, "reason", error)
        return (
            f"the local stack does not answer ({reason}); is `order-capture local start` "
            "still running?"
        )
    return None


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command; a user's mistake becomes one line on stderr."""
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        message = explain(error, getattr(args, "table", None))
        if message is None:
            raise
        print(f"{PROG}: {message}", file=sys.stderr)
        return USAGE_ERROR if isinstance(error, FileNotFoundError) else 1
