"""Use cases: the rules of ``capture_rules`` applied through the ports, one function a step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from order_capture.domain import capture_rules, state_log
from order_capture.domain.announcements import NOBODY_WAITS, make_known
from order_capture.errors import (
    AnnouncementFailedError,
    InvalidStateError,
    OrderChangedError,
    OrderNotFoundError,
    OutcomeUnknownNotRetryableError,
    ProviderDeclinedError,
)
from order_capture.models import (
    FINAL_CAPTURE_STATUSES,
    SETTLED_CAPTURE_STATUSES,
    Capture,
    CapturePlan,
    CaptureRequest,
    CaptureStatus,
    Order,
    OrderItemsCanceledDetail,
    OrderPlacedDetail,
    PlannedCapture,
    failed_before_reservation,
)
from order_capture.ports import (
    CaptureConfirmations,
    CaptureLedger,
    Clock,
    ConfirmationState,
    EventPublisher,
    OrderReads,
    Orders,
    PaymentProvider,
    ProviderCaptureRequest,
    ProviderItem,
)
from order_capture.workflow_state import StatePlanned

#: How often a read-modify-write of an order is tried before giving up on contention.
MAX_ORDER_WRITE_ATTEMPTS = 8


class LoadedForCapture(NamedTuple):
    """What Validate reads (its output is ``workflow_state.StateValidated``)."""

    order: Order
    #: The shipment's earlier result, final or being captured by another execution.
    duplicate_of: Capture | None


def load_for_capture(repository: OrderReads, request: CaptureRequest) -> LoadedForCapture:
    """Validate step: the order to capture from, and the shipment's earlier result if final."""
    order, existing = repository.get_order_and_capture(
        request.merchant_id, request.order_id, request.capture_id
    )
    if order is None:
        raise OrderNotFoundError(
            f"order {request.order_id} of merchant {request.merchant_id} is not registered"
        )
    return LoadedForCapture(order=order, duplicate_of=earlier_result(existing))


def earlier_result(existing: Capture | None) -> Capture | None:
    """The shipment's capture as stored, if it is the shipment's result: a final result
    stands; a pending one is another execution of this shipment capturing right now (a
    redelivered event: Validate is never re-entered after this execution's own reservation),
    which records and announces it: this one is a duplicate in progress. A failure before
    anything was reserved is no result: the shipment is tried afresh."""
    if (
        existing
        and (existing.status in FINAL_CAPTURE_STATUSES or existing.status is CaptureStatus.PENDING)
        and not failed_before_reservation(existing)
    ):
        return existing
    return None


def _read_for_capture(
    repository: OrderReads, planned: PlannedCapture | StatePlanned
) -> tuple[Order, Capture | None, PlannedCapture]:
    """The order and the shipment's capture as stored, and the plan named by the order."""
    ids = planned.request
    order, existing = repository.get_order_and_capture(
        ids.merchant_id, ids.order_id, planned.plan.capture_id
    )
    if order is None:
        raise OrderNotFoundError(
            f"order {ids.order_id} of merchant {ids.merchant_id} is no longer registered"
        )
    named = planned.named(order) if isinstance(planned, StatePlanned) else planned
    return order, existing, named


def _plan_again(order: Order, planned: PlannedCapture, now: datetime) -> CapturePlan:
    """The order moved since ``planned`` was made (a hot order: its other shipments reserved
    or confirmed meanwhile): the plan on the order as read, which the reservation is then
    conditioned on, instead of a round through Validate and ComputeAmount."""
    plan = capture_rules.plan_capture(order, planned.request, now)
    if plan.nothing_to_capture:
        raise OrderChangedError(
            f"order {order.order_id} moved from version {planned.plan.expected_version} to "
            f"{order.version}, leaving this shipment nothing to capture"
        )
    return plan


def execute_capture(
    repository: CaptureLedger,
    provider: PaymentProvider,
    *,
    planned: PlannedCapture | StatePlanned,
    execution_id: str | None,
    now: datetime,
) -> Capture:
    """Capture step: reserve in the ledger, then ask the provider, with one idempotency key.

    The order is read again here rather than carried in the execution's state (an order of a
    thousand lines would crowd Step Functions' 256 KB state); the plan holds only if the order
    is still at the version it was made from. A retry of this step (provider unavailable, a
    crash) finds its own pending capture and repeats the provider call with the same key
    instead of reserving twice. A plan from the state names lines by position: the order
    read here names them (its catalog never changes). A capture another execution of the
    shipment reserved (a twin) is returned as it stands, with that execution's id: it is
    that execution's to record and announce.
    """
    order, existing, named = _read_for_capture(repository, planned)
    request, plan = named.request, named.plan
    if existing is not None and failed_before_reservation(existing):
        existing = None  # an earlier attempt that never reserved: this one may (see reserve)
    if existing is None and order.version != plan.expected_version:
        plan = _plan_again(order, named, now)
    pending = Capture(
        capture_id=plan.capture_id,
        merchant_id=request.merchant_id,
        order_id=request.order_id,
        shipment_id=request.shipment_id,
        amount=plan.amount,
        currency=plan.currency,
        status=CaptureStatus.PENDING,
        lines=plan.lines,
        shipping_amount=plan.shipping_amount,
        provider=order.payment.provider,
        trigger=request.trigger,
        execution_id=execution_id,
        releases_authorization=plan.releases_authorization,
        may_finish_order=plan.may_finish_order,
        created_at=now,
        updated_at=now,
    )
    # The order's totals after this capture's reservation, for the API's answer: the order
    # as reserved here or, for our own earlier attempt, as read (it holds the reservation).
    order_after = order.totals()
    if existing is None:
        reserved = capture_rules.reserve(order, plan, now)
        existing = _reserve(repository, reserved, plan, pending)
        order_after = reserved.totals()
    if existing is not None:
        if existing.status in SETTLED_CAPTURE_STATUSES:
            return existing  # a duplicate that raced past Validate: its result stands
        if existing.status is CaptureStatus.PENDING and existing.execution_id != execution_id:
            # A twin execution of the same shipment reserved it and may be at the provider
            # right now: its own Record or RecordFailure (or reconciliation) settles and
            # announces it. This one is a duplicate in progress, whatever the provider: the
            # twin's capture, as it stands, is this one's answer.
            return existing
        # Our own earlier attempt (a retry of this step): the same key and amount. Asking
        # again is safe only where the provider deduplicates by that key; a provider without
        # idempotency keys may already have captured it.
        if not provider.idempotent_captures:
            raise OutcomeUnknownNotRetryableError(
                f"capture {existing.capture_id} may already have been sent to "
                f"{provider.name}, which takes no idempotency key: not sending it again"
            )
        pending = existing
    return _send(
        repository, provider, order, pending.model_copy(update={"order_after": order_after})
    )


def _send(
    repository: CaptureLedger, provider: PaymentProvider, order: Order, pending: Capture
) -> Capture:
    """Reserved ``pending`` asked of the provider (a capture of 0 never is): as sent, with
    the provider's reference and answer."""
    if captures_nothing(pending):
        return pending.model_copy(update={"status_at_provider": "succeeded"})
    result = provider.capture(provider_capture_request(order, pending))
    if result.status == "failed":
        # A repeated request answered with the outcome of the first: the provider failed it.
        raise ProviderDeclinedError(
            f"{provider.name} failed capture {pending.capture_id} ({result.provider_reference})"
        )
    sent = pending.model_copy(
        update={
            "provider_reference": result.provider_reference,
            "status_at_provider": result.status,
        }
    )
    if result.status == "pending":
        # Confirmed later by the provider's webhook (which names the capture by our idempotency
        # key, findable since its reservation): note the provider's reference and its answer.
        repository.await_provider(sent)
        state_log.capture_changed(sent, CaptureStatus.PENDING, "received by the provider")
    return sent


def captures_nothing(capture: Capture) -> bool:
    """A capture of units worth nothing left to capture (``capture_rules.plan_capture``): it
    ships them in the ledger and is never sent (no provider takes a capture of 0). It is
    confirmed as captured by whoever settles it (Record, reconciliation, an operator's
    retry) without a provider call, and has no provider reference."""
    return capture.amount == 0


def provider_capture_request(order: Order, capture: Capture) -> ProviderCaptureRequest:
    """What is sent to the provider for reserved ``capture``: the same whoever sends it (its
    execution, a retry of its step, an operator's ``captures retry``), under its one key."""
    return ProviderCaptureRequest(
        authorization_reference=order.payment.reference,
        amount=capture.amount,
        currency=capture.currency,
        idempotency_key=capture.capture_id,
        lines=capture.lines,
        shipping_amount=capture.shipping_amount,
        items=provider_items(order, capture),
        merchant_id=capture.merchant_id,
        order_id=capture.order_id,
        # The shipment that closes the order lets the provider release the rest; as stored,
        # so a twin sends exactly what the first attempt sent under this key.
        final_capture=capture.releases_authorization,
    )


def _reserve(
    repository: CaptureLedger, reserved: Order, plan: CapturePlan, pending: Capture
) -> Capture | None:
    """Reserve ``pending`` (``reserved``: the order with it reserved); None if it is reserved
    now, else the capture stored before."""
    existing = repository.reserve(reserved, plan.expected_version, pending)
    if existing is None:
        state_log.capture_changed(pending, None, "reserved")
    return existing


def provider_items(order: Order, capture: Capture) -> dict[str, ProviderItem]:
    """The order's lines that ``capture`` ships, as a provider may show them."""
    named = {line.item_id for line in capture.lines}
    return {
        line.item_id: ProviderItem(
            sku=line.sku,
            name=line.name,
            tax_amount=line.tax_amount,
            amount_including_tax=line.line_total,
            tax_rate=line.tax_rate,
        )
        for line in order.lines
        if line.item_id in named
    }


def record_capture(repository: CaptureLedger, capture: Capture, now: datetime) -> Capture:
    """Record step: the pending capture becomes captured, its reserved amount captured.

    A ``requires_action`` capture (outcome unknown) is confirmed the same way once
    reconciliation has found it at the provider. Nothing is noted as announced: this is for
    a confirmer that announces nothing (``confirm_capture`` is for one that does).
    """
    return _confirm(repository, capture, now, announcing=False)[0]


def confirm_capture(
    repository: CaptureLedger, capture: Capture, now: datetime
) -> tuple[Capture, bool]:
    """``record_capture`` by a confirmer that then makes it known (``announcements.make_known``,
    with ``claimed`` the second value): the capture as stored, and whether this call
    confirmed it, noting it as announced in the same write."""
    return _confirm(repository, capture, now, announcing=True)


def _confirm(
    repository: CaptureLedger, capture: Capture, now: datetime, *, announcing: bool
) -> tuple[Capture, bool]:
    """``record_capture``, and whether this call confirmed it (with the ``announced`` marker
    when ``announcing``) rather than finding it settled."""
    if capture.status in SETTLED_CAPTURE_STATUSES:
        return capture, False
    if (
        capture.status is CaptureStatus.REQUIRES_ACTION
        and capture.status_at_provider != "succeeded"
    ):
        return capture, False  # only the provider's own word settles an unknown outcome
    if capture.status_at_provider == "pending":
        return capture, False  # received, not captured: the provider's webhook confirms it
    captured = capture.model_copy(update={"status": CaptureStatus.CAPTURED, "updated_at": now})
    if not repository.confirm(captured, announced=announcing):
        stored = _stored(repository, capture)
        if stored.status in SETTLED_CAPTURE_STATUSES or not stored.may_finish_order:
            return stored, False
        # Still open, but a release waits for it (the order was closed while it was in
        # flight, domain.releases): confirmed as a capture that may finish the order, so that
        # its confirmer reads the order and releases at once.
        captured = captured.model_copy(update={"may_finish_order": True})
        if not repository.confirm(captured, announced=announcing):
            return _stored(repository, capture), False
    state_log.capture_changed(captured, capture.status, "confirmed")
    return captured, True


def _stored(repository: CaptureLedger, capture: Capture) -> Capture:
    stored = repository.get_capture(capture.merchant_id, capture.order_id, capture.capture_id)
    if stored is None:
        raise InvalidStateError(f"capture {capture.capture_id} vanished from the ledger")
    return stored


def record_and_announce(
    repository: CaptureConfirmations,
    publisher: EventPublisher,
    capture: Capture,
    now: datetime,
    execution_id: str | None = None,
    *,
    before_announcing: Callable[[Capture], bool] | None = None,
) -> Capture:
    """Record step: confirm the capture, then announce it (``Payment Captured``), in one step
    instead of two states (``announcements.make_known``).

    The confirm that makes it captured also notes it as announced by this execution, in the
    same transaction: whoever else comes after (reconciliation or a webhook that found it at
    the provider meanwhile) announces nothing more. Everything else the step does that can
    fail or take time (``before_announcing``: releasing what the authorization has left) runs
    before PutEvents, so that the step dies after sending only in the instant after PutEvents
    answered. A retry of this step (Step Functions retries a Record that died or timed out)
    finds its own note and announces (again, if it had been sent: the same
    ``announcement_id``). If sending fails, the note is taken back and the step fails. The
    execution that made the capture announces it; a twin execution that finds another
    execution's capture announces nothing: ``execution_id`` is the execution running this
    step (a twin's Capture step may hand it the first execution's capture, execution id and
    all, when it found that capture settled).
    """
    running = execution_id or capture.execution_id
    ours = capture.execution_id == running
    recorded, confirmed_here = _confirm(repository, capture, now, announcing=ours)
    asked_provider = before_announcing is not None and before_announcing(recorded)
    if asked_provider and confirmed_here:
        # Its release asked the provider (seconds): a reversal meanwhile is its reverser's
        # to announce, never Payment Captured after Payment Capture Failed. A release that
        # asked nothing (none due, or the final capture released the rest) took no time:
        # no read more on the common path (issue 15's four requests).
        stored = _stored(repository, recorded)
        if stored.status is not CaptureStatus.CAPTURED:
            return stored
    if recorded.status is not CaptureStatus.CAPTURED or recorded.execution_id != running:
        return recorded
    try:
        # A capture the provider confirmed at once: no confirmation workflow waits for it,
        # so there is no task token to read.
        make_known(
            repository,
            NOBODY_WAITS,
            publisher,
            recorded,
            claimed=confirmed_here,
            state=ConfirmationState(),
            reannounce_own=True,
        )
    except Exception as error:
        raise AnnouncementFailedError(
            f"capture {recorded.capture_id} is recorded; Payment Captured was not sent: "
            f"{type(error).__name__}"
        ) from error
    return recorded


def register_order(repository: Orders, detail: OrderPlacedDetail, clock: Clock) -> Order:
    """`Order Placed`: store the order; a redelivery of the same order changes nothing."""
    order = capture_rules.register_order(detail, clock.now())
    existing = repository.create_order(order)
    if existing is None:
        return order
    capture_rules.ensure_same_registration(existing, detail)
    return existing


def cancel_items(repository: Orders, detail: OrderItemsCanceledDetail, clock: Clock) -> Order:
    """`Order Items Canceled`: the units' value leaves what the order will capture."""
    for _ in range(MAX_ORDER_WRITE_ATTEMPTS):
        order = repository.get_order(detail.merchant_id, detail.order_id)
        if order is None:
            raise OrderNotFoundError(
                f"order {detail.order_id} of merchant {detail.merchant_id} is not registered"
            )
        updated = capture_rules.cancel_items(order, detail.items, clock.now())
        try:
            repository.replace_order(updated, order.version)
        except OrderChangedError:
            continue
        return updated
    raise OrderChangedError(f"order {detail.order_id} kept changing while canceling items")
