"""template.yaml as data, for tests that check what it declares."""

from __future__ import annotations

from typing import Any

import yaml

from order_capture_local.template import _CfnLoader
from tests.support import ROOT


def cfn_template() -> dict[str, Any]:
    """template.yaml with its short tags as CloudFormation's long forms (``{"Ref": ...}``)."""
    return dict(yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader))


def resources_of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in cfn_template()["Resources"].items()
        if resource["Type"] == resource_type
    }


def alarms_on(metric: str) -> list[dict[str, Any]]:
    """The Properties of every CloudWatch alarm on ``metric``."""
    return [
        alarm["Properties"]
        for alarm in resources_of_type("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == metric
    ]
