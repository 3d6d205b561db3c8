"""`sam local` against the local stack: what the template and samconfig.toml ship for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from order_capture_local.template import _CfnLoader, load_template

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_sam_env_vars_point_at_the_stacks_default_ports() -> None:
    """sam-local.env.json (samconfig's local_invoke / local_start_api) is what a stack on the
    default ports (`make up`) writes for itself, and overrides only declared variables: SAM
    ignores the others."""
    from order_capture_local.stack import (
        DEFAULT_API_PORT,
        DEFAULT_AWS_PORT,
        DEFAULT_SANDBOX_PORT,
        StackInfo,
        sam_env_vars,
    )

    template = load_template(ROOT / "template.yaml")
    info = StackInfo(
        endpoint=f"http://127.0.0.1:{DEFAULT_AWS_PORT}",
        api_url=f"http://127.0.0.1:{DEFAULT_API_PORT}",
        sandbox_url=f"http://127.0.0.1:{DEFAULT_SANDBOX_PORT}",
        pid=0,
        template="template.yaml",
        table_name=next(iter(template.tables.values())).name,
        state_machine_arns={
            machine: f"arn:aws:states:us-east-1:123456789012:stateMachine:{machine}"
            for machine in template.state_machines
        },
    )
    shipped = json.loads((ROOT / "sam-local.env.json").read_text())
    assert shipped == sam_env_vars(info, list(template.functions))
    for section, variables in shipped.items():
        functions = (
            template.functions.values()
            if section == "Parameters"
            else [template.functions[section]]
        )
        for function in functions:
            assert set(variables) <= set(function.environment), (section, function.logical_id)


def _template() -> dict[str, object]:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # type: ignore[no-any-return]


def test_the_architecture_is_a_parameter_for_functions_and_layer_alike() -> None:
    document: dict[str, object] = _template()
    parameter = document["Parameters"]["Architecture"]  # type: ignore[index]
    assert parameter["Default"] == "arm64"
    assert parameter["AllowedValues"] == ["arm64", "x86_64"]
    assert document["Globals"]["Function"]["Architectures"] == [{"Ref": "Architecture"}]  # type: ignore[index]
    layers = [
        resource
        for resource in document["Resources"].values()  # type: ignore[attr-defined]
        if resource["Type"] == "AWS::Serverless::LayerVersion"
    ]
    for layer in layers:
        assert layer["Properties"]["CompatibleArchitectures"] == [{"Ref": "Architecture"}]
        assert layer["Metadata"]["BuildArchitecture"] == {"Ref": "Architecture"}


def test_the_aws_endpoint_is_declared_empty_and_botocore_ignores_it_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Declared (so --env-vars may set it) and empty (so nothing changes on AWS)."""
    import boto3

    variables = _template()["Globals"]["Function"]["Environment"]["Variables"]  # type: ignore[index]
    assert variables["AWS_ENDPOINT_URL"] == ""
    assert variables["AWS_DISABLE_HOST_PREFIX_INJECTION"] == "false"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "false")
    client = boto3.client("dynamodb", region_name="eu-west-1")
    assert client.meta.endpoint_url == "https://dynamodb.eu-west-1.amazonaws.com"


def test_samconfig_points_sam_local_at_the_env_file_and_the_local_build() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]
    for command in ("local_invoke", "local_start_api"):
        parameters = config[command]["parameters"]
        assert parameters["env_vars"] == "sam-local.env.json"
        assert parameters["parameter_overrides"] == "Architecture=x86_64"
        assert parameters["template_file"] == ".aws-sam/local/template.yaml"
    assert config["local_start_api"]["parameters"]["port"] != 3000  # the stack's API port
