"""``captures retry``, ``refunds settle`` and ``refunds retry``: an operator sends again what
the provider takes again under its own idempotency key, or settles a refund by hand, with the
same conditional writes as the automatic paths (``domain/operator_settlement.py``)."""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime
from typing import Any

from order_capture_local.operations import Ledger, _find, ledger_of, release_note, where


def _cmd_captures_retry(args: argparse.Namespace) -> int:
    from order_capture.adapters.providers import ConfiguredProviders  # noqa: PLC0415
    from order_capture.domain.operator_settlement import retry_capture  # noqa: PLC0415
    from order_capture.errors import InvalidStateError, ProviderError  # noqa: PLC0415

    with ledger_of(args) as ledger:
        capture = _find(ledger, args)
        try:
            stored, what = retry_capture(
                ledger.repository,
                ledger.waiters,
                ledger.publisher,
                ConfiguredProviders(ledger.settings),
                capture,
                operator=args.operator,
                now=datetime.now(UTC),
            )
        except (InvalidStateError, ProviderError) as error:
            raise SystemExit(f"order-capture: refused: {error}") from None
        release = release_note(ledger, stored)
    print(
        f"capture {stored.capture_id} retried by {args.operator}: {what}; now {stored.status}"
        + release
    )
    return 0 if stored.status.value in {"captured", "failed"} else 1


def _find_refund(ledger: Ledger, args: argparse.Namespace) -> Any:
    """The refund ``args.refund_id`` names: by merchant if given, else among the open ones."""
    refund_id = args.refund_id
    if args.merchant:
        found = ledger.repository.find_refund(args.merchant, refund_id)
    else:
        open_now = ledger.repository.list_open_refunds(datetime.now(UTC))
        found = next((r for r in open_now if r.refund_id == refund_id), None)
    if found is None:
        where = f"of merchant {args.merchant}" if args.merchant else "pending (pass --merchant)"
        raise SystemExit(f"order-capture: no refund {refund_id} {where}")
    return found


def _cmd_refunds_settle(args: argparse.Namespace) -> int:
    from order_capture.domain.operator_settlement import settle_refund  # noqa: PLC0415
    from order_capture.errors import InvalidStateError  # noqa: PLC0415

    if args.refunded and not args.provider_reference:
        raise SystemExit("order-capture: --refunded needs --provider-reference")
    if args.not_refunded and not args.reason:
        raise SystemExit("order-capture: --not-refunded needs --reason")
    with ledger_of(args) as ledger:
        refund = _find_refund(ledger, args)
        try:
            settled = settle_refund(
                ledger.repository,
                refund,
                provider_reference=args.provider_reference if args.refunded else None,
                reason=args.reason,
                operator=args.operator,
                now=datetime.now(UTC),
            )
        except InvalidStateError as error:
            raise SystemExit(f"order-capture: refused: {error}") from None
    print(
        f"refund {settled.refund_id} settled {settled.status.value} by {args.operator}"
        + (f" ({settled.provider_reference})" if settled.provider_reference else "")
    )
    return 0


def _cmd_refunds_retry(args: argparse.Namespace) -> int:
    from order_capture.adapters.providers import ConfiguredProviders  # noqa: PLC0415
    from order_capture.domain.refunds import settle_at_provider  # noqa: PLC0415
    from order_capture.errors import OrderCaptureError  # noqa: PLC0415
    from order_capture.history import Actor, acting  # noqa: PLC0415

    with ledger_of(args) as ledger:
        refund = _find_refund(ledger, args)
        if refund.status.value != "pending":
            raise SystemExit(
                f"order-capture: refused: refund {refund.refund_id} is {refund.status.value} "
                "already: nothing to retry"
            )
        order, capture = ledger.repository.get_order_and_capture(
            refund.merchant_id, refund.order_id, refund.capture_id
        )
        if order is None or capture is None:
            raise SystemExit(f"order-capture: refund {refund.refund_id}'s capture is not found")
        operator = Actor(kind="operator", name=args.operator, reason="retry")
        try:
            # Sent again only to a provider that takes idempotency keys; else looked up where
            # the provider lists a capture's refunds, and refused when it cannot tell.
            with acting(operator):
                settled = settle_at_provider(
                    ledger.repository,
                    ConfiguredProviders(ledger.settings),
                    order=order,
                    capture=capture,
                    refund=refund,
                    now=datetime.now(UTC),
                )
        except OrderCaptureError as error:
            raise SystemExit(f"order-capture: refused: {error}") from None
    at = f" ({settled.provider_reference})" if settled.provider_reference else ""
    print(f"refund {settled.refund_id} retried by {args.operator}: {settled.status.value}{at}")
    return 0 if settled.status.value != "pending" else 1


def add_parsers(capture_commands: Any, refund_commands: Any) -> None:
    """``captures retry``, ``refunds settle|retry`` on the ``captures`` / ``refunds`` parsers."""

    def operator(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--operator", default=getpass.getuser(), help="who does it (default: your user)"
        )
        where(sub)

    retry = capture_commands.add_parser(
        "retry", help="send an open capture again with its idempotency key (not to Aplazame)"
    )
    retry.add_argument("capture_id")
    retry.add_argument("--merchant", help="its merchant (default: found among open captures)")
    operator(retry)
    retry.set_defaults(run=_cmd_captures_retry)

    settle = refund_commands.add_parser(
        "settle", help="settle a pending refund by hand, with the automatic paths' writes"
    )
    settle.add_argument("refund_id")
    outcome = settle.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--refunded", action="store_true", help="the provider refunded it")
    outcome.add_argument("--not-refunded", action="store_true", help="it refunded nothing")
    settle.add_argument("--provider-reference", help="with --refunded: the provider's id")
    settle.add_argument("--reason", help="with --not-refunded: why (kept in the ledger)")
    settle.add_argument("--merchant", help="its merchant (default: found among open refunds)")
    operator(settle)
    settle.set_defaults(run=_cmd_refunds_settle)

    again = refund_commands.add_parser(
        "retry", help="send a pending refund again with its idempotency key (not to Aplazame)"
    )
    again.add_argument("refund_id")
    again.add_argument("--merchant", help="its merchant (default: found among open refunds)")
    operator(again)
    again.set_defaults(run=_cmd_refunds_retry)
