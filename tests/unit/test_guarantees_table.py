"""The Guarantees table (docs/guarantees.md) names, for each guarantee, tests and a
fault-campaign figure: each test named must exist, and each figure must be one the campaign
computes and requires zero."""

from __future__ import annotations

import re
from pathlib import Path

from order_capture_local.chaos import OUTCOME_FIGURES

ROOT = Path(__file__).resolve().parents[2]


def guarantee_rows() -> list[list[str]]:
    readme = (ROOT / "docs" / "guarantees.md").read_text()
    section = readme.split("\n## Guarantees\n", 1)[1].split("\n## ", 1)[0]
    table = section.split("\n### ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| **")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def defined_tests() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names.update(re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.MULTILINE))
    return names


def test_every_guarantee_names_tests_that_exist_and_figures_the_campaign_requires_zero() -> None:
    rows = guarantee_rows()
    assert len(rows) >= 10
    tests = defined_tests()
    for guarantee, _how, proved_by, figures in rows:
        named = re.findall(r"`([^`]+)`", proved_by)
        assert named, f"{guarantee}: no test named"
        for name in named:
            if name.startswith("tests/") or name.endswith(".py"):
                candidates = [ROOT / name, *ROOT.joinpath("tests").rglob(Path(name).name)]
                assert any(path.is_file() for path in candidates), f"{guarantee}: no {name}"
            else:
                assert name in tests, f"{guarantee}: no test {name}"
        named_figures = re.findall(r"`([^`]+)`", figures)
        assert named_figures, f"{guarantee}: no campaign figure"
        for figure in named_figures:
            assert figure in OUTCOME_FIGURES, f"{guarantee}: {figure} is not a campaign figure"


def test_the_campaign_section_describes_every_figure_it_requires_zero() -> None:
    readme = (ROOT / "docs" / "guarantees.md").read_text()
    section = readme.split("### The fault campaign (`make chaos`)", 1)[1].split("\n## ", 1)[0]
    described = set(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))
    assert described == set(OUTCOME_FIGURES)


def test_readmes_guarantees_name_tests_that_exist_and_figures_the_campaign_requires_zero() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Guarantees\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| **")]
    assert len(rows) == len(guarantee_rows()), "README and docs/guarantees.md list other guarantees"
    tests = defined_tests()
    for row in rows:
        guarantee, proved_by, figures = (cell.strip() for cell in row.strip("|").split(" | "))
        named = re.findall(r"`([^`]+)`", proved_by)
        assert named, f"{guarantee}: no test named"
        for name in named:
            path, _, test = name.partition("::")
            assert (ROOT / path).is_file(), f"{guarantee}: no {path}"
            if test:
                assert test in tests and f"def {test}(" in (ROOT / path).read_text(), (
                    f"{guarantee}: no test {test} in {path}"
                )
        named_figures = re.findall(r"`([^`]+)`", figures)
        assert named_figures, f"{guarantee}: no campaign figure"
        assert set(named_figures) <= set(OUTCOME_FIGURES), f"{guarantee}: {named_figures}"
