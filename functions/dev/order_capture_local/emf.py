"""Locally, the functions' CloudWatch metrics (Powertools' EMF documents) are hidden unless
``ORDER_CAPTURE_SHOW_METRICS=1``: then each invocation's EMF lines go to stderr, as Lambda
would send them to CloudWatch Logs (stdout carries the local commands' reports).

    ORDER_CAPTURE_SHOW_METRICS=1 order-capture local put-events -e events/order-placed.json ...
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

SHOW_METRICS_ENV = "ORDER_CAPTURE_SHOW_METRICS"


def showing_metrics() -> bool:
    return os.environ.get(SHOW_METRICS_ENV, "").lower() in {"1", "true", "yes"}


def metrics_environment() -> dict[str, str]:
    """What the functions' environment says about metrics locally."""
    return {"POWERTOOLS_METRICS_DISABLED": "false" if showing_metrics() else "true"}


@contextlib.contextmanager
def metrics_to_stderr() -> Iterator[None]:
    """Powertools prints EMF on stdout: while showing them, that print goes to stderr."""
    if not showing_metrics():
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield
