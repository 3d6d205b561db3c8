"""The bench's cold-start probes: the Lambda tree holds its bytecode where Lambda's
interpreter looks for it, and what a probe builds after the first request exists."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from order_capture_local.bench import package
from order_capture_local.bench.cold import LATER_CLIENTS
from tests.support import ROOT


def test_bytecode_is_written_beside_the_sources_even_with_a_pycache_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a tree of sources, and a process with PYTHONPYCACHEPREFIX set (as make bench has)
    source = tmp_path / "tree" / "module.py"
    source.parent.mkdir()
    source.write_text("VALUE = 1\n")
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "prefix"))

    # When the tree is compiled
    package._compile(source.parent)

    # Then the bytecode is in the tree's __pycache__ (a read-only /var/task has no other), not
    # under the prefix, and the prefix is left as it was
    assert [path.name for path in (source.parent / "__pycache__").iterdir()] == [
        f"module.{sys.implementation.cache_tag}.pyc"
    ]
    assert not (tmp_path / "prefix").exists()
    assert sys.pycache_prefix == str(tmp_path / "prefix")


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
