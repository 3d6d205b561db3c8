"""Checks both campaigns share: what the service announced, what it released, and how large
its states grew."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from order_capture.domain.releases import remainder_of
from order_capture.models import Order
from order_capture_local.aplazame_sandbox import AplazameState
from order_capture_local.executions import largest_payload
from order_capture_local.sandbox_state import SandboxState
from order_capture_local.template import LOCAL_REGION

#: Step Functions refuses a state input or output above 256 KB (``States.DataLimitExceeded``,
#: which ``States.ALL`` does not catch on AWS). moto does not enforce it, so the campaign does.
STATE_PAYLOAD_LIMIT = 256 * 1024


def announcement_figures(
    emitted: list[dict[str, Any]], captures: list[dict[str, Any]]
) -> dict[str, tuple[int, list[str]]]:
    """What the service announced, against how each capture ended; per figure, the count
    and a few examples:

    * ``captures_announced_wrongly``: a capture that ended captured never announced
      ``Payment Captured`` (lost), or any capture announced captured under more than one
      ``announcement_id`` (or without one);
    * ``failures_announced_wrongly``: ``Payment Capture Failed`` (status failed) under more
      than one ``announcement_id`` for one capture, or at all for one that ended captured;
    * ``announcements_repeated`` (reported, not a defect): the announcements beyond the first
      that repeat one with the same ``announcement_id`` (issue 12: at least once; a repeat
      when Record died right after PutEvents answered, or a webhook's copy came after
      ``SETTLER_DEADLINE``)."""
    ids: dict[tuple[str, str], list[str]] = {}
    #: Per capture, who announced what (``LocalRuntime.emitted_events``' ``emitted_by``).
    emitters: dict[str, list[str]] = {}
    for event in emitted:
        if event.get("source") != "order-capture":
            continue
        detail = event.get("detail") or {}
        capture_id = str(detail.get("capture_id"))
        if event.get("detail-type") == "Payment Captured":
            said = "captured"
        elif event.get("detail-type") == "Payment Capture Failed" and detail.get("status") == (
            "failed"
        ):
            said = "failed"
        else:
            continue
        ids.setdefault((capture_id, said), []).append(str(detail.get("announcement_id")))
        by = event.get("emitted_by") or "unknown"
        emitters.setdefault(capture_id, []).append(f"{said} by {by}")
    captures_wrong: list[str] = []
    failures_wrong: list[str] = []
    repeated: list[str] = []
    repeats = 0
    for capture in captures:
        capture_id = capture["capture_id"]
        sent = ids.get((capture_id, "captured"), []), ids.get((capture_id, "failed"), [])
        said = "announced captured {}x, failed {}x".format(*map(len, sent))
        name = f"{capture['order_id']}/{capture_id} {capture['status']}, {said}"
        if capture_id in emitters:
            name += f" ({'; '.join(emitters[capture_id])})"
        name += f" [{ledger_account(capture)}]"
        captured = capture["status"] == "captured"
        distinct = [set(announced) for announced in sent]
        if (captured and not sent[0]) or len(distinct[0]) > 1 or "None" in distinct[0]:
            captures_wrong.append(name)
        if len(distinct[1]) > 1 or "None" in distinct[1] or (captured and sent[1]):
            failures_wrong.append(name)
        extra = sum(len(announced) - len(set(announced)) for announced in sent)
        if extra:
            repeats += extra
            repeated.append(name)
    return {
        "captures_announced_wrongly": (len(captures_wrong), captures_wrong[:5]),
        "failures_announced_wrongly": (len(failures_wrong), failures_wrong[:5]),
        "announcements_repeated": (repeats, repeated[:5]),
    }


def ledger_account(capture: dict[str, Any]) -> str:
    """What the capture's ledger item says of its settling: its announced note and holder,
    and who made each change (its folded history; an entry without ``by`` is the reserving
    execution's)."""
    changes = [
        f"{entry.get('change')} by {(entry.get('by') or {}).get('kind', 'execution')}"
        for entry in capture.get("history") or []
    ]
    note = f"note {capture.get('announced')} held by {capture.get('announced_by')}"
    return "; ".join([note, *changes])


def release_figures(
    orders: list[Order], sandbox: SandboxState, aplazame: AplazameState | None = None
) -> dict[str, tuple[int, list[str]]]:
    """Releases of the orders' authorizations, from the providers' own records; per figure,
    the count and a few examples:

    * ``releases_twice``: an authorization released more than once (release requests under
      more than one key, a release after a final capture, Aplazame voided twice);
    * ``releases_while_capturing``: a release while a capture of the authorization was in
      flight at the provider (received, not confirmed yet), or a capture that reached the
      provider after its authorization was released;
    * ``releases_missing``: an order that can capture nothing more (``remainder_of``) with a
      remainder its provider still holds.

    An authorization whose final capture the sandbox confirmed and then reversed is left
    out (see below), and so are the captures refused on an authorization a final capture
    released and another capture of which was reversed (reported apart,
    ``captures_after_a_reversal``)."""
    figures: dict[str, list[str]] = {
        "releases_twice": [],
        "releases_while_capturing": [],
        "releases_missing": [],
        "captures_after_a_reversal": [],
    }
    with sandbox.lock:
        releases = [dict(release) for release in sandbox.releases]
        after_release = list(sandbox.captures_after_release)
        refused = [dict(capture) for capture in sandbox.refused_after_release]
        released = {k for k, a in sandbox.authorizations.items() if a.get("released")}
        final_failed = {c["authorization_id"] for c in sandbox.captures if c.get("final")
                        and c["status"] == "failed"}  # fmt: skip
        reversed_captures = set(sandbox.reversed_captures)
    # A final capture the sandbox confirmed (releasing the rest, as Stripe's final_capture
    # does) and then reversed (as Adyen's late CAPTURE_FAILED does): no provider does both,
    # so what follows for that authorization is the sandbox's, not the service's to judge.
    reversed_final = final_failed & {
        r["authorization_id"] for r in releases if r["by"] == "final capture"
    }
    releases = [r for r in releases if r["authorization_id"] not in reversed_final]
    after_release = [ref for ref in after_release if ref not in reversed_final]
    voids: list[dict[str, Any]] = []
    after_void: list[str] = []
    left: dict[str, int] = {}
    if aplazame is not None:
        with aplazame.lock:
            voids = [dict(void) for void in aplazame.voids]
            after_void = list(aplazame.captures_after_void)
            left = {ref: aplazame_left(order) for ref, order in aplazame.orders.items()}
    by: dict[str, list[str]] = defaultdict(list)
    for r in releases:
        by[r["authorization_id"]].append(f"{r['by']} under key {r.get('key')}")
    for void in voids:
        by[void["order_id"]].append(f"void of {void['amount']} (voided {void['voided']})")
    figures["releases_twice"] += [
        f"{ref} released {len(who)}x: {'; '.join(who)}" for ref, who in by.items() if len(who) > 1
    ]
    figures["releases_while_capturing"] += [
        f"{r['authorization_id']} released ({r['by']}) with {r['captures_in_flight']} in flight"
        for r in releases
        if r["captures_in_flight"]
    ]
    # Each capture the sandbox refused as after its release (one per ``after_release``
    # entry), with what released the authorization before it: who sent the capture late.
    refused = [c for c in refused if c["authorization_id"] not in reversed_final]
    # A capture confirmed, then reversed (Adyen's late CAPTURE_FAILED), on an authorization
    # a final capture released (Stripe's final_capture; the reversal's webhook may come after
    # it, whenever the sandbox reversed): its units are capturable again and every capture of
    # them is refused. No provider does both; the sandbox's, not the service's.
    released_final = {r["authorization_id"] for r in releases if r["by"] == "final capture"}
    reversed_after_release = reversed_captures & released_final
    figures["captures_after_a_reversal"] += [
        f"{c['authorization_id']}: {c['amount']} under key {c['key']} after a reversal"
        for c in refused
        if c["authorization_id"] in reversed_after_release
    ]
    refused = [c for c in refused if c["authorization_id"] not in reversed_after_release]
    after_release = [ref for ref in after_release if ref not in reversed_after_release]
    figures["releases_while_capturing"] += [
        f"{c['authorization_id']}: a capture after its release ({c['amount']} under key "
        f"{c['key']}{', final' if c['final'] else ''}; released by: "
        f"{'; '.join(by.get(c['authorization_id'], [])) or '?'})"
        for c in refused
    ]
    figures["releases_while_capturing"] += [
        f"{ref}: a capture after its release" for ref in after_release[len(refused) :]
    ]
    figures["releases_while_capturing"] += [
        f"{ref}: a capture after its void ({'; '.join(by.get(ref, [])) or '?'})"
        for ref in after_void
    ]
    for order in orders:
        remainder = remainder_of(order)
        reference = order.payment.reference
        if not remainder or reference in reversed_final:
            continue
        holds = (
            left.get(reference, 0) > 0
            if order.payment.provider == "aplazame"
            else reference not in released
        )
        if holds:
            figures["releases_missing"].append(
                f"{order.order_id}: can capture nothing more, {remainder} not released"
            )
    return {name: (len(found), found[:5]) for name, found in figures.items()}


def aplazame_left(order: dict[str, int]) -> int:
    """What an Aplazame order (its sandbox's record) has neither captured nor voided."""
    return order["amount"] - order["captured"] - order["voided"]


def add_figures(
    outcome: dict[str, int],
    examples: dict[str, list[str]],
    figures: dict[str, tuple[int, list[str]]],
) -> None:
    """Add ``figures`` (count, examples) to a segment's outcome and examples."""
    for name, (count, found) in figures.items():
        outcome[name] = outcome.get(name, 0) + count
        if found:
            examples.setdefault(name, []).extend(found)


def record_function_errors(runtime: Any, function_id: str, into: list[str], keep: int = 5) -> None:
    """Keep what the first ``keep`` failed invocations of ``function_id`` raised, with the
    request they served: API Gateway answers a failed ApiFunction 502 "Internal server error"
    and says no more (on AWS, the function's log says why)."""
    invoke = runtime.invoke

    def recording(called: str, event: Any) -> Any:
        invocation = invoke(called, event)
        if called == function_id and invocation.failed and len(into) < keep:
            payload = invocation.payload if isinstance(invocation.payload, dict) else {}
            request = f"{event.get('httpMethod')} {event.get('path')}"
            message = str(payload.get("errorMessage"))[:300]
            into.append(f"{function_id} {request}: {invocation.error_type}: {message}")
        return invocation

    runtime.invoke = recording


def executions_over_the_state_limit(
    runtime: Any, machine_ids: list[str], prefixes: set[str]
) -> int:
    """Executions (whose name starts with one of ``prefixes``) of these machines that passed a
    state larger than Step Functions allows."""
    import boto3  # noqa: PLC0415

    stepfunctions = boto3.client("stepfunctions", region_name=LOCAL_REGION)
    over = 0
    for machine_id in machine_ids:
        arn = runtime.state_machine_arns[machine_id]
        pages = stepfunctions.get_paginator("list_executions").paginate(stateMachineArn=arn)
        for page in pages:
            for execution in page["executions"]:
                if any(execution["name"].startswith(prefix) for prefix in prefixes):
                    history = runtime.history(execution["executionArn"])
                    over += largest_payload(history) > STATE_PAYLOAD_LIMIT
    return over


def running_executions(runtime: Any) -> int:
    import boto3  # noqa: PLC0415

    stepfunctions = boto3.client("stepfunctions", region_name=LOCAL_REGION)
    running = 0
    for arn in runtime.state_machine_arns.values():
        page = stepfunctions.list_executions(stateMachineArn=arn, statusFilter="RUNNING")
        running += len(page["executions"])
    return running
