"""Settings are read once, in one place: config.py is the only module of the package that
reads the environment, and every variable the template sets for the package is a setting."""

from __future__ import annotations

import re
from typing import Any

import pytest

from order_capture.config import Settings, settings
from tests.support import ROOT
from tests.template_support import cfn_template

PACKAGE = ROOT / "functions" / "app" / "order_capture"
#: Read by the libraries or the runtime, not by order_capture's code.
NOT_OURS = re.compile(r"^(POWERTOOLS_|AWS_|PYDANTIC_)")


def test_no_module_but_config_reads_the_environment() -> None:
    readers = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "config.py" and re.search(r"\bos\.environ\b|\bgetenv\(", path.read_text())
    ]
    assert readers == []


def environment_variables() -> set[str]:
    template = cfn_template()
    names = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            environment = resource["Properties"].get("Environment", {})
            names |= set(environment.get("Variables", {}))
    return {name for name in names if not NOT_OURS.match(name)}


def variable_of(field: Any) -> str:
    return str(field.validation_alias.choices[0])


def test_every_variable_the_template_sets_is_a_setting() -> None:
    variables = {variable_of(field) for field in Settings.model_fields.values()}
    assert environment_variables() <= variables


def test_settings_come_from_the_environment_with_their_defaults_written_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for field in Settings.model_fields.values():
        monkeypatch.delenv(variable_of(field), raising=False)
    monkeypatch.setenv("TABLE_NAME", "ledger")
    # An empty variable (the template declares some empty) is an unset one.
    monkeypatch.setenv("SANDBOX_PROVIDER_URL", "")
    monkeypatch.setenv("PROVIDER_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", " https://a.example , ,https://b.example")
    settings.cache_clear()
    try:
        read = settings()
    finally:
        settings.cache_clear()
    assert read.table_name == "ledger"
    assert read.sandbox_provider_url is None
    assert read.provider_timeout_seconds == 2.5
    assert read.cors_allowed_origins == ("https://a.example", "https://b.example")
    defaults = Settings(table_name="ledger")
    assert read.model_dump(exclude={"provider_timeout_seconds", "cors_allowed_origins"}) == (
        defaults.model_dump(exclude={"provider_timeout_seconds", "cors_allowed_origins"})
    )
