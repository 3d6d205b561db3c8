"""The bench's summary table, kept the same in BENCHMARKS.md, README.md and
docs/performance.md: ``make bench REPORT=1`` writes it between these markers in each, and a
test (tests/unit/test_performance_figures.py) holds the three to one another."""

from __future__ import annotations

from pathlib import Path

from order_capture_local.runtime import PROJECT_ROOT

BEGIN = "<!-- bench:summary (written by make bench REPORT=1) -->"
END = "<!-- /bench:summary -->"
#: The documents besides BENCHMARKS.md that state the bench's figures.
DOCUMENTS = (PROJECT_ROOT / "README.md", PROJECT_ROOT / "docs" / "performance.md")


def wrap(table: list[str]) -> list[str]:
    return [BEGIN, *[line for line in table if line], END]


def block_of(text: str, where: str = "the document") -> str:
    """The summary block of a document, markers included."""
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ValueError(f"{where}: expected one bench summary block ({BEGIN} ... {END})")
    start = text.index(BEGIN)
    return text[start : text.index(END, start) + len(END)]


def replace_block(path: Path, table: list[str]) -> None:
    """Write ``table`` over the summary block of ``path``, the rest untouched."""
    text = path.read_text()
    path.write_text(text.replace(block_of(text, str(path)), "\n".join(wrap(table))))
