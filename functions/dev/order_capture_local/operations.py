"""Operator commands: what reconciliation did, the open captures and refunds, settling one.

The same on the local stack and on AWS: boto3 talks to AWS with the operator's own
credentials, or to the local stack when AWS_ENDPOINT_URL points at it (`order-capture local
start` prints the line to export).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from order_capture.domain.reconciled import UNSETTLED_OUTCOMES, error_reason
from order_capture_local.lambda_service import patched_environ
from order_capture_local.stack import running_stack
from order_capture_local.stack_client import pointed_at, stack_template

RECONCILE_FUNCTION = "ReconcileFunction"


def print_reconciliation(report: dict[str, Any], *, as_json: bool = False) -> int:
    """Print one line per capture / refund examined (kind, id, provider, outcome, reason) and
    the totals; 1 when something could not be settled (named on stderr), else 0."""
    items: list[dict[str, Any]] = report.get("items", [])
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        for item in items:
            print(
                f"{item['kind']:<7} {item['id']}  {item['provider']:<9} "
                f"{item['outcome']:<17} {item['reason']}"
            )
        refunds = report.get("refunds", {})
        print(
            f"captures: examined {report.get('examined', 0)}, confirmed "
            f"{report.get('confirmed', 0)}, released {report.get('released', 0)}, still open "
            f"{report.get('still_open', 0)}; refunds: examined {refunds.get('examined', 0)}, "
            f"refunded {refunds.get('refunded', 0)}, failed {refunds.get('failed', 0)}, "
            f"still open {refunds.get('still_open', 0)}"
        )
    unsettled = [item for item in items if item["outcome"] in UNSETTLED_OUTCOMES]
    for item in unsettled:
        print(
            f"order-capture: not settled: {item['kind']} {item['id']} "
            f"({item['merchant_id']}/{item['order_id']}): {item['outcome']}: {item['reason']}",
            file=sys.stderr,
        )
    return 1 if unsettled else 0


# --- where the ledger is ------------------------------------------------------------------


@dataclass
class Ledger:
    """The ledger table and what settles captures in it, for the operator's commands."""

    repository: Any
    publisher: Any
    waiters: Any
    settings: Any


@contextmanager
def ledger_of(args: argparse.Namespace) -> Iterator[Ledger]:
    """The ledger of ``--table`` (AWS with the operator's credentials, or whatever
    AWS_ENDPOINT_URL points at), else of the running local stack."""
    if args.table:
        environment = {"TABLE_NAME": args.table}
        if args.event_bus:
            environment["EVENT_BUS_NAME"] = args.event_bus
        if args.confirmation_workflow:
            environment["CONFIRMATION_WORKFLOW_ARN"] = args.confirmation_workflow
        with patched_environ(environment):
            yield _ledger()
        return
    info = running_stack()
    if info is None:
        raise SystemExit(
            f"order-capture: {args.command} needs --table (the stack output LedgerTableName) "
            "or a running `order-capture local start`"
        )
    print(f"(local stack at {info.endpoint})", file=sys.stderr)
    function = stack_template(info).functions[RECONCILE_FUNCTION]
    with patched_environ(info.function_environment(function)), pointed_at(info):
        yield _ledger()


def _ledger() -> Ledger:
    from order_capture.adapters.dynamodb import DynamoDBOrderRepository  # noqa: PLC0415
    from order_capture.adapters.eventbridge import EventBridgePublisher  # noqa: PLC0415
    from order_capture.config import settings  # noqa: PLC0415
    from order_capture.handlers.await_confirmation import default_waiters  # noqa: PLC0415

    settings.cache_clear()
    current = settings()
    return Ledger(
        DynamoDBOrderRepository(current.table_name),
        EventBridgePublisher(current.event_bus_name),
        default_waiters(),
        current,
    )


# --- captures / refunds list ----------------------------------------------------------------


def parse_age(text: str) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``2d``: how old an open capture must be to be listed."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 15m, 1h or 2d")
    return timedelta(seconds=int(number) * units[unit])


def _cmd_captures_list(args: argparse.Namespace) -> int:
    with ledger_of(args) as ledger:
        before = datetime.now(UTC) - args.older_than
        captures = ledger.repository.list_open_captures(before)
    chosen = [
        capture
        for capture in captures
        if (args.status is None or capture.status.value == args.status)
        and (args.merchant is None or capture.merchant_id == args.merchant)
    ]
    if args.json:
        print(json.dumps([capture.model_dump(mode="json") for capture in chosen], indent=2))
        return 0
    for capture in chosen:
        failure = capture.failure
        why = f"  {failure.reason}: {failure.message}" if failure else ""
        print(
            f"{capture.capture_id}  {capture.status.value:<15} {capture.merchant_id}/"
            f"{capture.order_id}/{capture.shipment_id}  {capture.provider:<8} "
            f"{capture.amount:>10} {capture.currency}  since {capture.updated_at.isoformat()}"
            f"{why}"
        )
    print(f"{len(chosen)} open capture(s)", file=sys.stderr)
    return 0


def _cmd_refunds_list(args: argparse.Namespace) -> int:
    with ledger_of(args) as ledger:
        before = datetime.now(UTC) - args.older_than
        refunds = ledger.repository.list_open_refunds(before)
    chosen = [r for r in refunds if args.merchant is None or r.merchant_id == args.merchant]
    if args.json:
        print(json.dumps([refund.model_dump(mode="json") for refund in chosen], indent=2))
        return 0
    for refund in chosen:
        print(
            f"{refund.refund_id}  {refund.status.value:<8} {refund.merchant_id}/"
            f"{refund.order_id}  capture {refund.capture_id}  {refund.amount:>10} "
            f"{refund.currency}  provider reference {refund.provider_reference}  "
            f"since {refund.updated_at.isoformat()}"
        )
    print(f"{len(chosen)} open refund(s)", file=sys.stderr)
    return 0


# --- captures show / settle -----------------------------------------------------------------


def _find(ledger: Ledger, args: argparse.Namespace) -> Any:
    """The capture ``args.capture_id`` names: by merchant if given, else among the open ones."""
    capture_id = args.capture_id
    if args.merchant:
        found = ledger.repository.find_capture(args.merchant, capture_id)
    else:
        open_now = ledger.repository.list_open_captures(datetime.now(UTC))
        found = next((c for c in open_now if c.capture_id == capture_id), None)
    if found is None:
        where = f"of merchant {args.merchant}" if args.merchant else "open (pass --merchant)"
        raise SystemExit(f"order-capture: no capture {capture_id} {where}")
    return found


def _provider_lookup(ledger: Ledger, capture: Any, order: Any) -> str:
    from order_capture.adapters.providers import provider_for  # noqa: PLC0415
    from order_capture.errors import OrderCaptureError  # noqa: PLC0415
    from order_capture.ports import ProviderCaptureLookup  # noqa: PLC0415

    try:
        provider = provider_for(capture.provider, ledger.settings, merchant_id=capture.merchant_id)
        found = provider.find_capture(
            ProviderCaptureLookup(
                authorization_reference=order.payment.reference,
                merchant_id=capture.merchant_id,
                order_id=capture.order_id,
                idempotency_key=capture.capture_id,
                provider_reference=capture.provider_reference,
            )
        )
    except OrderCaptureError as error:
        return f"no answer: {error_reason(error)}"
    if found is None:
        return "the provider has no capture with this idempotency key"
    return f"{found.status} {found.amount} as {found.provider_reference}"


def _cmd_captures_show(args: argparse.Namespace) -> int:
    with ledger_of(args) as ledger:
        capture = _find(ledger, args)
        order = ledger.repository.get_order(capture.merchant_id, capture.order_id)
        lookup = _provider_lookup(ledger, capture, order) if order and args.lookup else None
        history = ledger.repository.capture_history(
            capture.merchant_id, capture.order_id, capture.capture_id
        )
    shown: dict[str, Any] = {"capture": capture.model_dump(mode="json")}
    if order is not None:
        shown["order"] = {
            "total": order.total,
            "authorized": order.payment.authorized_amount,
            "authorization_expires_at": order.payment.expires_at.isoformat(),
            "captured": order.captured_amount,
            "reserved": order.reserved_amount,
            "canceled": order.canceled_amount,
            "refunded": order.refunded_amount,
            "capturable": order.capturable_amount,
        }
    if lookup is not None:
        shown["at_provider"] = lookup
    shown["history"] = [entry.model_dump(mode="json", exclude_none=True) for entry in history]
    print(json.dumps(shown, indent=2))
    return 0


def _cmd_captures_settle(args: argparse.Namespace) -> int:
    from order_capture.adapters.providers import ConfiguredProviders  # noqa: PLC0415
    from order_capture.domain.operator_settlement import settle_capture  # noqa: PLC0415
    from order_capture.errors import InvalidStateError  # noqa: PLC0415

    if args.captured and not args.provider_reference:
        raise SystemExit("order-capture: --captured needs --provider-reference")
    if args.not_captured and not args.reason:
        raise SystemExit("order-capture: --not-captured needs --reason")
    with ledger_of(args) as ledger:
        capture = _find(ledger, args)
        try:
            settled = settle_capture(
                ledger.repository,
                ledger.waiters,
                ledger.publisher,
                capture,
                providers=ConfiguredProviders(ledger.settings),
                provider_reference=args.provider_reference if args.captured else None,
                reason=args.reason,
                operator=args.operator,
                now=datetime.now(UTC),
            )
        except InvalidStateError as error:
            raise SystemExit(f"order-capture: refused: {error}") from None
        release = release_note(ledger, settled)
    print(
        f"capture {settled.capture_id} settled {settled.status.value} by {args.operator}"
        + (f" ({settled.provider_reference})" if settled.provider_reference else "")
        + release
    )
    return 0


def release_note(ledger: Ledger, capture: Any) -> str:
    """What became of the order's release, once ``capture`` is settled: the operator sees
    whether settling it finished the order and gave the authorization's rest back."""
    release = ledger.repository.get_release(capture.merchant_id, capture.order_id)
    if release is None or capture.status.value != "captured":
        return ""
    why = f", {release.failure.message}" if release.failure else ""
    status = f"{release.status.value} ({release.amount}{why})"
    return f"; the order's release {release.release_id}: {status}"


#: ``--confirmation-workflow``, of the commands that settle captures on AWS (``--table``).
CONFIRMATION_WORKFLOW_HELP = (
    "with --table: the confirmation workflow (stack output ConfirmationStateMachineArn), so "
    "that a wait whose task token is refused is told apart by its execution's history"
)


def where(sub: argparse.ArgumentParser) -> None:
    """``--table`` / ``--event-bus``: which ledger (see ``ledger_of``)."""
    sub.add_argument("--table", help="the ledger table (LedgerTableName); default: the local stack")
    sub.add_argument("--event-bus", help="with --table: the bus announcements go on")
    sub.add_argument(
        "--confirmation-workflow",
        metavar="ARN",
        help=CONFIRMATION_WORKFLOW_HELP,
    )


def add_parsers(commands: Any) -> None:
    """``captures`` and ``refunds``, on the CLI's top-level subparsers."""
    from order_capture_local import operations_retry  # noqa: PLC0415 - it imports this module

    def listing(sub: argparse.ArgumentParser) -> None:
        where(sub)
        sub.add_argument("--merchant", help="only this merchant's")
        sub.add_argument(
            "--older-than",
            type=parse_age,
            default=timedelta(0),
            metavar="AGE",
            help="untouched for at least this long: 90s, 15m, 1h, 2d",
        )
        sub.add_argument("--json", action="store_true")

    captures = commands.add_parser("captures", help="open captures: list, show, settle, retry")
    capture_commands = captures.add_subparsers(dest="captures_command", required=True)
    list_captures = capture_commands.add_parser("list", help="pending / requires_action captures")
    list_captures.add_argument("--status", choices=["pending", "requires_action"])
    listing(list_captures)
    list_captures.set_defaults(run=_cmd_captures_list)

    show = capture_commands.add_parser("show", help="a capture, its order's totals, the provider")
    show.add_argument("capture_id")
    show.add_argument("--merchant", help="its merchant (needed once it is no longer open)")
    show.add_argument(
        "--no-lookup", dest="lookup", action="store_false", help="do not ask the provider"
    )
    where(show)
    show.set_defaults(run=_cmd_captures_show)

    settle = capture_commands.add_parser(
        "settle", help="settle an open capture by hand, announced once as the automatic paths"
    )
    settle.add_argument("capture_id")
    outcome = settle.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--captured", action="store_true", help="the provider captured it")
    outcome.add_argument("--not-captured", action="store_true", help="it captured nothing")
    settle.add_argument("--provider-reference", help="with --captured: the provider's id")
    settle.add_argument("--reason", help="with --not-captured: why (kept in the ledger)")
    settle.add_argument("--merchant", help="its merchant (default: found among open captures)")
    settle.add_argument(
        "--operator", default=getpass.getuser(), help="who settles it (default: your user)"
    )
    where(settle)
    settle.set_defaults(run=_cmd_captures_settle)

    refunds = commands.add_parser("refunds", help="open refunds: list, settle, retry")
    refund_commands = refunds.add_subparsers(dest="refunds_command", required=True)
    list_refunds = refund_commands.add_parser("list", help="pending refunds")
    listing(list_refunds)
    list_refunds.set_defaults(run=_cmd_refunds_list)
    operations_retry.add_parsers(capture_commands, refund_commands)
