"""``make chaos``: the event campaign and the API campaign in one run, one table of figures.

    python -m order_capture_local.chaos [--shipments 800] [--api-orders 60] [--seed 7]
        [--wave 16] [--workers 2] [--json] [--report docs/fault-campaign.md]

Both run in segments, each on a fresh local runtime (moto copies a whole table for every
transaction, so one ledger of thousands of orders makes each request slower than the last),
two processes at a time. Progress goes to stderr while it runs; handler logs and the
interpreter's tracebacks of injected failures stay out of the output. The table goes to
stdout, and to ``--report`` only when asked. The exit status is 1 if any figure that must be
zero is not.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

#: Every figure that must be zero, in the order the table shows them.
OUTCOME_FIGURES = [
    "over_captures",
    "double_provider_captures",
    "lost_shipments",
    "ledger_provider_mismatches",
    "refunds_over_refunded",
    "refunds_twice_at_provider",
    "cancellations_took_captured_money",
    "captures_announced_wrongly",
    "failures_announced_wrongly",
    "releases_twice",
    "releases_while_capturing",
    "releases_missing",
    "executions_over_the_state_limit",
    "unexpected_answers",
    "webhooks_never_accepted",
    "reconciliation_runs_failed",
]
#: Figures reported beside them that may be non-zero (explained in docs/guarantees.md).
REPORTED_FIGURES = ["announcements_repeated", "captures_after_a_reversal"]
SEGMENT_SHIPMENTS = 200
SEGMENT_API_ORDERS = 20
DEFAULT_SHIPMENTS = 800
DEFAULT_API_ORDERS = 60

Segment = tuple[str, int, int, int]  # kind, size, seed, wave


def _quiet() -> None:
    """Injected failures make moto's interpreter and the local servers log tracebacks."""
    for name in ("moto", "aws_lambda_powertools"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _progress(label: str) -> Any:
    started = time.monotonic()

    def say(message: str) -> None:
        print(
            f"  [{label} {time.monotonic() - started:4.0f}s] {message}", file=sys.stderr, flush=True
        )

    return say


def run_segment(segment: Segment) -> dict[str, Any]:
    """One segment, in this process: ``("events", shipments, seed, wave)`` or
    ``("api", orders, seed, large_orders)``."""
    _quiet()
    kind, size, seed, extra = segment
    say = _progress(f"{kind} {seed}")
    if kind == "events":
        from order_capture_local.chaos.events import run_segment as run_events  # noqa: PLC0415

        report = run_events(size, seed, extra, log_level="CRITICAL", progress=say)
    else:
        from order_capture_local.chaos.api_run import run_api_segment  # noqa: PLC0415

        report = run_api_segment(size, seed, large_orders=extra, progress=say, log_level="CRITICAL")
    report["kind"] = kind
    return report


def plan_segments(
    shipments: int, api_orders: int, seed: int, wave: int, large_order: bool = True
) -> list[Segment]:
    segments: list[Segment] = []
    for index, start in enumerate(range(0, shipments, SEGMENT_SHIPMENTS)):
        size = min(SEGMENT_SHIPMENTS, shipments - start)
        segments.append(("events", size, seed * 1000 + index, wave))
    for index, start in enumerate(range(0, api_orders, SEGMENT_API_ORDERS)):
        size = min(SEGMENT_API_ORDERS, api_orders - start)
        segments.append(("api", size, seed * 1000 + 500 + index, 0))
    if api_orders and large_order:
        # An order of 1,000 lines with the longest ids (and one at the largest amounts) in a
        # segment of its own: moto copies the table for every transaction, so an item that
        # large slows every other request of its runtime.
        segments.append(("api", 2, seed * 1000 + 900, 1))
    # The slowest first (the large order's, then the API's), so that the workers end together.
    return sorted(segments, key=lambda s: (-s[3] if s[0] == "api" else 0, s[0] != "api", -s[1]))


def run_campaign(
    shipments: int,
    seed: int,
    wave: int,
    workers: int = 2,
    api_orders: int = 0,
    *,
    large_order: bool = True,
) -> dict[str, Any]:
    """The campaign's segments, ``workers`` at a time (in this process when 1), merged."""
    segments = plan_segments(shipments, api_orders, seed, wave, large_order)
    reports: list[dict[str, Any]] = []
    if len(segments) == 1 or workers == 1:
        for segment in segments:
            reports.append(run_segment(segment))
            _segment_done(reports[-1], len(reports), len(segments))
    else:
        from multiprocessing import get_context  # noqa: PLC0415

        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(run_segment, segment) for segment in segments]
            for future in as_completed(futures):
                reports.append(future.result())
                _segment_done(reports[-1], len(reports), len(segments))
    return merge_reports(reports, seed)


def _segment_done(report: dict[str, Any], done: int, total: int) -> None:
    nonzero = {name: n for name, n in report["outcome"].items() if n and name in OUTCOME_FIGURES}
    verdict = "all figures zero" if not nonzero else f"NOT ZERO: {nonzero}"
    size = report.get("shipments") or report.get("api orders")
    unit = "shipments" if report["kind"] == "events" else "API orders"
    print(
        f"segment {done}/{total} done ({report['kind']}, {size} {unit}, seed {report['seed']}): "
        f"{verdict}",
        file=sys.stderr,
        flush=True,
    )


def _add(dicts: list[dict[str, Any]]) -> dict[str, Any]:
    total: Counter[str] = Counter()
    for figures in dicts:
        total.update({k: v for k, v in figures.items() if isinstance(v, int)})
    return dict(total)


def merge_reports(reports: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """Add up segments' figures (the widest wave for concurrency, the most paths seen)."""
    events = [r for r in reports if r["kind"] == "events"]
    api = [r for r in reports if r["kind"] == "api"]
    outcome = dict.fromkeys(OUTCOME_FIGURES, 0) | _add([r["outcome"] for r in reports])
    examples: dict[str, list[str]] = {}
    for report in reports:
        for name, found in report.get("examples", {}).items():
            examples.setdefault(name, []).extend(found)
    merged: dict[str, Any] = {
        "seed": seed,
        "segments": len(reports),
        "orders": sum(r["orders"] for r in events),
        "shipments": sum(r["shipments"] for r in events),
        "cancellations": sum(r["cancellations"] for r in events),
        "deliveries": _add([r["deliveries"] for r in events]),
        "faults injected": _add([r["faults injected"] for r in reports]),
        "reconciliation": _add([r["reconciliation"] for r in reports]),
        "ledger captures by status": _add([r["ledger captures by status"] for r in events]),
        "provider captures": sum(r["provider captures"] for r in events),
        "provider releases": sum(r.get("provider releases", 0) for r in reports),
        "paths taken": max((r["paths taken"] for r in events), default=0),
        "api orders": sum(r["api orders"] for r in api),
        "api requests": sum(r["api requests"] for r in api),
        "api requests by kind": _add([r["api requests by kind"] for r in api]),
        "api answers by status": _add([r["api answers by status"] for r in api]),
        "webhooks": _add([r["webhooks"] for r in api]),
        "reconciliation runs": sum(r.get("reconciliation runs", 1) for r in reports),
        "left to an operator": sum(r["left to an operator"] for r in api),
        "outcome": {name: outcome[name] for name in OUTCOME_FIGURES},
        "reported": {name: outcome.get(name, 0) for name in REPORTED_FIGURES},
        "examples": {name: found[:5] for name, found in examples.items()},
    }
    widest = "concurrent executions (max per wave)"
    if events:
        merged["deliveries"][widest] = max(r["deliveries"].get(widest, 0) for r in events)
    return merged


def render(report: dict[str, Any], seconds: float) -> str:
    rows: list[tuple[str, Any]] = [
        ("event campaign: orders", report["orders"]),
        ("shipments", report["shipments"]),
        ("cancellations (events)", report["cancellations"]),
        *report["deliveries"].items(),
        *[
            (f"ledger captures {k}", v)
            for k, v in sorted(report["ledger captures by status"].items())
        ],
        ("provider captures (events)", report["provider captures"]),
        ("provider releases (both campaigns)", report["provider releases"]),
        ("distinct execution paths", report["paths taken"]),
        ("API campaign: orders", report["api orders"]),
        ("API requests", report["api requests"]),
        *[(f"API requests: {k}", v) for k, v in sorted(report["api requests by kind"].items())],
        *[(f"API answers {k}", v) for k, v in sorted(report["api answers by status"].items())],
        *[(name, v) for name, v in sorted(report["webhooks"].items())],
        *[(f"fault: {k}", v) for k, v in sorted(report["faults injected"].items())],
        ("reconciliation runs", report["reconciliation runs"]),
        *[(f"reconciliation: {k}", v) for k, v in report["reconciliation"].items()],
        ("left to an operator (Aplazame, ambiguous)", report["left to an operator"]),
        (
            "announcements repeated (same announcement_id: a Record that died right after "
            "PutEvents answered, a webhook's copy after SETTLER_DEADLINE)",
            report["reported"]["announcements_repeated"],
        ),
        (
            "captures refused after a reversal (a capture the sandbox confirmed, then failed, "
            "once a final capture had released the rest: no provider does both)",
            report["reported"]["captures_after_a_reversal"],
        ),
    ]
    lines = ["| figure | value |", "| --- | ---: |"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    lines += ["", "| must be zero | value |", "| --- | ---: |"]
    lines += [f"| {name} | {report['outcome'][name]} |" for name in OUTCOME_FIGURES]
    broken = {name: report["examples"].get(name, []) for name in OUTCOME_FIGURES}
    if any(report["outcome"].values()):
        lines += ["", "What broke (first examples):", ""]
        for name in OUTCOME_FIGURES:
            if report["outcome"][name]:
                lines += [f"- {name}:"] + [f"  - {example}" for example in broken[name]]
    for name in REPORTED_FIGURES:
        if report["reported"][name]:
            lines += ["", f"{name} (reported, first examples):", ""]
            lines += [f"  - {example}" for example in report["examples"].get(name, [])]
    lines += ["", f"{seconds:.0f} s, seed {report['seed']}, {report['segments']} segment(s)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--shipments", type=int, default=DEFAULT_SHIPMENTS)
    parser.add_argument("--api-orders", type=int, default=DEFAULT_API_ORDERS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--wave", type=int, default=16, help="executions started at once")
    parser.add_argument("--workers", type=int, default=2, help="segments run in parallel")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--report", help="also write the table (Markdown) to this file")
    args = parser.parse_args(argv)
    started = time.monotonic()
    print(
        f"fault campaign: {args.shipments} shipments by event, {args.api_orders} orders through "
        f"the API, seed {args.seed}, {args.workers} workers",
        file=sys.stderr,
        flush=True,
    )
    report = run_campaign(args.shipments, args.seed, args.wave, args.workers, args.api_orders)
    elapsed = time.monotonic() - started
    table = render(report, elapsed)
    print(json.dumps(report, indent=2) if args.json else table)
    if args.report:
        command = (
            f"make chaos-report CHAOS_SHIPMENTS={args.shipments} "
            f"CHAOS_API_ORDERS={args.api_orders} CHAOS_SEED={args.seed}"
        )
        Path(args.report).write_text(f"# Fault campaign\n\nWritten by `{command}`.\n\n{table}\n")
    return 1 if any(report["outcome"].values()) else 0
