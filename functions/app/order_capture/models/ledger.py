"""The ledger's state: orders, captures, refunds and releases of authorizations as the ledger
keeps them (never a public contract: see public_events), and the release id of an order."""

import json
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from order_capture.models.base import Model, ProviderName
from order_capture.models.capture_request import CaptureRequest, Trigger
from order_capture.models.events import ShopReferences


class OrderLine(Model):
    item_id: str
    sku: str
    #: The product's name, if the shop gave one (``OrderLineIn.name``).
    name: str | None = None
    quantity: int
    unit_amount: int
    discount_amount: int = 0
    tax_amount: int = 0
    #: The tax rate in basis points, if the shop gave one (``OrderLineIn.tax_rate``).
    tax_rate: int | None = None
    #: Units reserved or captured by shipments.
    shipped_quantity: int = 0
    canceled_quantity: int = 0
    #: Value claimed by the shipped and canceled units so far (see domain.capture_rules).
    closed_value: int = 0

    @property
    def line_total(self) -> int:
        return self.quantity * self.unit_amount - self.discount_amount + self.tax_amount

    @property
    def open_quantity(self) -> int:
        return self.quantity - self.shipped_quantity - self.canceled_quantity


class Authorization(Model):
    provider: ProviderName
    reference: str
    authorized_amount: int
    expires_at: datetime
    single_capture: bool = False


class Order(ShopReferences):
    merchant_id: str
    order_id: str
    currency: str
    lines: list[OrderLine]
    shipping_amount: int
    payment: Authorization
    captured_amount: int = 0
    reserved_amount: int = 0
    canceled_amount: int = 0
    refunded_amount: int = 0
    shipping_claimed: bool = False
    shipping_canceled: bool = False
    #: What the provider's steps (see provider_units) added to, or took from, the value of the
    #: units and shipping claimed so far: their claims moved that value plus this much money.
    step_rounding: int = 0
    capture_count: int = 0
    #: Bumped by every write that changes what is capturable; guards conditional writes.
    version: int = 0
    created_at: datetime
    updated_at: datetime
    #: The shop's metadata as JSON text: stored as given (DynamoDB refuses binary floats).
    metadata_json: str | None = None

    @property
    def metadata(self) -> dict[str, Any] | None:
        return None if self.metadata_json is None else dict(json.loads(self.metadata_json))

    @property
    def total(self) -> int:
        return sum(line.line_total for line in self.lines) + self.shipping_amount

    @property
    def capturable_amount(self) -> int:
        """What may still be captured: total less canceled, captured and reserved."""
        return self.total - self.canceled_amount - self.captured_amount - self.reserved_amount

    def line(self, item_id: str) -> OrderLine | None:
        return next((line for line in self.lines if line.item_id == item_id), None)

    def totals(self) -> "OrderTotals":
        return OrderTotals(
            total=self.total,
            authorized_amount=self.payment.authorized_amount,
            captured_amount=self.captured_amount,
            reserved_amount=self.reserved_amount,
            canceled_amount=self.canceled_amount,
            version=self.version,
        )


class OrderTotals(Model):
    """An order's money figures without its lines: what the API answers a capture with (the
    remaining amount), carried in the capture workflow's output so that ApiFunction need not
    read the order again (see ``Capture.order_after``)."""

    total: int
    authorized_amount: int
    captured_amount: int
    reserved_amount: int
    canceled_amount: int
    version: int

    @property
    def remaining_capture_amount(self) -> int:
        """What can still be captured: the order's open value, never beyond the authorization."""
        capturable = self.total - self.canceled_amount - self.captured_amount
        capturable -= self.reserved_amount
        authorized_left = self.authorized_amount - self.captured_amount - self.reserved_amount
        return max(0, min(capturable, authorized_left))

    def confirmed(self, amount: int) -> "OrderTotals":
        """These totals once a capture of ``amount`` they reserve is confirmed (as Record's
        ADD writes it: reserved becomes captured; what remains does not change)."""
        return self.model_copy(
            update={
                "captured_amount": self.captured_amount + amount,
                "reserved_amount": self.reserved_amount - amount,
                "version": self.version + 1,
            }
        )


class CaptureStatus(StrEnum):
    PENDING = "pending"
    CAPTURED = "captured"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"


#: Nothing more will happen to these: captured, or failed and released.
SETTLED_CAPTURE_STATUSES = frozenset({CaptureStatus.CAPTURED, CaptureStatus.FAILED})
FINAL_CAPTURE_STATUSES = frozenset(
    {CaptureStatus.CAPTURED, CaptureStatus.FAILED, CaptureStatus.REQUIRES_ACTION}
)


class CaptureLine(Model):
    item_id: str
    quantity: int
    amount: int


class FailureReason(Model):
    reason: str
    message: str
    error: str


class Capture(Model):
    capture_id: str
    merchant_id: str
    order_id: str
    shipment_id: str
    amount: int
    currency: str
    status: CaptureStatus
    #: Left out of every dump (a workflow's state, events, task results): a capture of 1,000
    #: lines with long item ids would not fit Step Functions' 256 KB state. The ledger keeps
    #: them (the adapter stores them apart) and the API shows them.
    lines: Annotated[list[CaptureLine], Field(exclude=True)] = []
    shipping_amount: int = 0
    provider: str
    provider_reference: str | None = None
    trigger: Trigger
    execution_id: str | None = None
    #: Sent to the provider as its final capture (it may release the rest of the authorization).
    releases_authorization: bool = False
    #: Not sent final, but may be the capture whose confirmation leaves the order nothing to
    #: capture (others were in flight when it was reserved): its confirmer reads the order to
    #: tell (see domain.releases).
    may_finish_order: bool = False
    failure: FailureReason | None = None
    #: What the provider answered the capture request: ``pending`` means it received it and
    #: confirms later (Adyen, by webhook); the state machine then leaves the capture pending.
    status_at_provider: Literal["succeeded", "pending"] | None = None
    #: Refunds the provider confirmed, and refunds sent but not yet confirmed (reserved, so
    #: that concurrent refunds never add up to more than the capture). See domain.refunds.
    refunded_amount: int = 0
    refund_pending_amount: int = 0
    created_at: datetime
    updated_at: datetime
    #: The order's totals right after this capture's own writes (the Capture step's
    #: reservation, then Record's confirmation), handed on in the capture workflow's state and
    #: output for the API's answer. Never stored (left out of every dump, as ``lines``): the
    #: steps that hand it on dump it explicitly (``workflow_state.capture_output``).
    order_after: Annotated[OrderTotals | None, Field(exclude=True)] = None

    @property
    def refundable_amount(self) -> int:
        """What may still be refunded: the amount less refunds made or in flight, never below
        zero (a refund made at the provider while one of ours was in flight is recorded whole,
        and the two can add up to more than the capture until ours is refused: nothing is
        left to refund then, see domain.external_refunds)."""
        return max(0, self.amount - self.refunded_amount - self.refund_pending_amount)

    def request(self) -> CaptureRequest:
        """The request this capture answers (its id derives from the same three ids)."""
        return CaptureRequest(
            merchant_id=self.merchant_id,
            order_id=self.order_id,
            shipment_id=self.shipment_id,
            trigger=self.trigger,
        )


class RefundStatus(StrEnum):
    PENDING = "pending"
    REFUNDED = "refunded"
    FAILED = "failed"


class Refund(Model):
    """One refund of a capture. Its id is derived from the request's Idempotency-Key, and is
    the idempotency key sent to the provider: a retried request finds this refund again."""

    refund_id: str
    merchant_id: str
    order_id: str
    capture_id: str
    amount: int
    currency: str
    status: RefundStatus
    provider_reference: str | None = None
    failure: FailureReason | None = None
    created_at: datetime
    updated_at: datetime


class ReleaseStatus(StrEnum):
    #: Written before the provider is asked; open (reconciliation retries it) until settled.
    PENDING = "pending"
    RELEASED = "released"
    #: The provider refused: for an operator (its ``failure`` says why).
    FAILED = "failed"
    #: The order closed (nothing capturable) with captures still in flight: due once they are
    #: confirmed, by whichever confirmer finds none left in flight, or by reconciliation. Open.
    WAITING = "waiting"
    #: A waiting release whose order never finished (units neither shipped nor canceled) and
    #: whose authorization expired with nothing in flight: nothing more can be captured and
    #: the provider lets the authorization go itself, so nothing is sent. Closed.
    LAPSED = "lapsed"


#: Releases reconciliation still has to see to (the sparse index holds these).
OPEN_RELEASE_STATUSES = frozenset({ReleaseStatus.PENDING, ReleaseStatus.WAITING})


class AuthorizationRelease(Model):
    """Giving back what an order's authorization has left once the order can capture nothing
    more: at most one per order (its id derives from the order's and is the idempotency key
    sent to the provider), stored before the provider is asked. See domain.releases."""

    release_id: str
    merchant_id: str
    order_id: str
    provider: str
    authorization_reference: str
    #: What was authorized and not captured when the order could capture nothing more.
    amount: int
    currency: str
    status: ReleaseStatus
    #: Provider calls made so far (a retry of a provider without idempotency keys knows it
    #: may be the second).
    attempts: int = 0
    #: Why the last attempt did not release it (still pending), or why it failed.
    failure: FailureReason | None = None
    created_at: datetime
    updated_at: datetime


_RELEASE_ID_NAMESPACE = uuid.UUID("0c5e2a61-7d0b-4f4e-b1f5-9f7f6c3e2d18")


def release_id_for(merchant_id: str, order_id: str) -> str:
    """The release id of an order: deterministic, so an order's remainder is released once."""
    return uuid.uuid5(_RELEASE_ID_NAMESPACE, f"{merchant_id}\x1f{order_id}").hex


def failed_before_reservation(capture: Capture) -> bool:
    """A failure recorded before anything was reserved or sent to the provider (the order was
    not registered yet, the event was invalid): the same shipment may be tried again."""
    return (
        capture.status is CaptureStatus.FAILED
        and capture.amount == 0
        and capture.provider_reference is None
    )
