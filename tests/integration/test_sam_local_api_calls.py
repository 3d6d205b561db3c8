"""The requests `make sam-local` sends through `sam local start-api` (``sam_local_api``), sent
here to the local stack's own API, which runs the same Lambda authorizers: what they expect
is what the template's API answers, without Docker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from order_capture_local import function_events, sam_local_api
from tests.integration.stack_support import Stack


@pytest.fixture
def fresh_stack(tmp_path: Path) -> Iterator[Stack]:
    running = Stack(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def test_each_dialect_captures_with_its_key_and_is_refused_without(fresh_stack: Stack) -> None:
    info = fresh_stack.info
    api_key = function_events.prepare_stack(info)
    lines: list[str] = []
    problems = sam_local_api.run_calls(info.api_url, info, api_key, lines.append)
    assert problems == [], "\n".join(lines)
    assert len(lines) == len(sam_local_api.calls(api_key))
