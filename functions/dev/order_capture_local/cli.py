"""``order-capture``: the command line for local runs (and, later, operations on AWS).

order-capture local invoke <FunctionLogicalId> -e event.json
order-capture local put-events -e a.json [-e b.json ...] [--ledger] [--json]
                               [--sandbox-fault KIND ...]
order-capture local start-api [--port 3000] [--merchant merchant-1]
order-capture keys create --merchant <id> [--table <LedgerTableName> | --local-url <url>]
order-capture openapi [-o docs/openapi.json]
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from order_capture_local.runtime import (
    DEFAULT_TEMPLATE,
    Delivery,
    ExecutionReport,
    LocalRuntime,
    patched_environ,
)
from order_capture_local.sandbox import ASYNC_FAULT_KINDS

CONFIRMATION_MACHINE = "ConfirmationStateMachine"


def _read_events(paths: list[Path]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for path in paths:
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise SystemExit(f"order-capture: cannot read {path}: {error}") from None
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


def _runtime(args: argparse.Namespace) -> LocalRuntime:
    return LocalRuntime(
        Path(args.template),
        parameter_overrides=_parameter_overrides(args.parameter_overrides),
        log_level=args.log_level,
    )


def _print_delivery(delivery: Delivery) -> None:
    event = delivery.event
    print(f"== {event['detail-type']} ({event['id']})")
    if not delivery.executions and not delivery.invocations:
        print("   matched no rule")
    for invocation in delivery.invocations:
        outcome = f"ERROR {invocation.error_type}" if invocation.failed else "ok"
        print(f"   invoked {invocation.function}: {outcome}")
        if invocation.failed:
            print(f"      {invocation.payload.get('errorMessage')}")
    for execution in delivery.executions:
        print(f"   execution {execution.name}: {execution.status}")
        print(f"      states: {' -> '.join(execution.states)}")
        if execution.status == "SUCCEEDED":
            print(f"      output: {json.dumps(execution.output)}")
        else:
            print(f"      error: {execution.error}: {execution.cause}")


def _print_captures(ledger: list[dict[str, Any]]) -> None:
    from order_capture.adapters.dynamodb import order_pk  # noqa: PLC0415
    from order_capture.adapters.ledger_layout import orders_in  # noqa: PLC0415

    orders = {
        order_pk(order.merchant_id, order.order_id): order.model_dump(mode="json")
        for order in orders_in(ledger)
    }
    for pk, order in orders.items():
        captures = [
            item for item in ledger if item["PK"] == pk and item["SK"].startswith("CAPTURE#")
        ]
        total = (
            sum(
                line["quantity"] * line["unit_amount"]
                - line["discount_amount"]
                + line["tax_amount"]
                for line in order["lines"]
            )
            + order["shipping_amount"]
        )
        print(f"== Captures of {order['merchant_id']}/{order['order_id']} ({order['currency']})")
        for capture in sorted(captures, key=lambda item: item["created_at"]):
            print(
                f"   {capture['shipment_id']:<14} {capture['capture_id']}  "
                f"{capture['status']:<16} {capture['amount']:>10}"
            )
        captured = sum(c["amount"] for c in captures if c["status"] == "captured")
        print(
            f"   captured {captured} of order total {total}, canceled "
            f"{order['canceled_amount']}: "
            f"{'complete' if captured == total - order['canceled_amount'] else 'open'}"
        )


def _cmd_invoke(args: argparse.Namespace) -> int:
    event = _read_events([Path(args.event)])[0] if args.event else {}
    with _runtime(args) as runtime:
        invocation = runtime.invoke(args.function, event)
    print(json.dumps(invocation.payload, indent=2))
    return 1 if invocation.failed else 0


@contextmanager
def _signed_sandbox_webhooks(merchant_ids: set[str]) -> Iterator[str]:
    """A fresh webhook HMAC key for the sandbox provider of ``merchant_ids``, given to the
    runtime's credentials as PROVIDER_CREDENTIALS_JSON for as long as the block runs."""
    key = secrets.token_hex(32)
    credentials = {
        merchant_id: {"sandbox": {"api_key": "local", "webhook_hmac_key": key}}
        for merchant_id in merchant_ids
    }
    with patched_environ({"PROVIDER_CREDENTIALS_JSON": json.dumps(credentials)}):
        yield key


def _serve_webhooks(stack: ExitStack, runtime: LocalRuntime, hmac_key: str) -> None:
    """Serve the API on a free loopback port and point the sandbox's webhooks at it."""
    from order_capture_local.api_server import ApiServer, LocalApi  # noqa: PLC0415

    api = LocalApi(runtime)
    stack.callback(api.close)
    server = ApiServer(api, port=0, access_log=False).start()
    stack.callback(server.stop)
    assert runtime.sandbox is not None
    runtime.sandbox.configure_webhook(f"{server.url}/webhooks/sandbox", hmac_key)


def _confirmations(runtime: LocalRuntime, deliveries: list[Delivery]) -> list[ExecutionReport]:
    """The confirmation workflows the deliveries started, once each has ended."""
    return [
        runtime.wait_for(
            runtime.execution_arn(CONFIRMATION_MACHINE, execution.output["capture_id"])
        )
        for delivery in deliveries
        for execution in delivery.executions
        # Ended handing the capture to the confirmation workflow (started now, or before).
        if execution.states[-1:]
        in (["AwaitProviderConfirmation"], ["AwaitingProviderConfirmation"])
    ]


@dataclass
class _PutEventsRun:
    """What ``put-events`` saw, to report."""

    deliveries: list[Delivery]
    confirmations: list[ExecutionReport]
    reconciliation: Any
    ledger: list[dict[str, Any]]
    emitted: list[dict[str, Any]]

    @property
    def failed(self) -> bool:
        executions = [e for d in self.deliveries for e in d.executions] + self.confirmations
        return any(e.status != "SUCCEEDED" for e in executions) or any(
            invocation.failed for d in self.deliveries for invocation in d.invocations
        )


def _put_events(args: argparse.Namespace, events: list[dict[str, Any]]) -> _PutEventsRun:
    faults: list[str] = args.sandbox_fault or []
    with ExitStack() as stack:
        hmac_key = None
        if ASYNC_FAULT_KINDS.intersection(faults):
            merchants = {str(e.get("detail", {}).get("merchant_id")) for e in events}
            hmac_key = stack.enter_context(_signed_sandbox_webhooks(merchants))
        runtime = stack.enter_context(_runtime(args))
        if hmac_key is not None:
            _serve_webhooks(stack, runtime, hmac_key)
        assert runtime.sandbox is not None
        for kind in faults:
            runtime.sandbox.add_fault(kind, delay_seconds=1 if kind in ASYNC_FAULT_KINDS else 0)
        deliveries = runtime.put_events(events)
        confirmations = _confirmations(runtime, deliveries)
        reconciliation = (
            runtime.invoke("ReconcileFunction", {"grace_seconds": 0}).payload
            if args.reconcile
            else None
        )
        return _PutEventsRun(
            deliveries,
            confirmations,
            reconciliation,
            runtime.ledger(),
            list(runtime.emitted_events),
        )


def _print_json_report(run: _PutEventsRun, with_ledger: bool) -> None:
    report: dict[str, Any] = {
        "deliveries": [
            {
                "event": delivery.event,
                "executions": [execution.to_dict() for execution in delivery.executions],
                "invocations": [
                    {"function": i.function, "error": i.error_type, "result": i.payload}
                    for i in delivery.invocations
                ],
            }
            for delivery in run.deliveries
        ],
        "confirmations": [execution.to_dict() for execution in run.confirmations],
        "emitted": run.emitted,
    }
    if run.reconciliation is not None:
        report["reconciliation"] = run.reconciliation
    if with_ledger:
        report["ledger"] = run.ledger
    print(json.dumps(report, indent=2))


def _print_text_report(run: _PutEventsRun, with_ledger: bool) -> None:
    for delivery in run.deliveries:
        _print_delivery(delivery)
    for execution in run.confirmations:
        print(f"== confirmation {execution.name}: {execution.status}")
        print(f"      states: {' -> '.join(execution.states)}")
    for event in run.emitted:
        print(f"== emitted {event['detail-type']}: {json.dumps(event['detail'])}")
    if run.reconciliation is not None:
        print(f"== reconciliation: {json.dumps(run.reconciliation)}")
    _print_captures(run.ledger)
    if with_ledger:
        print(json.dumps(run.ledger, indent=2))


def _cmd_put_events(args: argparse.Namespace) -> int:
    run = _put_events(args, _read_events([Path(path) for path in args.event]))
    (_print_json_report if args.json else _print_text_report)(run, args.ledger)
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


def _cmd_keys_create(args: argparse.Namespace) -> int:
    if args.table:
        from order_capture.adapters.api_keys import DynamoDBApiKeyStore  # noqa: PLC0415
        from order_capture.domain import merchant_api  # noqa: PLC0415
        from order_capture.ports import SystemClock  # noqa: PLC0415

        api_key = merchant_api.create_api_key(
            DynamoDBApiKeyStore(args.table), args.merchant, SystemClock()
        )
    else:
        api_key = _create_local_key(args.local_url, args.merchant)
    print(api_key)
    return 0


def _create_local_key(base_url: str, merchant_id: str) -> str:
    """Local state lives in the `start-api` process: ask it for the key."""
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    from order_capture_local.api_server import KEYS_PATH  # noqa: PLC0415

    request = urllib.request.Request(
        base_url.rstrip("/") + KEYS_PATH,
        data=json.dumps({"merchant_id": merchant_id}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.loads(response.read())["api_key"])
    except urllib.error.HTTPError as error:
        raise SystemExit(f"order-capture: {error.read().decode(errors='replace')}") from None
    except OSError as error:
        raise SystemExit(
            f"order-capture: no local API at {base_url} ({error}); start it with "
            "`order-capture local start-api`, or pass --table for AWS"
        ) from None


def _cmd_reconcile(args: argparse.Namespace) -> int:
    """On AWS: settle the open captures of the ledger table now (what the schedule does)."""
    import os  # noqa: PLC0415

    from order_capture.config import settings  # noqa: PLC0415
    from order_capture.handlers import reconcile  # noqa: PLC0415

    os.environ["TABLE_NAME"] = args.table
    settings.cache_clear()
    report = reconcile.handle({"grace_seconds": args.grace_seconds}, None)  # type: ignore[arg-type]
    print(json.dumps(report, indent=2))
    return 1 if report["unanswered"] or report["amount_mismatches"] else 0


def _cmd_openapi(args: argparse.Namespace) -> int:
    from order_capture_local.api_server import openapi_document  # noqa: PLC0415

    document = openapi_document()
    if args.output:
        Path(args.output).write_text(document)
    else:
        print(document, end="")
    return 0


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
            "--log-level", default="WARNING", help="handlers' log level (logs go to stderr)"
        )

    invoke = local_commands.add_parser("invoke", help="invoke one function with an event")
    invoke.add_argument("function", help="the function's logical id in template.yaml")
    invoke.add_argument("--event", "-e", help="JSON event file")
    common(invoke)
    invoke.set_defaults(run=_cmd_invoke)

    put_events = local_commands.add_parser("put-events", help="deliver EventBridge events")
    put_events.add_argument(
        "--event",
        "-e",
        action="append",
        required=True,
        help="JSON file with an event or a list of events (repeatable)",
    )
    put_events.add_argument("--ledger", action="store_true", help="print the final ledger")
    put_events.add_argument("--json", action="store_true", help="machine-readable output")
    put_events.add_argument(
        "--strict", action="store_true", help="exit 1 if any execution or invocation failed"
    )
    put_events.add_argument(
        "--sandbox-fault",
        action="append",
        metavar="KIND",
        help="make the sandbox's next capture misbehave (repeatable, one capture each): "
        "unavailable, decline, expired_authorization, timeout_after_capture, latency, or async "
        "/ async_failed (answer 'received', then confirm / fail by signed webhook a second "
        "later; the local API serves the webhook and the confirmation workflows are shown)",
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

    keys = commands.add_parser("keys", help="API keys of merchants")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    create_key = keys_commands.add_parser(
        "create", help="create an API key for a merchant and print it (shown only once)"
    )
    create_key.add_argument("--merchant", required=True, help="the merchant id")
    create_key.add_argument(
        "--table", help="on AWS: the ledger table (stack output LedgerTableName)"
    )
    create_key.add_argument(
        "--local-url",
        default="http://127.0.0.1:3000",
        help="locally: the running `order-capture local start-api` (default %(default)s)",
    )
    create_key.set_defaults(run=_cmd_keys_create)

    reconcile = commands.add_parser(
        "reconcile", help="on AWS: settle pending / requires_action captures now"
    )
    reconcile.add_argument("--table", required=True, help="the ledger table (LedgerTableName)")
    reconcile.add_argument(
        "--grace-seconds",
        type=int,
        default=900,
        help="leave captures younger than this to their own execution (default %(default)s)",
    )
    reconcile.set_defaults(run=_cmd_reconcile)

    openapi = commands.add_parser(
        "openapi", help="print the API's OpenAPI document, generated from the code"
    )
    openapi.add_argument("--output", "-o", help="write it to this file (docs/openapi.json)")
    openapi.set_defaults(run=_cmd_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
