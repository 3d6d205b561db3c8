"""A small fault campaign (``make chaos`` runs it at its default size) in the test suite: the
event campaign and the API campaign, every figure that must be zero."""

from __future__ import annotations

import pytest

from order_capture_local.chaos import OUTCOME_FIGURES, run_campaign

pytestmark = pytest.mark.slow(60)  # seconds of CPU: scheduled first (conftest.py)


def test_a_small_campaign_ends_with_all_outcome_figures_zero() -> None:
    report = run_campaign(
        shipments=50, seed=11, wave=12, workers=1, api_orders=10, large_order=False
    )
    # The campaign really misbehaved: events delivered twice, crashes, provider faults ...
    assert report["deliveries"]["duplicate deliveries"] > 0
    faults = report["faults injected"]
    assert sum(n for kind, n in faults.items() if kind.startswith("crash")) > 0
    assert sum(n for kind, n in faults.items() if kind.startswith("provider")) > 0
    assert report["ledger captures by status"].get("captured", 0) > 0
    assert report["provider releases"] > 0  # authorizations' rests released (counted below)
    # ... the API was driven in its three dialects, with refunds and cancellations, while
    # webhooks came late or repeated and reconciliation ran in the middle ...
    kinds = report["api requests by kind"]
    for kind in ("capture_amount", "capture_items", "capture_medusa", "refund", "cancel"):
        assert kinds.get(kind, 0) > 0, kind
    assert report["api answers by status"].get("capture_amount 200", 0) > 0
    assert report["reconciliation runs"] > 2
    assert report["webhooks"].get("webhook deliveries", 0) > 0
    # ... and nothing was captured or refunded twice or too much, lost, left disagreeing,
    # announced (captured or failed) other than once, released twice, while capturing or
    # never, or answered with an internal error: every figure it reports.
    assert report["outcome"] == dict.fromkeys(OUTCOME_FIGURES, 0), report["examples"]
