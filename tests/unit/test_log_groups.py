"""Every function's logs expire: a log group per function, named as Lambda names it, kept
for the stack's LogRetentionDays, which allows exactly what CloudWatch Logs accepts."""

from __future__ import annotations

import json
from pathlib import Path

from tests.template_support import cfn_template, resources_of_type


def cloudwatch_retention_values() -> list[int]:
    """RetentionInDays' allowed values, from the CloudFormation schema cfn-lint ships."""
    import cfnlint  # type: ignore[import-untyped]

    schemas = Path(cfnlint.__file__).parent / "data" / "schemas"
    index = json.loads((schemas / "providers" / "us-east-1.json").read_text())
    schema = json.loads(
        (schemas / "resources" / f"{index['AWS::Logs::LogGroup']}.json").read_text()
    )
    return list(schema["properties"]["RetentionInDays"]["enum"])


def test_every_function_has_its_log_group_with_the_retention_parameter() -> None:
    functions = set(resources_of_type("AWS::Serverless::Function"))
    groups = resources_of_type("AWS::Logs::LogGroup").values()
    named = {}
    for group in groups:
        properties = group["Properties"]
        assert properties["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        name = properties["LogGroupName"]["Fn::Sub"]
        assert name.startswith("/aws/lambda/${") and name.endswith("}"), name
        named[name.removeprefix("/aws/lambda/${").removesuffix("}")] = group
    assert set(named) == functions


def test_log_retention_days_allows_what_cloudwatch_accepts() -> None:
    parameter = cfn_template()["Parameters"]["LogRetentionDays"]
    assert parameter["Type"] == "Number"
    assert parameter["AllowedValues"] == cloudwatch_retention_values()
    assert parameter["Default"] in parameter["AllowedValues"]
