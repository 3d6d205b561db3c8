"""Metrics say what they measure: an amount of money is no Count."""

from __future__ import annotations

import json

import pytest

from order_capture.observability import add_metric_by


def _emitted(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    blob = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (definition,) = blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    return {str(definition["Name"]): str(definition["Unit"])}


def test_an_amount_of_money_is_published_without_a_count_unit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    add_metric_by("Currency", "EUR", "CapturedAmount", 10171, money=True)
    assert _emitted(capsys) == {"CapturedAmount": "None"}
    add_metric_by("Reason", "provider_declined", "CaptureFailuresByReason", 1)
    assert _emitted(capsys) == {"CaptureFailuresByReason": "Count"}
