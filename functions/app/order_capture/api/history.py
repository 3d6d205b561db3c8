"""A capture's history as the native dialect shows it (``?expand=history``): each change of
the capture and of its refunds, who made it and when. Its own contract: the ledger's entries
(``order_capture.history``) are mapped field by field, nothing internal passes through."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from order_capture.api.common import ResponseModel
from order_capture.history import HistoryEntry


class ActorOut(ResponseModel):
    kind: str = Field(description="execution, api, webhook, reconciliation or operator.")
    name: str | None = Field(
        default=None, description="The execution id, the provider, or the operator."
    )
    reason: str | None = Field(default=None, description="Why, when an operator gave a reason.")


class HistoryEntryOut(ResponseModel):
    change: str = Field(
        description="reserved, sent, confirmed, requires_action, failed, released, reversed; "
        "for a refund: refund_reserved, refund_sent, refunded, refund_failed, refund_reversed."
    )
    refund_id: str | None = Field(default=None, description="Set when a refund changed.")
    from_status: str | None
    to_status: str
    by: ActorOut
    at: datetime
    amount: int = Field(description="The capture's (or refund's) amount, in minor units.")
    provider_reference: str | None = None
    error: str | None = Field(default=None, description="The failure's reason and message.")


def history_out(entries: list[HistoryEntry]) -> list[HistoryEntryOut]:
    return [
        HistoryEntryOut(
            change=entry.change,
            refund_id=entry.refund_id,
            from_status=entry.from_status,
            to_status=entry.to_status,
            by=ActorOut(kind=entry.by.kind, name=entry.by.name, reason=entry.by.reason),
            at=entry.at,
            amount=entry.amount,
            provider_reference=entry.provider_reference,
            error=entry.error,
        )
        for entry in entries
    ]
