"""Issue 15: X-Ray records a fixed share of captures (the template's sampling rules), and the
bench prices traces from those rules, not from an assumption."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from order_capture_local.bench.cost import API_TRACE_RULE, EVENT_TRACE_RULE, traces_per_capture
from order_capture_local.template import _CfnLoader

ROOT = Path(__file__).resolve().parents[2]


def _rule(document: dict[str, object], logical_id: str) -> dict[str, object]:
    resources = document["Resources"]
    assert isinstance(resources, dict)
    resource = resources[logical_id]
    assert resource["Type"] == "AWS::XRay::SamplingRule"
    rule: dict[str, object] = resource["Properties"]["SamplingRule"]
    return rule


def test_each_capture_trace_root_has_a_rule_of_its_own_without_a_reservoir() -> None:
    document = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)
    event, api = _rule(document, EVENT_TRACE_RULE), _rule(document, API_TRACE_RULE)
    # Scoped to this stack's roots (never every service of the account)
    assert event["ServiceName"] == {"Fn::GetAtt": ["CaptureStateMachine", "Name"]}
    assert "${OrderCaptureApi}/stages/v1" in str(api["ResourceARN"])
    for rule in (event, api):
        # Before the default rule (priority 10000), a share independent of the throughput
        assert int(str(rule["Priority"])) < 10000
        assert rule["ReservoirSize"] == 0
        assert 0 < float(str(rule["FixedRate"])) <= 0.1


def test_traces_are_priced_at_the_rules_rate() -> None:
    document = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)
    assert traces_per_capture(EVENT_TRACE_RULE) == float(
        str(_rule(document, EVENT_TRACE_RULE)["FixedRate"])
    )


def test_a_rule_with_a_reservoir_cannot_be_priced_per_capture(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    text = (ROOT / "template.yaml").read_text()
    template.write_text(text.replace("ReservoirSize: 0", "ReservoirSize: 1"))
    with pytest.raises(ValueError, match="reservoir"):
        traces_per_capture(EVENT_TRACE_RULE, template)
