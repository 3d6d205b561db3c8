"""EventBridge as the local runtime plays it: an event as its targets receive it (from either
that shape or a PutEvents entry), the template's rules whose pattern it matches, and what one
delivery of it did."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from order_capture_local.executions import ExecutionReport
from order_capture_local.lambda_service import Invocation
from order_capture_local.template import LOCAL_ACCOUNT, LOCAL_REGION, RuleSpec


@dataclass
class Delivery:
    """What one put event did: the rules it matched and what their targets did."""

    event: dict[str, Any]
    executions: list[ExecutionReport] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)


def normalize_event(entry: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge event as targets receive it, from either that shape or a PutEvents entry."""
    if "DetailType" in entry:
        detail = entry.get("Detail", "{}")
        entry = {
            "source": entry.get("Source"),
            "detail-type": entry["DetailType"],
            "detail": json.loads(detail) if isinstance(detail, str) else detail,
            "resources": entry.get("Resources", []),
        }
    return {
        "version": "0",
        "id": entry.get("id") or str(uuid.uuid4()),
        "detail-type": entry.get("detail-type"),
        "source": entry.get("source"),
        "account": entry.get("account", LOCAL_ACCOUNT),
        "time": entry.get("time") or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": entry.get("region", LOCAL_REGION),
        "resources": entry.get("resources", []),
        "detail": entry.get("detail", {}),
    }


def matching_rules(rules: list[RuleSpec], event: dict[str, Any]) -> list[RuleSpec]:
    """The rules, in order, whose event pattern ``event`` matches (EventBridge's own matcher)."""
    from moto.events.models import EventPattern  # noqa: PLC0415

    return [
        rule
        for rule in rules
        if EventPattern.load(json.dumps(rule.pattern)).matches_event(event)  # type: ignore[arg-type]
    ]
