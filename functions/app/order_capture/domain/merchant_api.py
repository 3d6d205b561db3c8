"""Use cases of the HTTP API: a merchant's orders and captures, captures through the workflow,
and the merchant's API keys. Pure over the ports (no boto3, no HTTP).

Every read is scoped by the merchant of the API key: the ledger keys orders by merchant, so a
key of merchant A looking for merchant B's order finds nothing (404), never B's data.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from typing import NamedTuple

from order_capture import errors
from order_capture.domain import capture_rules, service
from order_capture.errors import (
    CaptureOutcomeUnknownError,
    InvalidStateError,
    OrderCaptureError,
    OrderNotFoundError,
)
from order_capture.history import HistoryEntry, HistoryReader
from order_capture.models import (
    FINAL_CAPTURE_STATUSES,
    Capture,
    CapturePlan,
    CaptureRequest,
    CaptureStatus,
    FailureReason,
    ItemQuantity,
    Order,
    OrderItemsCanceledDetail,
    OrderPlacedDetail,
    OrderTotals,
    capture_id_for,
    failed_before_reservation,
)
from order_capture.ports import ApiKeyStore, Clock, OrderReads, Orders, WorkflowStarter
from order_capture.step_payloads import READ_BY_API
from order_capture.workflow_state import validated_state

#: Prefix of every API key, so a leaked key is recognisable (secret scanners, log filters).
API_KEY_PREFIX = "oc_"


# --- API keys ------------------------------------------------------------------------------------


def api_key_digest(api_key: str) -> str:
    """What the ledger stores of a key: its SHA-256. Keys are 256 random bits, so a plain
    (unsalted, fast) hash is enough; there is no dictionary to attack."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def create_api_key(store: ApiKeyStore, merchant_id: str, clock: Clock) -> str:
    """A new key for ``merchant_id``; the caller shows it once, the ledger keeps its digest."""
    api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    store.add(api_key_digest(api_key), merchant_id, clock.now())
    return api_key


def merchant_of(store: ApiKeyStore, api_key: str) -> str | None:
    """The merchant a key belongs to, or None for an unknown key."""
    if not api_key.startswith(API_KEY_PREFIX) or len(api_key) > 256:
        return None
    return store.merchant_for(api_key_digest(api_key))


# --- Reads -----------------------------------------------------------------------------------


def require_order(repository: OrderReads, merchant_id: str, order_id: str) -> Order:
    order = repository.get_order(merchant_id, order_id)
    if order is None:
        raise OrderNotFoundError(f"order {order_id} not found", field="order_id")
    return order


def order_with_captures(
    repository: OrderReads, merchant_id: str, order_id: str
) -> tuple[Order, list[Capture]]:
    order = require_order(repository, merchant_id, order_id)
    return order, repository.list_captures(merchant_id, order_id)


def order_and_capture(
    repository: OrderReads, merchant_id: str, order_id: str, capture_id: str
) -> tuple[Order, Capture]:
    order, capture = repository.get_order_and_capture(merchant_id, order_id, capture_id)
    if order is None:
        raise OrderNotFoundError(f"order {order_id} not found", field="order_id")
    if capture is None:
        raise OrderNotFoundError(
            f"capture {capture_id} of order {order_id} not found", field="capture_id"
        )
    return order, capture


def capture_history(
    repository: OrderReads, merchant_id: str, order_id: str, capture_id: str
) -> list[HistoryEntry]:
    """The capture's changes, oldest first (the ledger keeps them: ``HistoryReader``)."""
    if not isinstance(repository, HistoryReader):
        raise TypeError(f"{type(repository).__name__} keeps no capture history")
    return repository.capture_history(merchant_id, order_id, capture_id)


def remaining_capture_amount(order: Order) -> int:
    """What can still be captured: the order's open value, and never beyond the authorization."""
    return order.totals().remaining_capture_amount


# --- Writes ----------------------------------------------------------------------------------


def register_order(
    repository: Orders, merchant_id: str, detail: OrderPlacedDetail, clock: Clock
) -> Order:
    """`PUT /orders/{id}`: the `Order Placed` use case, for the key's merchant only."""
    if detail.merchant_id != merchant_id:
        raise errors.InvalidEventError(
            "merchant_id: must be the merchant of the API key", field="merchant_id"
        )
    return service.register_order(repository, detail, clock)


def cancel_items(
    repository: Orders,
    merchant_id: str,
    order_id: str,
    items: list[ItemQuantity],
    clock: Clock,
) -> Order:
    require_order(repository, merchant_id, order_id)
    detail = OrderItemsCanceledDetail(merchant_id=merchant_id, order_id=order_id, items=items)
    return service.cancel_items(repository, detail, clock)


def api_shipment_id(merchant_id: str, idempotency_key: str | None) -> str:
    """The shipment id of an API capture, derived from its Idempotency-Key: a retry whose
    idempotency record is gone still lands on the same capture id, and the state machine's
    duplicate check returns the first result instead of capturing again. Without a key the
    request is a new capture: a shipment id of its own."""
    if idempotency_key is None:
        return f"api-{uuid.uuid4().hex}"
    digest = hashlib.sha256(f"{merchant_id}\x1f{idempotency_key}".encode()).hexdigest()
    return f"api-{digest[:32]}"


class CaptureAnswer(NamedTuple):
    """What the API answers a capture with: the capture (its lines included) and the order's
    totals right after it."""

    capture: Capture
    totals: OrderTotals


def capture(
    repository: OrderReads,
    workflow: WorkflowStarter,
    request: CaptureRequest,
    clock: Clock,
    *,
    read: tuple[Order | None, Capture | None] | None = None,
    money_only: bool = False,
) -> CaptureAnswer:
    """An API capture: checked against the order first (fast, precise errors, nothing written
    when it cannot succeed), then run through the capture state machine, which stays the only
    writer of captures and the authority when requests race. The execution is handed what
    this read found (Validate's output), so it does not read it again: its Capture step reads
    the order anyway, and plans again if a racing request moved it in between. ``read`` is
    the order and the shipment's capture, if the caller has just read them. ``money_only``:
    a capture of the payment (Medusa's), refused when it would capture 0 (a shipment of
    units worth nothing, otherwise recorded as a capture of 0).

    The answer needs no read after the execution (``_answer_from``): the execution's output
    carries the order's totals after its capture, and its lines are those planned here when
    the capture was reserved on the order as read here."""
    order, earlier = read or repository.get_order_and_capture(
        request.merchant_id, request.order_id, request.capture_id
    )
    if order is None:
        raise OrderNotFoundError(f"order {request.order_id} not found", field="order_id")
    plan = None
    if earlier is None or earlier.status not in FINAL_CAPTURE_STATUSES:
        plan = capture_rules.plan_capture(order, request, clock.now())
        if plan.nothing_to_capture or (money_only and plan.amount == 0):
            raise InvalidStateError(
                f"order {request.order_id} has nothing left to capture", field="order_id"
            )
    read_state = validated_state(request, order, service.earlier_result(earlier))
    result = workflow.run(
        {READ_BY_API: read_state.model_dump(mode="json")},
        name=f"api-{request.capture_id[:24]}-{uuid.uuid4().hex[:12]}",
    )
    if result.status == "SUCCEEDED" and isinstance(result.output, dict):
        if result.output.get("nothing_to_capture") is True:
            raise InvalidStateError(
                f"order {request.order_id} has nothing left to capture", field="order_id"
            )
        captured = Capture.model_validate(result.output)
    else:
        # The workflow ended in its failure path: RecordFailure wrote why into the ledger.
        stored = repository.get_capture(request.merchant_id, request.order_id, request.capture_id)
        if stored is None or stored.failure is None:
            raise CaptureOutcomeUnknownError(
                f"the capture workflow ended {result.status} ({result.error}); "
                f"capture {request.capture_id} needs reconciliation"
            )
        captured = stored
    _raise_unless_captured(captured)
    answer = _answer_from(order, earlier, plan, captured)
    if answer is not None:
        return answer
    # A racing request moved the order before this capture was reserved (the execution
    # planned again): the order as it is now and the capture's lines, in one read. The
    # capture answered is the workflow's (a provider's webhook may have settled it since;
    # the capture's GET tells that).
    order, stored = repository.get_order_and_capture(
        request.merchant_id, request.order_id, request.capture_id
    )
    if order is None:
        raise OrderNotFoundError(f"order {request.order_id} not found", field="order_id")
    lines = stored.lines if stored else []
    return CaptureAnswer(captured.model_copy(update={"lines": lines}), order.totals())


def _answer_from(
    order: Order, earlier: Capture | None, plan: CapturePlan | None, captured: Capture
) -> CaptureAnswer | None:
    """The answer without reading the ledger again, where what was read before the execution
    tells it exactly; None where it does not.

    - The shipment's capture was final when read: the execution answered with it and wrote
      nothing; the read holds its lines and the order's totals.
    - The capture was reserved on the order at the version read here (its totals after the
      reservation are at the next version): the Capture step executed the plan made from this
      very order, so its lines are this plan's. Its totals are the execution's output.
    """
    if earlier is not None and plan is None and captured.capture_id == earlier.capture_id:
        return CaptureAnswer(captured.model_copy(update={"lines": earlier.lines}), order.totals())
    after = captured.order_after
    if (
        plan is not None
        and after is not None
        and captured.amount == plan.amount
        and _reserved_on(order, after, captured)
    ):
        return CaptureAnswer(captured.model_copy(update={"lines": plan.lines}), after)
    return None


def _reserved_on(order: Order, after: OrderTotals, captured: Capture) -> bool:
    """Whether ``after`` (the totals the execution handed on) follow from ``order`` by this
    capture's reservation alone (and its confirmation, for a captured one): nothing else
    wrote the order in between."""
    reserved = order.totals().model_copy(
        update={
            "reserved_amount": order.reserved_amount + captured.amount,
            "version": order.version + 1,
        }
    )
    if captured.status is CaptureStatus.CAPTURED:
        reserved = reserved.confirmed(captured.amount)
    return after == reserved


def _raise_unless_captured(capture: Capture) -> None:
    """The API's error for a capture that failed, or whose outcome is unknown: unknown is no
    success, the provider may or may not hold the money (it stays reserved)."""
    if capture.status is CaptureStatus.FAILED and capture.failure is not None:
        raise error_from_failure(capture.failure)
    if capture.status is CaptureStatus.REQUIRES_ACTION:
        recorded = error_from_failure(capture.failure) if capture.failure else None
        if isinstance(recorded, errors.OutcomeUnknownNotRetryableError):
            raise recorded  # a retry must not send it again (502)
        raise CaptureOutcomeUnknownError(
            f"capture {capture.capture_id}: its outcome at the provider is unknown; the "
            "amount stays reserved until reconciliation settles it; retry with the same "
            "Idempotency-Key to learn the outcome"
        )


#: A message that starts with the field it is about (``amount: 500 exceeds ...``), as every
#: error naming a field does; the field itself does not cross the state machine.
_FIELD_PREFIX = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\[\]-]*): ")


def error_from_failure(failure: FailureReason) -> OrderCaptureError:
    """The exception a failed capture or refund recorded, rebuilt from its class name (the ASL
    error), with the field its message names, and marked ``recorded``."""
    error_class = getattr(errors, failure.error, None)
    if isinstance(error_class, type) and issubclass(error_class, OrderCaptureError):
        named = _FIELD_PREFIX.match(failure.message)
        error = error_class(failure.message, field=named.group(1) if named else None)
        error.recorded = True
        return error
    return CaptureOutcomeUnknownError(f"{failure.error}: {failure.message}")


def capture_whole_lines(
    repository: OrderReads,
    workflow: WorkflowStarter,
    *,
    merchant_id: str,
    order_id: str,
    item_ids: list[str],
    shipment_id: str,
    clock: Clock,
) -> Order:
    """Capture every open unit (neither shipped nor canceled) of the lines ``item_ids``, and
    answer with the order as it is then (Omnitron's answer is the whole order, its lines
    included, which no execution's output carries: one read after the execution).

    A retry of a request whose capture is final asks for the units that capture took (the
    workflow then answers with the first result); any other retry (nothing was reserved the
    first time, e.g. it lost a race for its units) asks again for exactly ``item_ids``, never
    for "everything open".
    """
    order, earlier = repository.get_order_and_capture(
        merchant_id, order_id, capture_id_for(merchant_id, order_id, shipment_id)
    )
    if order is None:
        raise OrderNotFoundError(f"order {order_id} not found", field="order_id")
    if (
        earlier is not None
        and earlier.status in FINAL_CAPTURE_STATUSES
        and not failed_before_reservation(earlier)
        and earlier.lines
    ):
        # A retry: its units are no longer open (it took them); the workflow returns it.
        items = [
            ItemQuantity(item_id=line.item_id, quantity=line.quantity) for line in earlier.lines
        ]
    else:
        items = [
            _open_units_of(order, position, item_id) for position, item_id in enumerate(item_ids)
        ]
    request = CaptureRequest(
        merchant_id=merchant_id,
        order_id=order_id,
        shipment_id=shipment_id,
        items=items,
        trigger="api",
    )
    capture(repository, workflow, request, clock, read=(order, earlier))
    return require_order(repository, merchant_id, order_id)


def _open_units_of(order: Order, position: int, item_id: str) -> ItemQuantity:
    line = order.line(item_id)
    field = f"items[{position}].item_id"
    if line is None:
        raise errors.InvalidEventError(
            f"{field}: {item_id!r} is not an item of order {order.order_id}", field=field
        )
    if line.open_quantity == 0:
        raise InvalidStateError(
            f"{field}: every unit of {item_id!r} is already captured or canceled", field=field
        )
    return ItemQuantity(item_id=item_id, quantity=line.open_quantity)
