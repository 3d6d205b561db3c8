"""Defect 13: the hourly expiry sweep is bounded. It reads ``OpenOrdersByExpiry`` a page at a
time, stops before its Lambda runs out of time and carries on at the next run, and takes
entries nothing can come of out of the index (so it does not read every order ever placed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from order_capture.domain import service
from order_capture.handlers import expiry_sweep
from order_capture.models import OrderPlacedDetail
from tests.factories import order_placed
from tests.support import FixedClock

ORDERS = 40
PAGE = 5


class Publisher:
    def __init__(self) -> None:
        self.warned: list[str] = []

    def publish(self, detail_type: str, details: list[Any]) -> None:
        self.warned += [detail.order_id for detail in details]


class CountingLedger:
    """The ledger, counting the index pages read."""

    def __init__(self, repository: Any) -> None:
        self._repository = repository
        self.pages = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repository, name)

    def expiring_orders_page(self, *arguments: Any) -> Any:
        self.pages += 1
        return self._repository.expiring_orders_page(*arguments)


class LambdaContext:
    """A Lambda with ``pages_of_time`` pages' worth of time: each page costs 10 s."""

    def __init__(self, ledger: CountingLedger, pages_of_time: int) -> None:
        self.ledger = ledger
        self.budget_ms = (pages_of_time * 10 - 5 + expiry_sweep.RESERVE_SECONDS) * 1000

    def get_remaining_time_in_millis(self) -> float:
        return self.budget_ms - self.ledger.pages * 10_000


def register(repository: Any, clock: FixedClock, order_id: str, expires_in: timedelta) -> None:
    expires_at = (clock.now() + expires_in).isoformat()
    detail = order_placed(order_id=order_id, expires_at=expires_at)["detail"]
    service.register_order(repository, OrderPlacedDetail.model_validate(detail), clock)


def sweep(ledger: CountingLedger, clock: FixedClock, publisher: Publisher) -> dict[str, Any]:
    ledger.pages = 0
    return expiry_sweep.handle(
        {"margin_hours": 24, "page_size": PAGE},
        LambdaContext(ledger, pages_of_time=3),  # type: ignore[arg-type]
        repository=ledger,
        publisher=publisher,
        clock=clock,
    )


def test_defect_13_the_expiry_sweep_is_bounded_carries_on_and_drops_stale_entries(
    repository: Any, clock: FixedClock
) -> None:
    # Given many orders expiring within the margin, and one whose authorization expired
    # already with nothing in flight (an entry nothing can come of)
    for number in range(ORDERS):
        register(repository, clock, f"order-{number:03d}", timedelta(hours=3))
    register(repository, clock, "expired", timedelta(hours=-1))
    ledger = CountingLedger(repository)
    publisher = Publisher()

    # When the sweep runs with time for 3 pages a run, until a run gets to the end
    runs = [sweep(ledger, clock, publisher)]
    while not runs[-1]["complete"]:
        assert ledger.pages <= 3  # each run reads what its time allows, no more
        assert len(runs) < 30
        runs.append(sweep(ledger, clock, publisher))

    # Then the runs between them warned about every expiring order once
    assert len(runs) > 1
    assert sorted(publisher.warned) == [f"order-{number:03d}" for number in range(ORDERS)]
    # And the stale entry left the index: the next pass neither warns about it nor reads it
    assert sum(run["removed"] for run in runs) == 1
    far = clock.now() + timedelta(days=1)
    assert "expired" not in [
        order.order_id for order in repository.list_orders_expiring_before(far)
    ]
    publisher.warned.clear()
    while True:
        run = sweep(ledger, clock, publisher)
        if run["complete"]:
            break
    assert "expired" not in publisher.warned
