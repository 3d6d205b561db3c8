"""The commands that run against a stack, on AWS (``--table``) or the running
``order-capture local start``: ``keys create``, ``keys revoke`` (AWS) and ``reconcile``, and
how any command finds that running stack (unless told ``--in-process``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from order_capture_local.cli_support import progress
from order_capture_local.operations import CONFIRMATION_WORKFLOW_HELP, print_reconciliation
from order_capture_local.stack import StackInfo, running_stack


def stack_for(args: argparse.Namespace) -> StackInfo | None:
    """The running local stack this command talks to, unless told to run in-process."""
    if getattr(args, "in_process", False):
        return None
    info = running_stack()
    if info is not None:
        print(f"(local stack at {info.endpoint})", file=sys.stderr)
    return info


def add_in_process_flag(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--in-process",
        action="store_true",
        help="run on an embedded AWS of its own even while `local start` runs",
    )


def _cmd_keys_create(args: argparse.Namespace) -> int:
    if args.table:
        from order_capture.adapters.api_keys import DynamoDBApiKeyStore  # noqa: PLC0415
        from order_capture.domain import merchant_api  # noqa: PLC0415
        from order_capture.ports import SystemClock  # noqa: PLC0415

        api_key = merchant_api.create_api_key(
            DynamoDBApiKeyStore(args.table), args.merchant, SystemClock()
        )
    elif args.local_url is None and (info := stack_for(args)) is not None:
        from order_capture_local import stack_client  # noqa: PLC0415

        api_key = stack_client.create_api_key(info, args.merchant)
    else:
        api_key = _create_local_key(args.local_url or "http://127.0.0.1:3000", args.merchant)
    print(api_key)
    return 0


def _cmd_keys_revoke(args: argparse.Namespace) -> int:
    """Delete a merchant's key (by the key, or its digest as `keys create` never shows it):
    a leaked key stops working once the authorizer's cache forgets it."""
    from order_capture.adapters.api_keys import DynamoDBApiKeyStore  # noqa: PLC0415
    from order_capture.domain import merchant_api  # noqa: PLC0415

    digest = args.digest or merchant_api.api_key_digest(args.key)
    if not DynamoDBApiKeyStore(args.table).revoke(digest, args.merchant):
        print(
            f"refused: no key {digest[:12]}... of merchant {args.merchant} (nothing deleted)",
            file=sys.stderr,
        )
        return 1
    print(
        f"revoked key {digest[:12]}... of merchant {args.merchant}; API Gateway may keep "
        "accepting it for ApiKeyCacheSeconds (the authorizer's cache)"
    )
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
    """Settle the open captures of the ledger table now (what the schedule does): on AWS
    with --table, else on the running local stack."""
    import os  # noqa: PLC0415

    event = {"grace_seconds": args.grace_seconds}
    if args.table is None:
        info = stack_for(args)
        if info is None:
            raise SystemExit(
                "order-capture: reconcile needs --table (AWS) or a running "
                "`order-capture local start`"
            )
        from order_capture_local import stack_client  # noqa: PLC0415

        with progress("reconciling"):
            invocation = stack_client.invoke(info, "ReconcileFunction", event)
        if invocation.failed:
            print(json.dumps(invocation.payload, indent=2))
            return 1
        return print_reconciliation(invocation.payload, as_json=args.json)
    # Imported only now: Powertools reads its settings from the environment at import time.
    from order_capture.config import settings  # noqa: PLC0415
    from order_capture.handlers import reconcile  # noqa: PLC0415

    os.environ["TABLE_NAME"] = args.table
    if args.confirmation_workflow:
        os.environ["CONFIRMATION_WORKFLOW_ARN"] = args.confirmation_workflow
    settings.cache_clear()
    with progress("reconciling"):
        report = reconcile.handle(event, None)  # type: ignore[arg-type]
    return print_reconciliation(report, as_json=args.json)


def add_parsers(commands: Any) -> None:
    """Add ``keys create`` and ``reconcile`` to the ``order-capture`` subcommands."""
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
        help="locally: a running `order-capture local start-api` (default: the running "
        "`local start`, else http://127.0.0.1:3000)",
    )
    add_in_process_flag(create_key)
    create_key.set_defaults(run=_cmd_keys_create)
    revoke_key = keys_commands.add_parser(
        "revoke", help="delete a merchant's API key (on AWS: --table); it stops working"
    )
    revoke_key.add_argument("--merchant", required=True, help="whose key it is")
    which = revoke_key.add_mutually_exclusive_group(required=True)
    which.add_argument("--key", help="the key itself")
    which.add_argument("--digest", help="its SHA-256 (hex), as the ledger's APIKEY# item names it")
    revoke_key.add_argument(
        "--table", required=True, help="the ledger table (stack output LedgerTableName)"
    )
    revoke_key.set_defaults(run=_cmd_keys_revoke)

    reconcile = commands.add_parser(
        "reconcile", help="settle pending / requires_action captures now (AWS or local stack)"
    )
    reconcile.add_argument(
        "--table", help="on AWS: the ledger table (LedgerTableName); default: the local stack"
    )
    reconcile.add_argument(
        "--grace-seconds",
        type=int,
        default=900,
        help="leave captures younger than this to their own execution (default %(default)s)",
    )
    reconcile.add_argument(
        "--confirmation-workflow",
        metavar="ARN",
        help=CONFIRMATION_WORKFLOW_HELP,
    )
    reconcile.add_argument("--json", action="store_true", help="the whole report as JSON")
    reconcile.set_defaults(run=_cmd_reconcile)
