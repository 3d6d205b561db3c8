"""The Makefile as a user reads it: `make help` names every target, and every target it
declares (.PHONY) has a rule."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.support import ROOT

MAKEFILE = ROOT / "Makefile"
#: A rule's target at the start of a line (not `NAME := value`, not `$(VAR):` file targets).
RULE = re.compile(r"^([A-Za-z][\w.-]*(?:[ \t]+[A-Za-z][\w.-]*)*)[ \t]*:(?!=)", re.MULTILINE)


def declared_phony() -> set[str]:
    text = MAKEFILE.read_text()
    return {
        name for line in re.findall(r"^\.PHONY:(.*)$", text, re.MULTILINE) for name in line.split()
    }


def rule_targets() -> set[str]:
    return {
        name
        for targets in RULE.findall(MAKEFILE.read_text())
        for name in targets.split()
        if not name.startswith(".")
    }


def test_every_declared_target_has_a_rule_and_every_rule_is_declared() -> None:
    assert declared_phony() - rule_targets() == set(), "declared without a rule"
    assert rule_targets() - declared_phony() == set(), "a rule missing from .PHONY"


def test_make_help_names_every_target() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed: the Makefile is the project's entry point")
    shown = subprocess.run(
        [make, "-s", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    words = set(re.findall(r"[\w.-]+", shown))
    assert rule_targets() - {"help"} - words == set(), shown
