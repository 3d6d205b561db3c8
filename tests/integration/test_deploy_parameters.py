"""`sam deploy --guided` on this template: every question has a sensible answer.

Guided deploys asked "ApiFunction has no authentication. Is this okay?" once per route and
refused on Enter. Every route now names its Lambda authorizer, or `Authorizer: NONE` for the
webhooks, preflights and the OpenAPI document (test_api_authorizer.py); SAM's own check, run
here with the SAM CLI's code, finds no route without a stated authentication.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from order_capture_local.template import _CfnLoader

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"
#: SAM CLI's guided-deploy check (samcli.commands.deploy.auth_utils), on the template.
GUIDED_AUTH_CHECK = """
import sys
from samcli.commands.deploy.auth_utils import auth_per_resource
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
stacks, _ = SamLocalStackProvider.get_stacks(sys.argv[1])
for resource, authenticated in auth_per_resource(stacks):
    print(resource, authenticated)
"""


def _template() -> dict[str, Any]:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # type: ignore[no-any-return]


def test_defect_13_guided_deploy_finds_no_route_without_authentication() -> None:
    if not SAM_PYTHON.exists():
        pytest.fail("run `make validate-template` first: the SAM CLI is missing")
    answer = subprocess.run(
        [str(SAM_PYTHON), "-c", GUIDED_AUTH_CHECK, str(ROOT / "template.yaml")],
        check=True,
        capture_output=True,
        text=True,
        env={"SAM_CLI_TELEMETRY": "0", "PATH": "/usr/bin:/bin"},
    ).stdout.splitlines()
    api_events = [
        event
        for resource in _template()["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in (resource["Properties"].get("Events") or {}).values()
        if event["Type"] == "Api"
    ]
    assert len(answer) == len(api_events) > 0  # one line per route
    assert [line for line in answer if not line.endswith(" True")] == []


def test_every_parameter_says_what_it_is_and_what_it_takes() -> None:
    for name, parameter in _template()["Parameters"].items():
        assert parameter.get("Description"), name
        if parameter["Type"] == "String":
            assert "AllowedValues" in parameter or "AllowedPattern" in parameter, name
            default = str(parameter.get("Default", ""))
            if "AllowedValues" in parameter:
                assert default in parameter["AllowedValues"], name
            else:
                # CloudFormation's patterns are Java regular expressions; these use only
                # what Python's agree on.
                assert re.fullmatch(parameter["AllowedPattern"], default), name
        else:
            assert "MinValue" in parameter, name


def _holds(condition: Any, parameters: dict[str, str]) -> bool:
    """The template's rule conditions and assertions: !Equals of !Ref and literals."""
    ((function, arguments),) = condition.items()
    assert function == "Fn::Equals"
    left, right = (
        parameters[argument["Ref"]] if isinstance(argument, dict) else argument
        for argument in arguments
    )
    return bool(left == right)


@pytest.mark.parametrize(
    ("stage", "sandbox_url", "allowed"),
    [
        ("prod", "", True),
        ("prod", "http://127.0.0.1:4567", False),
        ("test", "http://127.0.0.1:4567", True),
        ("dev", "", True),
    ],
)
def test_the_sandbox_provider_is_refused_on_the_prod_stage(
    stage: str, sandbox_url: str, allowed: bool
) -> None:
    template = _template()
    parameters = {"Stage": stage, "SandboxProviderUrl": sandbox_url}
    outcome = True
    for rule in template["Rules"].values():
        if _holds(rule["RuleCondition"], parameters):
            outcome = outcome and all(_holds(a["Assert"], parameters) for a in rule["Assertions"])
    assert outcome is allowed
    assert template["Parameters"]["Stage"]["Default"] == "prod"
    pattern = template["Parameters"]["SandboxProviderUrl"]["AllowedPattern"]
    assert re.fullmatch(pattern, sandbox_url)
