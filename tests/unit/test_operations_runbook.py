"""docs/operations.md has a runbook for every alarm of template.yaml, and names only commands the
CLI has."""

from __future__ import annotations

import re

from order_capture_local.cli import build_parser
from tests.support import ROOT
from tests.template_support import resources_of_type

RUNBOOK = (ROOT / "docs" / "operations.md").read_text()


def test_every_alarm_has_a_runbook_section() -> None:
    headings = " ".join(re.findall(r"^### (.+)$", RUNBOOK, flags=re.MULTILINE))
    alarms = resources_of_type("AWS::CloudWatch::Alarm")
    missing = [alarm for alarm in alarms if alarm not in headings]
    assert missing == []


def test_the_runbook_names_only_commands_the_cli_has() -> None:
    parser = build_parser()
    commands = set(re.findall(r"`order-capture ((?:[a-z]+ )?[a-z]+)", RUNBOOK))
    assert commands
    for command in commands:
        words = command.split()
        try:
            parser.parse_args([*words, "--help"])
        except SystemExit as stop:
            assert stop.code == 0, f"`order-capture {command}` is not a command"
