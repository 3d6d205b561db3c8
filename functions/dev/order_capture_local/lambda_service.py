"""What the local runtime does as the Lambda service would: the context a handler gets, a crash
as Lambda reports it, an invocation's result, and the container's state between invocations
(the environment for a block, cold containers, metrics that are not published)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from order_capture_local.template import FunctionSpec


class LambdaCrash(Exception):  # noqa: N818 - named for what it simulates
    """Raised by a fault hook to fail an invocation the way the Lambda service would report a
    crash or timeout (``errorType`` ``Sandbox.Timedout``, ``Runtime.ExitError``...)."""

    def __init__(
        self, error_type: str = "Sandbox.Timedout", message: str = "Task timed out"
    ) -> None:
        super().__init__(message)
        self.error_type = error_type


class LambdaDied(BaseException):
    """Raised inside a handler (``LocalRuntime.send_hooks``): its process ends there, so no
    ``except Exception`` of the handler runs (it cannot take back what it wrote); the Lambda
    service reports it as ``error_type``."""

    def __init__(self, error_type: str = "Sandbox.Timedout") -> None:
        super().__init__("Task timed out")
        self.error_type = error_type


class LambdaContext:
    """The context object Lambda passes to a handler."""

    def __init__(self, function: FunctionSpec) -> None:
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._deadline = time.monotonic() + function.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Invocation:
    function: str
    payload: Any
    error_type: str | None = None

    @property
    def failed(self) -> bool:
        return self.error_type is not None


def cold_containers() -> None:
    """A new runtime starts with cold Lambda containers: the handlers' lazily built clients of
    an earlier runtime (another embedded AWS, another botocore session without this runtime's
    hooks) are dropped, so the next invocation builds them again."""
    from order_capture import wiring  # noqa: PLC0415
    from order_capture.api import app, authorizer  # noqa: PLC0415
    from order_capture.handlers import await_confirmation, order_events, record  # noqa: PLC0415

    for cached in (
        wiring.default_repository,
        wiring.default_publisher,
        await_confirmation.default_waiters,
        record.default_confirmation_workflows,
        order_events._handle_each_event_once,
        app.default_dependencies,
        authorizer.default_api_keys,
    ):
        cached.cache_clear()


def drop_unpublished_metrics() -> None:
    """With POWERTOOLS_METRICS_DISABLED, Powertools keeps metrics in memory instead of
    publishing them at the end of each invocation, and prints them once 100 accumulate. On
    Lambda every invocation flushes; locally nothing must reach stdout (the CLI's report)."""
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled  # noqa: PLC0415

    from order_capture.observability import metrics  # noqa: PLC0415

    if is_metrics_disabled():
        metrics.clear_metrics()


@contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    """``values`` in the environment (and the settings read again) for the block's length."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    from order_capture.config import settings  # noqa: PLC0415

    settings.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        settings.cache_clear()
