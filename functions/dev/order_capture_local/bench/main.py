"""``make bench``: run every scenario, print the summary, write BENCHMARKS.md when asked."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from order_capture_local.asl_lint import worst_case_seconds
from order_capture_local.bench import summary_blocks
from order_capture_local.bench.cold import FirstPayloads, measure_cold_starts
from order_capture_local.bench.cost import (
    confirmed_later,
    cost_per_million,
    deployed,
    invoked_functions,
)
from order_capture_local.bench.hot_order import HOT_SHIPMENTS, measure_hot_order
from order_capture_local.bench.package import build_tree, measure_package
from order_capture_local.bench.recording import Bench
from order_capture_local.bench.rendering import Results, render, render_summary_table
from order_capture_local.bench.rendering_costs import render_cold
from order_capture_local.bench.scenarios import (
    ASYNC_PATH,
    measure_api,
    measure_history,
    measure_lines,
    measure_long_ids,
    measure_paths,
    measure_warm,
)
from order_capture_local.runtime import (
    LocalRuntime,
)

# --- main ----------------------------------------------------------------------------------------


def _progress(started: float, what: str) -> None:
    print(f"bench: [{time.perf_counter() - started:4.0f} s] {what} ...", file=sys.stderr)


def _cpu_seconds() -> float:
    used = os.times()
    return used.user + used.system + used.children_user + used.children_system


def run_bench(args: argparse.Namespace) -> Results:
    started = time.perf_counter()
    # moto logs every failed execution (the failure paths measured on purpose) at ERROR.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    with LocalRuntime(log_level="ERROR") as runtime:
        bench = Bench(runtime)
        first_payloads = FirstPayloads()
        # The handlers' logs are measured at the template's level (priced in the costs).
        with bench.logs.metering(deployed().log_level):
            with first_payloads.recording(runtime):
                _progress(started, "paths")
                paths = measure_paths(bench)
                _progress(started, "API captures")
                api = measure_api(bench)
            _progress(started, f"a hot order: {HOT_SHIPMENTS} shipments at once")
            hot_order = measure_hot_order(bench)
            # Before scaling: moto's TransactWriteItems copies the whole table, so warm invokes
            # are measured while the table is still small.
            _progress(started, "warm invokes")
            warm = measure_warm(bench, rounds=args.warm_rounds)
            # Earlier captures before the large orders, for the same reason.
            _progress(started, "scaling: 0, 10, 100 earlier captures")
            history = measure_history(bench, (0, 10, 100), shipments=3)
            _progress(started, "scaling: orders of 1, 100, 1,000 lines")
            lines = measure_lines(bench, (1, 100, 1000), shipments=3)
            _progress(started, "scaling: 1,000 lines with long ids")
            lines += measure_long_ids(bench)
        costs = {
            "shipment capture (2 lines)": cost_per_million(
                paths[0].run, invoked_functions(runtime, paths[0].run)
            ),
            "shipment capture (100 lines)": cost_per_million(
                lines[1].first, invoked_functions(runtime, lines[1].first)
            ),
        }
        asynchronous = next(p.run for p in paths if p.name == ASYNC_PATH)
        costs["asynchronous capture (Adyen; + confirmation workflow)"] = cost_per_million(
            confirmed_later(asynchronous),
            [*invoked_functions(runtime, asynchronous), "AwaitConfirmationFunction"],
        )
        api_capture = api[0].execution
        if api_capture is not None:
            # The whole HTTP request: ApiFunction (invoked by API Gateway, not a counted
            # Lambda.Invoke) and its idempotency and API key requests included.
            costs["API capture (2 lines, whole request)"] = cost_per_million(
                replace(api_capture, capacity=api[0].capacity),
                invoked_functions(runtime, api_capture),
                api=True,
            )
        _progress(started, "the Lambda tree (layer and function)")
        tree = build_tree()
        package = measure_package(tree, functions=len(runtime.template.functions))
        cold = (
            measure_cold_starts(runtime, tree, first_payloads.payloads, args.cold_runs)
            if args.cold_runs
            else None
        )
        express_limit = {
            machine.logical_id: worst_case_seconds(runtime.template, machine)
            for machine in runtime.template.state_machines.values()
        }
    return Results(
        paths=paths,
        api=api,
        lines=lines,
        history=history,
        warm=warm,
        cold=cold,
        package=package,
        costs=costs,
        express_limit=express_limit,
        hot_order=hot_order,
        seconds=time.perf_counter() - started,
        cpu_seconds=_cpu_seconds(),
    )


def run_cold_only(args: argparse.Namespace) -> list[str]:
    """Only the cold-start part (``--only-cold``): the path and API scenarios, for the payload
    each function is first invoked with, then the probes. Renders the cold-start section."""
    started = time.perf_counter()
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    with LocalRuntime(log_level="ERROR") as runtime:
        bench = Bench(runtime)
        first_payloads = FirstPayloads()
        with first_payloads.recording(runtime):
            _progress(started, "paths (for the first payloads)")
            measure_paths(bench)
            _progress(started, "API captures (for the first payloads)")
            measure_api(bench)
        _progress(started, "the Lambda tree (layer and function)")
        tree = build_tree()
        cold = measure_cold_starts(runtime, tree, first_payloads.payloads, args.cold_runs)
    return render_cold(cold)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    # Three interleaved runs: each is a dozen fresh interpreters, and CPU time (cold.py)
    # varies little between runs where wall time did.
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--warm-rounds", type=int, default=10)
    parser.add_argument(
        "--report",
        metavar="PATH",
        help="write the full report there (make bench REPORT=1: BENCHMARKS.md); default: none",
    )
    parser.add_argument(
        "--summary-into-docs",
        action="store_true",
        help="also write the summary table into README.md and docs/performance.md "
        "(make bench REPORT=1)",
    )
    parser.add_argument(
        "--only-cold",
        action="store_true",
        help="run only the cold-start part and print its section (writes nothing)",
    )
    args = parser.parse_args(argv)
    if args.only_cold:
        with contextlib.redirect_stdout(sys.stderr):
            section = run_cold_only(args)
        print("\n".join(section))
        return 0
    # Handlers print what they would print on Lambda (EMF metrics when enabled); stdout is the
    # summary's.
    with contextlib.redirect_stdout(sys.stderr):
        results = run_bench(args)
    print("\n".join(render_summary_table(results)))
    print(f"bench: {results.seconds:.0f} s ({results.cpu_seconds:.0f} s of CPU)", file=sys.stderr)
    if args.report:
        Path(args.report).write_text(render(results))
        print(f"bench: wrote {args.report}", file=sys.stderr)
    if args.summary_into_docs:
        for document in summary_blocks.DOCUMENTS:
            summary_blocks.replace_block(document, render_summary_table(results))
            print(f"bench: wrote the summary table into {document}", file=sys.stderr)
    if not args.report and not args.summary_into_docs:
        print(
            "bench: no report written (make bench REPORT=1 writes BENCHMARKS.md)", file=sys.stderr
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
