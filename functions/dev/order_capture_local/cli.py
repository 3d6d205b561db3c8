"""``order-capture``: the command line for local runs (and, later, operations on AWS).

order-capture local start [--aws-port 4566] [--api-port 3000] [--state FILE]
order-capture local invoke <FunctionLogicalId> -e event.json
order-capture local put-events -e a.json [-e b.json ...] [--ledger] [--json]
                               [--sandbox-fault KIND ...]
order-capture local start-api [--port 3000] [--merchant merchant-1]
order-capture keys create --merchant <id> [--table <LedgerTableName> | --local-url <url>]
order-capture keys revoke --merchant <id> (--key <key> | --digest <sha256>) --table <Ledger>
order-capture reconcile [--table <LedgerTableName>] [--json]
order-capture captures list [--status S] [--merchant M] [--older-than 1h] [--json]
order-capture captures show <capture_id> | settle <capture_id> --captured ... | --not-captured ...
order-capture refunds list [--merchant M] [--older-than 1h] [--json]
order-capture openapi [-o docs/openapi.json]

While `order-capture local start` runs, `local invoke`, `local put-events`, `keys create` and
`reconcile` (without --table) talk to it through its AWS endpoint and share its state;
otherwise (or with --in-process) each runs once on its own embedded AWS.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from order_capture_local import dead_letters, deliveries, operations, stack_commands
from order_capture_local.cli_support import progress, read_json_source, run_command
from order_capture_local.cli_support import sandbox_fault as sandbox_fault_type
from order_capture_local.runtime import DEFAULT_TEMPLATE, LocalRuntime
from order_capture_local.stack import StackInfo, running_stack
from order_capture_local.stack_commands import add_in_process_flag, stack_for


def _read_events(sources: list[str]) -> list[dict[str, Any]]:
    """The events of each file (``-``: stdin), each a JSON object or a list of them."""
    events: list[dict[str, Any]] = []
    for path in sources:
        loaded = read_json_source(path)
        entries = loaded if isinstance(loaded, list) else [loaded]
        for entry in entries:
            if not isinstance(entry, dict):
                raise SystemExit(f"order-capture: {path}: every event must be a JSON object")
            events.append(entry)
    return events


def _parameter_overrides(values: list[str]) -> dict[str, str]:
    overrides = {}
    for value in values:
        name, separator, setting = value.partition("=")
        if not separator:
            raise SystemExit(
                f"order-capture: --parameter-overrides takes Name=Value, not {value!r}"
            )
        overrides[name] = setting
    return overrides


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(text: str) -> str:
    """A handler log level, told apart from a typo before anything starts."""
    if text.upper() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(LOG_LEVELS)}")
    return text.upper()


def _runtime(args: argparse.Namespace) -> LocalRuntime:
    return LocalRuntime(
        Path(args.template),
        parameter_overrides=_parameter_overrides(args.parameter_overrides),
        log_level=args.log_level,
    )


def _cmd_invoke(args: argparse.Namespace) -> int:
    event = _read_events([args.event])[0] if args.event else {}
    info = stack_for(args)
    if info is not None:
        from order_capture_local import stack_client  # noqa: PLC0415

        try:
            with progress(f"invoking {args.function}"):
                invocation = stack_client.invoke(info, args.function, event, args.log_level)
        except KeyError as error:  # an unknown function: the message names the known ones
            raise SystemExit(f"order-capture: {error.args[0]}") from None
        print(json.dumps(invocation.payload, indent=2))
        return 1 if invocation.failed else 0
    with _runtime(args) as runtime:
        try:
            with progress(f"invoking {args.function}"):
                invocation = runtime.invoke(args.function, event)
        except KeyError as error:
            raise SystemExit(f"order-capture: {error.args[0]}") from None
    print(json.dumps(invocation.payload, indent=2))
    return 1 if invocation.failed else 0


def _cmd_put_events(args: argparse.Namespace) -> int:
    events = _read_events(args.event)
    info = stack_for(args)
    with progress(f"delivering {len(events)} event(s) and waiting for their workflows"):
        run = (
            deliveries.on_stack(args, info, events)
            if info
            else deliveries.in_process(args, events, lambda: _runtime(args))
        )
    report = deliveries.print_json_report if args.json else deliveries.print_text_report
    report(run, args.ledger)
    return 1 if run.failed and args.strict else 0


def _cmd_start_api(args: argparse.Namespace) -> int:
    from order_capture_local.api_server import ApiServer, LocalApi  # noqa: PLC0415

    with _runtime(args) as runtime:
        api = LocalApi(runtime)
        try:
            server = ApiServer(api, port=args.port)
        except OSError as error:
            raise SystemExit(f"order-capture: cannot listen on port {args.port}: {error}") from None
        api_key = api.create_api_key(args.merchant)
        print(f"order-capture API on {server.url} (template {args.template})")
        print(
            f"  embedded AWS (moto), sandbox provider at {runtime.sandbox and runtime.sandbox.url}"
        )
        print(f"  Swagger UI: {server.url}/swagger")
        print(f"API key of merchant {args.merchant} (shown once, lives as long as this process):")
        print(f"  {api_key}")
        print("Routes:")
        for route in api.routes:
            print(f"  {route.method:<6} {route.path}  -> {route.function_id}")
        sys.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            api.close()
    return 0


def _cmd_start(args: argparse.Namespace) -> int:
    import signal  # noqa: PLC0415

    from order_capture_local.sandbox import SandboxServer  # noqa: PLC0415
    from order_capture_local.stack import LocalStack, stack_file  # noqa: PLC0415

    if (info := running_stack()) is not None:
        raise SystemExit(f"order-capture: a local stack already runs (PID {info.pid})")
    merchants = tuple(args.merchant or ["merchant-1"])
    # SIGTERM (make, CI, kill PID) stops the stack as Ctrl-C does: state saved, file removed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        sandbox = SandboxServer(port=args.sandbox_port).start()
    except OSError as error:
        raise SystemExit(f"order-capture: sandbox port {args.sandbox_port}: {error}") from None
    try:
        with (
            LocalRuntime(
                Path(args.template),
                parameter_overrides=_parameter_overrides(args.parameter_overrides),
                log_level=args.log_level,
                sandbox=sandbox,
            ) as runtime,
            LocalStack(
                runtime,
                aws_port=args.aws_port,
                api_port=args.api_port,
                merchants=merchants,
                state_path=Path(args.state) if args.state else None,
                stack_path=stack_file(),
            ) as stack,
        ):
            _print_stack(stack.info, [stack.api.create_api_key(m) for m in merchants], merchants)
            try:
                while True:
                    signal.pause()
            except KeyboardInterrupt:
                print("stopping the local stack", file=sys.stderr)
    except OSError as error:
        raise SystemExit(f"order-capture: cannot start the local stack: {error}") from None
    finally:
        sandbox.stop()
    return 0


def _print_stack(info: StackInfo, keys: list[str], merchants: tuple[str, ...]) -> None:
    print(f"order-capture local stack (PID {info.pid}, template {info.template})")
    print(f"  AWS endpoint      {info.endpoint}  (moto: DynamoDB, Step Functions, EventBridge...)")
    print(f"  API               {info.api_url}  (Swagger UI: {info.api_url}/swagger)")
    print(f"  sandbox provider  {info.sandbox_url}")
    print(f"  ledger table      {info.table_name}")
    for merchant_id, api_key in zip(merchants, keys, strict=True):
        print(f"  API key of {merchant_id}: {api_key}")
    print("Other terminals: `order-capture local put-events/invoke`, `keys create`, `reconcile`")
    print("use this stack; any AWS client does with:")
    print(f"  export AWS_ENDPOINT_URL={info.endpoint} AWS_ACCESS_KEY_ID=testing ", end="")
    print("AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1")
    print("Ctrl-C stops it.")
    sys.stdout.flush()


def _cmd_openapi(args: argparse.Namespace) -> int:
    from order_capture_local.api_server import openapi_document  # noqa: PLC0415

    document = openapi_document()
    if args.output:
        Path(args.output).write_text(document)
    else:
        print(document, end="")
    return 0


def _add_start_parser(local_commands: Any) -> None:
    start = local_commands.add_parser(
        "start", help="run the local stack (AWS endpoint, sandbox, API) until stopped"
    )
    start.add_argument("--aws-port", type=int, default=4566, help="0 picks a free port")
    start.add_argument("--api-port", type=int, default=3000)
    start.add_argument("--sandbox-port", type=int, default=4567)
    start.add_argument(
        "--merchant",
        action="append",
        help="merchant of the printed API key and of a sandbox secret (repeatable; "
        "default merchant-1)",
    )
    start.add_argument(
        "--state", help="load the ledger and sandbox from this JSON file, save them there on exit"
    )
    start.add_argument("--template", "-t", default=str(DEFAULT_TEMPLATE))
    start.add_argument("--parameter-overrides", nargs="*", default=[], metavar="Name=Value")
    start.add_argument(
        "--log-level",
        default="WARNING",
        type=_log_level,
        help="handlers' log level (logs go to stderr)",
    )
    start.set_defaults(run=_cmd_start)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="order-capture",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="run template.yaml locally (moto, real ASL)")
    local_commands = local.add_subparsers(dest="local_command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--template", "-t", default=str(DEFAULT_TEMPLATE))
        sub.add_argument("--parameter-overrides", nargs="*", default=[], metavar="Name=Value")
        sub.add_argument(
            "--log-level",
            default="WARNING",
            type=_log_level,
            help="handlers' log level (logs go to stderr)",
        )
        add_in_process_flag(sub)

    _add_start_parser(local_commands)

    invoke = local_commands.add_parser("invoke", help="invoke one function with an event")
    invoke.add_argument("function", help="the function's logical id in template.yaml")
    invoke.add_argument("--event", "-e", help="JSON event file (- reads stdin)")
    common(invoke)
    invoke.set_defaults(run=_cmd_invoke)

    put_events = local_commands.add_parser("put-events", help="deliver EventBridge events")
    put_events.add_argument(
        "--event",
        "-e",
        action="append",
        required=True,
        help="JSON file with an event or a list of events (repeatable; - reads stdin)",
    )
    put_events.add_argument("--ledger", action="store_true", help="print the final ledger")
    put_events.add_argument("--json", action="store_true", help="machine-readable output")
    put_events.add_argument(
        "--strict", action="store_true", help="exit 1 if any execution or invocation failed"
    )
    put_events.add_argument(
        "--sandbox-fault",
        action="append",
        type=sandbox_fault_type,
        metavar="KIND[:SECONDS]",
        help="make the sandbox's next capture misbehave (repeatable, one capture each): "
        "unavailable, decline, expired_authorization, timeout_after_capture:SECONDS "
        "(captures, answers after SECONDS), latency:SECONDS, or async / async_failed / "
        "async_reversed[:SECONDS] (answer 'received', then confirm / fail by signed webhook "
        "SECONDS later, default 1; the local API serves the webhook and the confirmation "
        "workflows are shown)",
    )
    put_events.add_argument(
        "--reconcile",
        action="store_true",
        help="then run reconciliation (ReconcileFunction) over every open capture",
    )
    common(put_events)
    put_events.set_defaults(run=_cmd_put_events)

    start_api = local_commands.add_parser(
        "start-api", help="serve the template's API routes on loopback (like sam local start-api)"
    )
    start_api.add_argument("--port", "-p", type=int, default=3000)
    start_api.add_argument(
        "--merchant", default="merchant-1", help="merchant of the API key printed at start"
    )
    common(start_api)
    start_api.set_defaults(run=_cmd_start_api)

    stack_commands.add_parsers(commands)
    operations.add_parsers(commands)
    dead_letters.add_parsers(commands)

    openapi = commands.add_parser(
        "openapi", help="print the API's OpenAPI document, generated from the code"
    )
    openapi.add_argument("--output", "-o", help="write it to this file (docs/openapi.json)")
    openapi.set_defaults(run=_cmd_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
