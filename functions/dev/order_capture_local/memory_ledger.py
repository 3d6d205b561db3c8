"""The ledger in memory: every port of ``ports.OrderRepository`` with the DynamoDB adapter's
conditional semantics, for domain tests that need no moto.

Each method mirrors one transaction of ``adapters/dynamodb``: the same conditions decide
whether it writes, what it returns when they fail and which error it raises
(``OrderChangedError``), and it writes the same fields (a confirmation SETs a few fields of
the stored capture and ADDs to the order's totals; it does not store the caller's capture).
``tests/integration/test_ledger_contract.py`` runs the same tests against both. A lock makes
each method atomic, as a transaction is.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from order_capture import history
from order_capture.adapters.dynamodb.history import history_sk
from order_capture.errors import OrderChangedError
from order_capture.models import (
    OPEN_RELEASE_STATUSES,
    AuthorizationRelease,
    Capture,
    CaptureStatus,
    Model,
    Order,
    Refund,
    ReleaseStatus,
)
from order_capture.ports import ConfirmationState
from order_capture_local.memory_refunds import MemoryRefunds

if TYPE_CHECKING:
    from datetime import datetime

    from order_capture.history import Change, HistoryEntry

OPEN_CAPTURE_STATUSES = frozenset({CaptureStatus.PENDING, CaptureStatus.REQUIRES_ACTION})
OrderKey = tuple[str, str]


@dataclass
class _Pointer:
    """A ``CAPTURE_REF`` item: the capture's order and the waiting task token."""

    order_id: str | None = None
    task_token: str | None = None


@dataclass
class MemoryLedger(MemoryRefunds):
    """OrderRepository in memory (one process; thread-safe)."""

    orders: dict[OrderKey, Order] = field(default_factory=dict)
    #: Orders in the sparse expiry index (set by a header write, removed by a last capture).
    expiry_index: set[OrderKey] = field(default_factory=set)
    captures: dict[tuple[str, str, str], Capture] = field(default_factory=dict)
    capture_refs: dict[tuple[str, str], _Pointer] = field(default_factory=dict)
    #: Each reserved capture's announced note (its ``CAPTURE#`` item's ``announced``): None
    #: from its reservation until its settler or a claim notes an outcome.
    announced: dict[tuple[str, str, str], CaptureStatus | None] = field(default_factory=dict)
    #: Who holds each note (``announced_by``, ``history.announcer_for``).
    announced_by: dict[tuple[str, str, str], str | None] = field(default_factory=dict)
    #: Captures settled by a settler nothing retries, their announcement not sent yet (the
    #: ``OpenCaptures`` index's ``unannounced`` partition).
    unannounced: set[tuple[str, str, str]] = field(default_factory=set)
    refunds: dict[tuple[str, str, str, str], Refund] = field(default_factory=dict)
    #: Refunds in the sparse open index (set by reserve_refund, removed by settling).
    open_refunds: set[tuple[str, str, str, str]] = field(default_factory=set)
    refund_refs: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    orphan_failures: dict[str, Model] = field(default_factory=dict)
    #: One authorization release per order (pending ones are open, as in the sparse index).
    releases: dict[OrderKey, AuthorizationRelease] = field(default_factory=dict)
    #: Where the last expiry sweep stopped.
    expiry_sweep_cursor: str | None = None
    #: Each capture's history entries by their sort key (the same key overwrites, as a Put).
    history: dict[tuple[str, str, str], dict[str, HistoryEntry]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def _note(self, merchant_id: str, order_id: str, entry: HistoryEntry) -> None:
        """The history item that the DynamoDB adapter puts in the same transaction."""
        entries = self.history.setdefault((merchant_id, order_id, entry.capture_id), {})
        entries[history_sk(entry)] = entry

    def _note_capture(
        self, capture: Capture, change: Change, from_status: CaptureStatus | None
    ) -> None:
        self._note(
            capture.merchant_id,
            capture.order_id,
            history.capture_change(capture, change, from_status),
        )

    def capture_history(
        self, merchant_id: str, order_id: str, capture_id: str
    ) -> list[HistoryEntry]:
        with self._lock:
            entries = self.history.get((merchant_id, order_id, capture_id), {})
            return [entries[key].model_copy(deep=True) for key in sorted(entries)]

    # --- orders ----------------------------------------------------------------------------------

    def _put_header(self, order: Order) -> None:
        key = (order.merchant_id, order.order_id)
        self.orders[key] = order.model_copy(deep=True)
        if order.capturable_amount > 0 or order.reserved_amount > 0:
            self.expiry_index.add(key)
        else:
            self.expiry_index.discard(key)

    def _version_holds(self, order: Order, expected_version: int) -> bool:
        stored = self.orders.get((order.merchant_id, order.order_id))
        return stored is not None and stored.version == expected_version

    def get_order(self, merchant_id: str, order_id: str) -> Order | None:
        with self._lock:
            stored = self.orders.get((merchant_id, order_id))
            return stored.model_copy(deep=True) if stored is not None else None

    def create_order(self, order: Order) -> Order | None:
        with self._lock:
            existing = self.get_order(order.merchant_id, order.order_id)
            if existing is not None:
                return existing
            self._put_header(order)
            return None

    def replace_order(self, order: Order, expected_version: int) -> None:
        with self._lock:
            if not self._version_holds(order, expected_version):
                raise OrderChangedError(
                    f"order {order.order_id} changed since version {expected_version}"
                )
            self._put_header(order)

    def list_orders_expiring_before(self, moment: datetime) -> list[Order]:
        with self._lock:
            orders = [
                self.orders[key]
                for key in self.expiry_index
                if self.orders[key].payment.expires_at < moment
            ]
            return sorted(
                (order.model_copy(deep=True) for order in orders),
                key=lambda order: (order.payment.expires_at, order.order_id),
            )

    def expiring_orders_page(
        self, moment: datetime, after: str | None, limit: int
    ) -> tuple[list[Order], str | None]:
        # The cursor: the last order read, as the index sorts them (expiry, then id).
        def position(order: Order) -> str:
            return f"{order.payment.expires_at.isoformat()}|{order.merchant_id}|{order.order_id}"

        orders = sorted(self.list_orders_expiring_before(moment), key=position)
        left = [order for order in orders if after is None or position(order) > after]
        page = left[:limit]
        return page, position(page[-1]) if len(left) > limit else None

    def leave_expiry_index(self, order: Order) -> bool:
        with self._lock:
            key = (order.merchant_id, order.order_id)
            stored = self.orders.get(key)
            if stored is None or stored.version != order.version:
                return False
            self.expiry_index.discard(key)
            return True

    def sweep_cursor(self) -> str | None:
        return self.expiry_sweep_cursor

    def save_sweep_cursor(self, cursor: str | None) -> None:
        self.expiry_sweep_cursor = cursor

    # --- captures --------------------------------------------------------------------------------

    def get_capture(self, merchant_id: str, order_id: str, capture_id: str) -> Capture | None:
        with self._lock:
            stored = self.captures.get((merchant_id, order_id, capture_id))
            return stored.model_copy(deep=True) if stored is not None else None

    def get_order_and_capture(
        self, merchant_id: str, order_id: str, capture_id: str
    ) -> tuple[Order | None, Capture | None]:
        with self._lock:
            return (
                self.get_order(merchant_id, order_id),
                self.get_capture(merchant_id, order_id, capture_id),
            )

    def list_captures(self, merchant_id: str, order_id: str) -> list[Capture]:
        with self._lock:
            captures = [
                capture.model_copy(deep=True)
                for (merchant, order, _), capture in self.captures.items()
                if (merchant, order) == (merchant_id, order_id)
            ]
        return sorted(captures, key=lambda capture: (capture.created_at, capture.capture_id))

    def list_open_captures(self, updated_before: datetime) -> list[Capture]:
        with self._lock:
            captures = [
                capture.model_copy(deep=True)
                for capture in self.captures.values()
                if capture.status in OPEN_CAPTURE_STATUSES and capture.updated_at < updated_before
            ]
        return sorted(captures, key=lambda capture: (capture.updated_at, capture.capture_id))

    def list_unannounced(self, updated_before: datetime) -> list[Capture]:
        with self._lock:
            captures = [
                self.captures[key].model_copy(deep=True)
                for key in self.unannounced
                if self.captures[key].updated_at < updated_before
            ]
        return sorted(captures, key=lambda capture: (capture.updated_at, capture.capture_id))

    def take_over_announcement(
        self, capture: Capture, *, holder: str, announcer: str, now: datetime
    ) -> bool:
        key = self._capture_key(capture)
        with self._lock:
            held = (
                self.announced.get(key) is capture.status and self.announced_by.get(key) == holder
            )
            stored = self.captures.get(key)
            if not held or key not in self.unannounced or stored is None:
                return False
            if stored.updated_at != capture.updated_at:
                return False
            self.announced_by[key] = announcer
            self.captures[key] = stored.model_copy(update={"updated_at": now})
            return True

    def hand_over_announcement(self, capture: Capture, holder: str) -> bool:
        key = self._capture_key(capture)
        with self._lock:
            stored = self.captures.get(key)
            note, by = self.announced.get(key), self.announced_by.get(key)
            own = note is CaptureStatus.CAPTURED and by == history.announcer_for(
                capture.execution_id
            )
            if stored is None or stored.status is not CaptureStatus.CAPTURED:
                return False
            if key in self.unannounced or not (note is None or own):
                return False
            self.unannounced.add(key)
            self.announced_by[key] = holder
            return True

    def announcement_sent(self, merchant_id: str, order_id: str, capture_id: str) -> None:
        with self._lock:
            self.unannounced.discard((merchant_id, order_id, capture_id))

    def _capture_key(self, capture: Capture) -> tuple[str, str, str]:
        return (capture.merchant_id, capture.order_id, capture.capture_id)

    def reserve(self, order: Order, expected_version: int, capture: Capture) -> Capture | None:
        with self._lock:
            stored = self.captures.get(self._capture_key(capture))
            replaceable = stored is None or (
                stored.status is CaptureStatus.FAILED and stored.amount == 0
            )
            if not replaceable:
                return self.get_capture(*self._capture_key(capture))
            if not self._version_holds(order, expected_version):
                raise OrderChangedError(
                    f"order {order.order_id} changed since version {expected_version}"
                )
            self._put_header(order)
            self.captures[self._capture_key(capture)] = capture.model_copy(deep=True)
            self.announced[self._capture_key(capture)] = None
            pointer = self._pointer_of(capture.merchant_id, capture.capture_id)
            pointer.order_id = capture.order_id
            self._note_capture(capture, "reserved", None)
            return None

    def confirm(self, capture: Capture, *, announced: bool = False) -> bool:
        with self._lock:
            key = self._capture_key(capture)
            stored = self.captures.get(key)
            order = self.orders.get((capture.merchant_id, capture.order_id))
            if stored is None or stored.status not in OPEN_CAPTURE_STATUSES or order is None:
                return False
            if stored.may_finish_order and not capture.may_finish_order:
                return False  # a release waits for it: its confirmer must know (as DynamoDB)
            self.captures[key] = stored.model_copy(
                update={
                    "status": CaptureStatus.CAPTURED,
                    "provider_reference": capture.provider_reference,
                    "status_at_provider": capture.status_at_provider,
                    "updated_at": capture.updated_at,
                }
            )
            self.orders[(order.merchant_id, order.order_id)] = order.model_copy(
                update={
                    "captured_amount": order.captured_amount + capture.amount,
                    "reserved_amount": order.reserved_amount - capture.amount,
                    "capture_count": order.capture_count + 1,
                    "version": order.version + 1,
                    "updated_at": capture.updated_at,
                }
            )
            if capture.releases_authorization:
                self.expiry_index.discard((order.merchant_id, order.order_id))
            if announced:
                self.announced[key] = CaptureStatus.CAPTURED
                self.announced_by[key] = history.announcer_for(capture.execution_id)
                self._keep_unannounced(key)
            self._note_capture(capture, "confirmed", history.confirmed_from(capture))
            return True

    def _keep_unannounced(self, key: tuple[str, str, str]) -> None:
        if history.kept_open_until_announced():
            self.unannounced.add(key)

    def settle_failure(
        self,
        order: Order | None,
        expected_version: int | None,
        capture: Capture,
        expected_status: CaptureStatus | None,
        *,
        announced: bool = False,
    ) -> bool:
        with self._lock:
            if order is not None and not self._version_holds(order, expected_version or 0):
                raise OrderChangedError(f"order {capture.order_id} changed while releasing")
            stored = self.captures.get(self._capture_key(capture))
            # None: not stored yet (a capture stored with any status fails the condition).
            if (stored.status if stored is not None else None) != expected_status:
                return False
            self.captures[self._capture_key(capture)] = capture.model_copy(deep=True)
            self.unannounced.discard(self._capture_key(capture))
            if order is not None:
                self._put_header(order)
            if announced and expected_status is not None:
                self.announced[self._capture_key(capture)] = capture.status
                self.announced_by[self._capture_key(capture)] = history.announcer_for(
                    capture.execution_id
                )
                self._keep_unannounced(self._capture_key(capture))
            entry = history.failure_change(capture, expected_status, released=order is not None)
            self._note(capture.merchant_id, capture.order_id, entry)
            return True

    def record_orphan_failure(self, execution_id: str, failure: Model) -> None:
        with self._lock:
            self.orphan_failures[execution_id] = failure

    def await_provider(self, capture: Capture) -> None:
        with self._lock:
            key = self._capture_key(capture)
            stored = self.captures.get(key)
            if stored is not None and stored.status is CaptureStatus.PENDING:
                self.captures[key] = stored.model_copy(
                    update={
                        "provider_reference": capture.provider_reference,
                        "status_at_provider": capture.status_at_provider,
                    }
                )
                self._note_capture(capture, "sent", CaptureStatus.PENDING)

    # --- captures the provider confirms later -------------------------------------------------

    def _pointer_of(self, merchant_id: str, capture_id: str) -> _Pointer:
        """The capture's pointer, created if missing (as an Update creates an item)."""
        return self.capture_refs.setdefault((merchant_id, capture_id), _Pointer())

    def find_capture(self, merchant_id: str, capture_id: str) -> Capture | None:
        with self._lock:
            pointer = self.capture_refs.get((merchant_id, capture_id))
            if pointer is None or pointer.order_id is None:
                return None
            return self.get_capture(merchant_id, pointer.order_id, capture_id)

    def await_confirmation(self, capture: Capture, task_token: str) -> bool:
        with self._lock:
            stored = self.captures.get(self._capture_key(capture))
            if stored is None or stored.status is not CaptureStatus.PENDING:
                return False
            pointer = self._pointer_of(capture.merchant_id, capture.capture_id)
            pointer.task_token = task_token
            pointer.order_id = capture.order_id
            return True

    def confirmation_state(
        self, merchant_id: str, order_id: str, capture_id: str
    ) -> ConfirmationState:
        with self._lock:
            pointer = self.capture_refs.get((merchant_id, capture_id), _Pointer())
            return ConfirmationState(
                task_token=pointer.task_token,
                announced=self.announced.get((merchant_id, order_id, capture_id)),
                announced_by=self.announced_by.get((merchant_id, order_id, capture_id)),
            )

    def claim_announcement(
        self,
        merchant_id: str,
        order_id: str,
        capture_id: str,
        status: CaptureStatus,
        announcer: str | None = None,
    ) -> bool:
        with self._lock:
            key = (merchant_id, order_id, capture_id)
            if key not in self.announced or self.announced[key] in {status, CaptureStatus.FAILED}:
                return False  # never reserved, noted already, or failed: final (see the port)
            self.announced[key], self.announced_by[key] = status, announcer
            return True

    def is_announcer(
        self,
        merchant_id: str,
        order_id: str,
        capture_id: str,
        status: CaptureStatus,
        announcer: str,
    ) -> bool:
        with self._lock:
            key = (merchant_id, order_id, capture_id)
            return self.announced.get(key) is status and self.announced_by.get(key) == announcer

    def withdraw_announcement(
        self, merchant_id: str, order_id: str, capture_id: str, status: CaptureStatus
    ) -> bool:
        with self._lock:
            key = (merchant_id, order_id, capture_id)
            if key not in self.announced or self.announced[key] is not status:
                return False
            self.announced[key] = self.announced_by[key] = None
            return True

    def begin_release(self, release: AuthorizationRelease) -> AuthorizationRelease | None:
        with self._lock:
            stored = self.releases.get((release.merchant_id, release.order_id))
            if stored is not None:
                return stored.model_copy(deep=True)
            self.releases[(release.merchant_id, release.order_id)] = release
            return None

    def find_release(self, merchant_id: str, release_id: str) -> AuthorizationRelease | None:
        with self._lock:
            stored = next(
                (
                    release
                    for (merchant, _), release in self.releases.items()
                    if merchant == merchant_id and release.release_id == release_id
                ),
                None,
            )
            return None if stored is None else stored.model_copy(deep=True)

    def update_release(
        self,
        release: AuthorizationRelease,
        expected: ReleaseStatus,
        *,
        expected_attempts: int | None = None,
    ) -> bool:
        with self._lock:
            stored = self.releases.get((release.merchant_id, release.order_id))
            if stored is None or stored.status is not expected:
                return False
            if expected_attempts is not None and stored.attempts != expected_attempts:
                return False
            self.releases[(release.merchant_id, release.order_id)] = release
            return True

    def get_release(self, merchant_id: str, order_id: str) -> AuthorizationRelease | None:
        with self._lock:
            stored = self.releases.get((merchant_id, order_id))
            return None if stored is None else stored.model_copy(deep=True)

    def note_may_finish_order(self, merchant_id: str, order_id: str) -> bool:
        final = False
        with self._lock:
            for (merchant, order, capture_id), capture in self.captures.items():
                if (merchant, order) != (merchant_id, order_id):
                    continue
                if capture.status in (*OPEN_CAPTURE_STATUSES, CaptureStatus.CAPTURED):
                    final = final or capture.releases_authorization
                if capture.status in OPEN_CAPTURE_STATUSES:
                    self.captures[(merchant, order, capture_id)] = capture.model_copy(
                        update={"may_finish_order": True}
                    )
        return final

    def list_open_releases(self, updated_before: datetime) -> list[AuthorizationRelease]:
        with self._lock:
            releases = [
                release.model_copy(deep=True)
                for release in self.releases.values()
                if release.status in OPEN_RELEASE_STATUSES and release.updated_at < updated_before
            ]
        return sorted(releases, key=lambda release: (release.updated_at, release.release_id))
