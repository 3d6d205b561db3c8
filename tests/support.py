"""Test doubles and paths shared by several test modules (conftest.py holds only fixtures)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

ROOT = Path(__file__).resolve().parents[1]


class FixedClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current


class FakeLambdaContext(LambdaContext):
    """What Lambda passes a handler, with fixed values."""

    function_name = "test-function"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "local"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


class RecordingPublisher:
    """EventPublisher that keeps what it was asked to send; fails the first ``failures``."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.published: list[tuple[str, list[Any]]] = []

    def publish(self, detail_type: str, details: list[Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("EventBridge unreachable")
        self.published.append((detail_type, details))


class NothingWaits:
    """ConfirmationWaiters where no workflow waits any more."""

    def succeed(self, task_token: str, capture: Any) -> bool:
        return False

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        return False
