"""The bench's Lambda tree holds its bytecode where Lambda's interpreter looks for it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from order_capture_local.bench import package


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
