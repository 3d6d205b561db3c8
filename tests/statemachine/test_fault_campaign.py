"""A small fault campaign (the `make chaos` one at 2,000 shipments) in the test suite."""

from __future__ import annotations

from order_capture_local.chaos import OUTCOME_FIGURES, run_campaign


def test_a_small_campaign_ends_with_all_outcome_figures_zero() -> None:
    report = run_campaign(shipments=50, seed=11, wave=12)
    # The campaign really misbehaved ...
    assert report["deliveries"]["duplicate deliveries"] > 0
    faults = report["faults injected"]
    assert sum(n for kind, n in faults.items() if kind.startswith("crash")) > 0
    assert sum(n for kind, n in faults.items() if kind.startswith("provider")) > 0
    assert report["ledger captures by status"].get("captured", 0) > 0
    # ... and nothing was captured twice, too much, lost, or left disagreeing.
    assert {name: report["outcome"][name] for name in OUTCOME_FIGURES} == dict.fromkeys(
        OUTCOME_FIGURES, 0
    )
