"""README and docs/performance.md state the figures of the last `make bench REPORT=1`, the
same as BENCHMARKS.md: the bench writes one summary table into all three (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from order_capture_local.bench import summary_blocks

ROOT = Path(__file__).resolve().parents[2]


def test_readme_and_the_performance_doc_state_the_benchmarks_figures() -> None:
    benchmarks = summary_blocks.block_of((ROOT / "BENCHMARKS.md").read_text(), "BENCHMARKS.md")
    for document in summary_blocks.DOCUMENTS:
        assert summary_blocks.block_of(document.read_text(), str(document)) == benchmarks


def test_the_summary_block_is_rewritten_in_place(tmp_path: Path) -> None:
    # Given a document with an old summary between its markers and prose around it
    document = tmp_path / "doc.md"
    old = summary_blocks.wrap(["| Figure | Value |", "|---|---|", "| old | 1 |"])
    document.write_text("before\n\n" + "\n".join(old) + "\n\nafter\n")

    # When the bench writes a new summary
    summary_blocks.replace_block(document, ["| Figure | Value |", "|---|---|", "| new | 2 |", ""])

    # Then only the block changed
    text = document.read_text()
    assert text.startswith("before\n\n") and text.endswith("\n\nafter\n")
    assert "| new | 2 |" in summary_blocks.block_of(text)
    assert "| old | 1 |" not in text


def test_a_document_without_its_block_is_refused(tmp_path: Path) -> None:
    document = tmp_path / "doc.md"
    document.write_text("no block here\n")
    with pytest.raises(ValueError, match="one bench summary block"):
        summary_blocks.replace_block(document, ["| Figure | Value |"])
