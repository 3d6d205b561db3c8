"""The small Protocols the domain depends on. Adapters implement them; tests pass fakes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, Protocol

from order_capture.models import Capture, CaptureLine, Model, Order


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OrderRepository(Protocol):
    """The ledger. Every write that guards money is conditional."""

    def get_order(self, merchant_id: str, order_id: str) -> Order | None: ...

    def get_order_and_capture(
        self, merchant_id: str, order_id: str, capture_id: str
    ) -> tuple[Order | None, Capture | None]:
        """Both in one round trip (the hot path reads once)."""
        ...

    def get_capture(self, merchant_id: str, order_id: str, capture_id: str) -> Capture | None: ...

    def list_captures(self, merchant_id: str, order_id: str) -> list[Capture]: ...

    def create_order(self, order: Order) -> Order | None:
        """Store a new order; return the existing one instead if the id is taken."""
        ...

    def replace_order(self, order: Order, expected_version: int) -> None:
        """Write ``order`` if the stored version is still ``expected_version``.

        Raises OrderChangedError otherwise.
        """
        ...

    def reserve(self, order: Order, expected_version: int, capture: Capture) -> Capture | None:
        """Atomically write the reserved ``order`` and the new pending ``capture``.

        Returns None on success, or the capture already stored under that id (nothing is
        written then). Raises OrderChangedError if the order moved past ``expected_version``.
        """
        ...

    def confirm(self, capture: Capture) -> bool:
        """Atomically mark a pending capture captured and move its amount from reserved to
        captured on the order. False if the capture was not pending (already settled)."""
        ...

    def settle_failure(
        self, order: Order | None, expected_version: int | None, capture: Capture
    ) -> bool:
        """Atomically store a failed (or requires_action) ``capture``, and ``order`` (its
        reservation released) if given. False if the capture was already final."""
        ...

    def record_orphan_failure(self, execution_id: str, failure: Model) -> None:
        """Keep a failure that names no order (an event too broken to say whose it is)."""
        ...


class ProviderCaptureRequest(Model):
    authorization_reference: str
    amount: int
    currency: str
    idempotency_key: str
    lines: list[CaptureLine]
    merchant_id: str
    order_id: str


class ProviderCapture(Model):
    provider_reference: str
    amount: int
    currency: str
    status: Literal["succeeded", "pending"]


class PaymentProvider(Protocol):
    """A payment provider that captures authorized payments.

    ``capture`` raises ProviderUnavailableError (nothing captured, safe to retry),
    ProviderDeclinedError (refused, terminal) or CaptureOutcomeUnknownError (sent, no answer).
    """

    name: str

    def capture(self, request: ProviderCaptureRequest) -> ProviderCapture: ...
