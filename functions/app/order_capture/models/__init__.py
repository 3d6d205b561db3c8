"""Pydantic models for every boundary: events, ledger state, step inputs and outputs.

Amounts are ``int`` minor units of the order's currency everywhere in this package.

- ``base``: the limits and field types (identifiers, amounts, currencies) and ``Model``;
- ``events``: the event contract (the detail of events with source ``orders``);
- ``capture_request``: what a capture is asked for, and the capture id derived from it;
- ``ledger``: orders, captures, refunds and releases as the ledger keeps them;
- ``steps``: the step payloads built of ledger state (plan, planned capture, failure record).

Callers import from ``order_capture.models``; the parts are how it reads, not an API.
"""

from __future__ import annotations

from order_capture.models.base import (
    EARLIEST_EXPIRY,
    MAX_EXACT_MINOR_UNITS,
    MAX_ID_LENGTH,
    MAX_ORDER_LINES,
    Count,
    CurrencyCode,
    ExpiryTime,
    Identifier,
    MinorUnits,
    Model,
    ProviderName,
    Quantity,
)
from order_capture.models.capture_request import (
    CaptureRequest,
    Trigger,
    capture_id_for,
)
from order_capture.models.events import (
    MAX_METADATA_CHARACTERS,
    Email,
    EventBridgeEnvelope,
    ItemQuantity,
    Metadata,
    OrderItemsCanceledDetail,
    OrderLineIn,
    OrderPlacedDetail,
    OrderShippedDetail,
    PaymentIn,
    ShopReferences,
    Sku,
)
from order_capture.models.ledger import (
    FINAL_CAPTURE_STATUSES,
    OPEN_RELEASE_STATUSES,
    SETTLED_CAPTURE_STATUSES,
    Authorization,
    AuthorizationRelease,
    Capture,
    CaptureLine,
    CaptureStatus,
    FailureReason,
    Order,
    OrderLine,
    OrderTotals,
    Refund,
    RefundStatus,
    ReleaseStatus,
    failed_before_reservation,
    release_id_for,
)
from order_capture.models.steps import (
    CapturePlan,
    FailureRecord,
    PlannedCapture,
)

__all__ = [
    "EARLIEST_EXPIRY",
    "FINAL_CAPTURE_STATUSES",
    "MAX_EXACT_MINOR_UNITS",
    "MAX_ID_LENGTH",
    "MAX_METADATA_CHARACTERS",
    "MAX_ORDER_LINES",
    "OPEN_RELEASE_STATUSES",
    "SETTLED_CAPTURE_STATUSES",
    "Authorization",
    "AuthorizationRelease",
    "Capture",
    "CaptureLine",
    "CapturePlan",
    "CaptureRequest",
    "CaptureStatus",
    "Count",
    "CurrencyCode",
    "Email",
    "EventBridgeEnvelope",
    "ExpiryTime",
    "FailureReason",
    "FailureRecord",
    "Identifier",
    "ItemQuantity",
    "Metadata",
    "MinorUnits",
    "Model",
    "Order",
    "OrderItemsCanceledDetail",
    "OrderLine",
    "OrderLineIn",
    "OrderPlacedDetail",
    "OrderShippedDetail",
    "OrderTotals",
    "PaymentIn",
    "PlannedCapture",
    "ProviderName",
    "Quantity",
    "Refund",
    "RefundStatus",
    "ReleaseStatus",
    "ShopReferences",
    "Sku",
    "Trigger",
    "capture_id_for",
    "failed_before_reservation",
    "release_id_for",
]
