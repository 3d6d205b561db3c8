"""Fixtures the integration tests share beyond tests/conftest.py."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.handlers import order_events
from order_capture_local.sandbox import SandboxServer
from tests.factories import order_placed
from tests.support import FixedClock


@pytest.fixture
def registered(
    repository: Any, lambda_context: Any, clock: FixedClock, sandbox: SandboxServer
) -> dict[str, Any]:
    """The example order registered through the order-events handler, its payment authorized
    at the sandbox provider."""
    event = order_placed()
    payment = event["detail"]["payment"]
    sandbox.authorize(
        payment["reference"], payment["authorized_amount"], "EUR", payment["expires_at"]
    )
    return order_events.handle(event, lambda_context, repository=repository, clock=clock)
