"""The bench's cold-start probes: what a probe builds after the first request exists (the
tree's bytecode: tests/unit/test_build_bytecode.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from order_capture_local.bench.cold import LATER_CLIENTS
from tests.support import ROOT


@pytest.mark.parametrize("function_id", sorted(LATER_CLIENTS))
def test_the_clients_a_probe_builds_after_the_first_request_exist(function_id: str) -> None:
    # Given what the cold-start probe builds after a function's first (refused) AWS request
    code = "\n".join(LATER_CLIENTS[function_id])

    # When a fresh interpreter runs it with the function's code on its path
    completed = subprocess.run(
        [sys.executable, "-c", code],
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT / "functions" / "app"),
            "TABLE_NAME": "ledger",
            "CAPTURE_WORKFLOW_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:c",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then every client is built (the names still exist), without any request
    assert completed.returncode == 0, completed.stderr[-2000:]
