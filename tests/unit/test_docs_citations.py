"""README.md, CONTRIBUTING.md and every docs/*.md cite tests, test files, make targets and
`order-capture` commands as proof or as instructions: each one cited must exist, so a renamed or
split test file, a dropped target or command fails here rather than leaving a document pointing
at nothing."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from order_capture_local.cli import build_parser
from tests.support import ROOT

DOCUMENTS = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")])
#: ``tests/…/test_x.py`` optionally followed by ``::test_name``.
TEST_PATH = re.compile(r"\b(tests/[\w/.-]+\.py)(?:::(\w+))?")
#: A bare test file name, ``test_x.py`` (not part of a path).
TEST_FILE = re.compile(r"(?<![\w/<>-])(test_\w+\.py)\b")
#: A test named in backticks, ``test_something``.
TEST_NAME = re.compile(r"`(test_\w+)`")
#: A make command in backticks or a code block: ``make target`` at the start of a command.
MAKE_COMMAND = re.compile(r"(?:^|`)make ([a-z][\w-]*)", re.MULTILINE)
#: ``order-capture group command`` in backticks: the subcommands the CLI must have.
CLI_COMMAND = re.compile(r"`order-capture ([a-z][a-z-]*(?: [a-z][a-z-]*)?)")
#: Backticked names that look like tests but are not (a credentials field).
NOT_TESTS = {"test_mode"}


def defined_tests() -> set[str]:
    return {
        name
        for path in (ROOT / "tests").rglob("test_*.py")
        for name in re.findall(r"^\s*(?:async )?def (test_\w+)", path.read_text(), re.MULTILINE)
    }


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return {
        name
        for line in re.findall(r"^([A-Za-z][\w .-]*?)[ \t]*:(?!=)", text, re.MULTILINE)
        for name in line.split()
    }


def cited(pattern: re.Pattern[str], document: Path) -> list[re.Match[str]]:
    return list(pattern.finditer(document.read_text()))


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_cited_test_path_and_test_in_it_exists(document: Path) -> None:
    tests = ROOT / "tests"
    for match in cited(TEST_PATH, document):
        path, name = match.group(1), match.group(2)
        assert (ROOT / path).is_file(), f"{document.name} cites {path}, which does not exist"
        if name:
            text = (ROOT / path).read_text()
            assert re.search(rf"def {name}\b", text), f"{document.name}: no {name} in {path}"
    for match in cited(TEST_FILE, document):
        name = match.group(1)
        assert any(tests.rglob(name)), f"{document.name} cites {name}, no such file in tests/"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_test_a_document_names_is_defined(document: Path) -> None:
    tests = defined_tests()
    files = {path.stem for path in (ROOT / "tests").rglob("test_*.py")}
    for match in cited(TEST_NAME, document):
        name = match.group(1)
        if name in NOT_TESTS:
            continue
        assert name in tests or name in files, f"{document.name} names {name}: no such test"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_make_command_a_document_gives_is_a_target(document: Path) -> None:
    targets = make_targets()
    for match in cited(MAKE_COMMAND, document):
        target = match.group(1)
        assert target in targets, f"{document.name}: `make {target}` is not a Makefile target"


def test_a_stale_citation_is_caught(tmp_path: Path) -> None:
    """The patterns find the citations they guard (a split file leaves them pointing nowhere)."""
    stale = tmp_path / "stale.md"
    stale.write_text(
        "see `tests/unit/test_handlers.py::test_gone`, `test_provider_contracts.py`,"
        " `test_no_such_test_anywhere` and `make no-such-target`\n"
    )
    assert [m.group(1) for m in cited(TEST_PATH, stale)] == ["tests/unit/test_handlers.py"]
    assert [m.group(1) for m in cited(TEST_FILE, stale)] == ["test_provider_contracts.py"]
    assert "test_no_such_test_anywhere" not in defined_tests()
    assert [m.group(1) for m in cited(TEST_NAME, stale)] == ["test_no_such_test_anywhere"]
    assert [m.group(1) for m in cited(MAKE_COMMAND, stale)] == ["no-such-target"]
    assert "no-such-target" not in make_targets()


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    choices: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            choices.update(action.choices)
    return choices


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_order_capture_command_a_document_gives_exists(document: Path) -> None:
    for match in cited(CLI_COMMAND, document):
        parser = build_parser()
        for word in match.group(1).split():
            commands = subcommands(parser)
            if not commands:
                break
            assert word in commands, f"{document.name}: `order-capture {match.group(1)}`"
            parser = commands[word]


#: A source file a document points at: ``functions/…/x.py``, ``adapters/x.py``,
#: ``order_capture/…/x.py``, ``order_capture_local/x.py``, ``statemachine/x.asl.json``.
SOURCE_PATH = re.compile(
    r"(?<![\w/])((?:functions|adapters|order_capture(?:_local)?|statemachine)/[\w/.-]+"
    r"\.(?:py|json|yaml))"
)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_source_file_a_document_points_at_exists(document: Path) -> None:
    sources = [*(ROOT / "functions").rglob("*"), *(ROOT / "statemachine").rglob("*")]
    for match in cited(SOURCE_PATH, document):
        path = match.group(1)
        found = (ROOT / path).is_file() or any(
            source.as_posix().endswith("/" + path) for source in sources
        )
        assert found, f"{document.name} points at {path}, which does not exist"
