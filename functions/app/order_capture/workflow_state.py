"""What the capture workflow's state carries between steps: ids and amounts, never lines' ids.

Step Functions fails an execution whose state outgrows 256 KB (``States.DataLimitExceeded``,
which no ``Catch`` can take on AWS): an order of 1,000 lines with long item ids, carried in the
state, would fail after the provider captured. So the state names an order's lines by their
position in the order's catalog (which never changes once registered) and carries only the
numbers planning needs; the ledger keeps the lines. Whatever the ids, a 1,000-line capture's
state stays within a few tens of KB (tests/statemachine/test_large_orders.py measures it).

- ``StateRequest``: a ``CaptureRequest`` whose items are ``[position, quantity]`` pairs.
- ``OrderFigures``: an order without its catalog: its totals and, per line, ``[quantity,
  unit_amount, discount_amount, tax_amount, shipped_quantity, canceled_quantity, closed_value]``.
- ``StatePlan``: a ``CapturePlan`` whose lines are ``[position, quantity, amount]``.

Planning itself is unchanged: ComputeAmount rebuilds an order whose item ids are the lines'
positions, plans with ``capture_rules``, and the Capture step names the lines again from the
order it reads.
"""

from typing import Any

from pydantic import ConfigDict, model_validator

from order_capture.domain import capture_rules
from order_capture.models import (
    Capture,
    CaptureLine,
    CapturePlan,
    CaptureRequest,
    ItemQuantity,
    Model,
    Order,
    OrderLine,
    PlannedCapture,
    Trigger,
)

#: The numbers of one line, in this order (see ``OrderFigures``).
LINE_FIGURES = (
    "quantity",
    "unit_amount",
    "discount_amount",
    "tax_amount",
    "shipped_quantity",
    "canceled_quantity",
    "closed_value",
)


class StateRequest(Model):
    """A capture request as the state carries it: items by line position."""

    merchant_id: str
    order_id: str
    shipment_id: str
    #: ``[position, quantity]`` per requested line; None: everything still open.
    items: list[tuple[int, int]] | None = None
    amount: int | None = None
    trigger: Trigger = "event"

    @property
    def capture_id(self) -> str:
        return self.identity().capture_id

    def identity(self) -> CaptureRequest:
        """The request's ids alone (what a failure is recorded under)."""
        return CaptureRequest(
            merchant_id=self.merchant_id,
            order_id=self.order_id,
            shipment_id=self.shipment_id,
            amount=self.amount,
            trigger=self.trigger,
        )

    def named(self, order: Order) -> CaptureRequest:
        """The request with its items named by ``order``'s catalog."""
        items = None
        if self.items is not None:
            items = [
                ItemQuantity(item_id=order.lines[pos].item_id, quantity=qty)
                for pos, qty in self.items
            ]
        return self.identity().model_copy(update={"items": items})

    def positional(self) -> CaptureRequest:
        """The request with each item named by its line's position (see ``planning_order``)."""
        items = None
        if self.items is not None:
            items = [ItemQuantity(item_id=str(pos), quantity=qty) for pos, qty in self.items]
        return self.identity().model_copy(update={"items": items})


def state_request(request: CaptureRequest, order: Order) -> StateRequest:
    """``request`` with its items replaced by line positions in ``order``. Raises as planning
    would (an unknown item, more units than are open), naming the item as the request did."""
    items = None
    if request.items is not None:
        items = list(capture_rules.resolve_lines(order, request.items))
    return StateRequest(
        merchant_id=request.merchant_id,
        order_id=request.order_id,
        shipment_id=request.shipment_id,
        items=items,
        amount=request.amount,
        trigger=request.trigger,
    )


class OrderFigures(Model):
    """An order as the state carries it: its fields as the order has them, but ``lines``:
    per line (by position) its numbers, in ``LINE_FIGURES`` order."""

    model_config = ConfigDict(extra="allow", frozen=True)

    lines: list[tuple[int, int, int, int, int, int, int]]

    def planning_order(self) -> Order:
        """The order with each line's item id its position (skus left out): what planning
        reads of a line is its numbers."""
        return Order.model_validate(
            {
                **(self.model_extra or {}),
                "lines": [
                    OrderLine(
                        item_id=str(position),
                        sku="",
                        **dict(zip(LINE_FIGURES, figures, strict=True)),
                    )
                    for position, figures in enumerate(self.lines)
                ],
            }
        )


def figures_of(order: Order) -> OrderFigures:
    return OrderFigures(
        **order.model_dump(mode="json", exclude={"lines"}),
        lines=[tuple(getattr(line, name) for name in LINE_FIGURES) for line in order.lines],
    )


class StateValidated(Model):
    """Validate's output: the request, the order's figures, an earlier final result."""

    request: StateRequest
    order: OrderFigures
    duplicate_of: Capture | None = None


def validated_state(
    request: CaptureRequest | StateRequest, order: Order, duplicate_of: Capture | None
) -> StateValidated:
    """Validate's output for ``request`` on ``order`` as read (Validate's own read, or the
    API's, handed to the workflow). It names lines by position and carries only their
    numbers, whatever the ids. A shipment settled already is not planned again: its items
    are not resolved against units it closed itself."""
    identity = request.identity() if isinstance(request, StateRequest) else request
    if duplicate_of is not None:
        positional = StateRequest(**identity.model_dump(exclude={"items"}))
    else:
        # A request sent back to plan again (the order moved) is checked again against the
        # order as it is now, named as the request named them.
        named = request.named(order) if isinstance(request, StateRequest) else request
        positional = state_request(named, order)
    return StateValidated(request=positional, order=figures_of(order), duplicate_of=duplicate_of)


class StatePlan(Model):
    """A plan as the state carries it: lines as ``[position, quantity, amount]``."""

    capture_id: str
    amount: int
    currency: str
    provider: str
    lines: list[tuple[int, int, int]]
    shipping_amount: int
    expected_version: int
    is_final: bool
    releases_authorization: bool = False
    may_finish_order: bool = False
    nothing_to_capture: bool

    def named(self, order: Order) -> CapturePlan:
        """The plan with its lines named by ``order``'s catalog."""
        data = self.model_dump(exclude={"lines"})
        lines = [
            CaptureLine(item_id=order.lines[position].item_id, quantity=qty, amount=amount)
            for position, qty, amount in self.lines
        ]
        return CapturePlan(**data, lines=lines)


def state_plan(plan: CapturePlan) -> StatePlan:
    """A plan made on a ``planning_order`` (item ids are positions) for the state."""
    return StatePlan(
        **plan.model_dump(exclude={"lines"}),
        lines=[(int(line.item_id), line.quantity, line.amount) for line in plan.lines],
    )


class StatePlanned(Model):
    """ComputeAmount's output: the request and its plan, both by line position."""

    request: StateRequest
    plan: StatePlan

    def named(self, order: Order) -> PlannedCapture:
        """The request and plan the Capture step executes, named by ``order``'s catalog."""
        return PlannedCapture(request=self.request.named(order), plan=self.plan.named(order))


class PassedOn(Model):
    """A shipment for which this execution makes no capture: ComputeAmount says so, Capture
    and Record hand it on unchanged, and Record returns what it holds as the execution's
    output. No Choice state sorts it out: Standard workflows bill every state entered, and two
    Choices on the happy path were a third of a capture's cost (docs/performance.md). Exactly
    one of the fields is set."""

    #: The shipment's result as another execution left it: final (a redelivered shipment)
    #: or pending (a twin execution is capturing it, and records and announces the outcome).
    duplicate_of: Capture | None = None
    #: The request and the plan that left nothing to capture.
    nothing_to_capture: StatePlanned | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> "PassedOn":
        if (self.duplicate_of is None) == (self.nothing_to_capture is None):
            raise ValueError("exactly one of duplicate_of and nothing_to_capture")
        return self

    def identity(self) -> CaptureRequest:
        """Whose shipment it is (what a failure of a step that handed it on is recorded under)."""
        if self.duplicate_of is not None:
            return self.duplicate_of.request()
        assert self.nothing_to_capture is not None
        return self.nothing_to_capture.request.identity()

    def output(self) -> dict[str, Any]:
        """The execution's output: the earlier result, or the plan with nothing to capture."""
        if self.duplicate_of is not None:
            return self.duplicate_of.model_dump(mode="json")
        assert self.nothing_to_capture is not None
        return self.nothing_to_capture.plan.model_dump(mode="json")


def capture_output(capture: Capture) -> dict[str, Any]:
    """A capture as the Capture and Record steps hand it on (the state's ``capture``, the
    execution's output): its dump, with ``order_after`` when known (a few numbers, whatever
    the order's size; ``Capture.order_after`` is left out of every other dump)."""
    output = capture.model_dump(mode="json")
    if capture.order_after is not None:
        output["order_after"] = capture.order_after.model_dump(mode="json")
    return output


def order_summary(order: Order) -> dict[str, Any]:
    """What an order event's handler answers: the order without its lines (the answer is
    also the idempotency record's, an item of at most 400 KB)."""
    return {
        **order.model_dump(mode="json", exclude={"lines"}),
        "line_count": len(order.lines),
        "capturable_amount": order.capturable_amount,
    }
