"""The ledger's ports: one per use case's need (OrderReads, Orders, CaptureLedger, ...), and
``OrderRepository``, the whole ledger the wiring builds."""

from datetime import datetime
from typing import Protocol

from order_capture.models import (
    AuthorizationRelease,
    Capture,
    CaptureStatus,
    Model,
    Order,
    Refund,
    ReleaseStatus,
)


class ConfirmationState(Model):
    """What the webhook needs to know besides the capture: who waits, what was announced."""

    #: The confirmation workflow's task token; None if none waits (yet, or ever).
    task_token: str | None = None
    #: The capture status last announced (``Payment Captured`` / ``Payment Capture Failed``).
    announced: CaptureStatus | None = None
    #: Who holds that note (``history.announcer_for``); None for a note of the former layout.
    announced_by: str | None = None


class OrderReads(Protocol):
    """Reads of orders and their captures, consistent (what every use case starts from)."""

    def get_order(self, merchant_id: str, order_id: str) -> Order | None: ...

    def get_order_and_capture(
        self, merchant_id: str, order_id: str, capture_id: str
    ) -> tuple[Order | None, Capture | None]:
        """Both in one round trip (the hot path reads once)."""
        ...

    def get_capture(self, merchant_id: str, order_id: str, capture_id: str) -> Capture | None: ...

    def list_captures(self, merchant_id: str, order_id: str) -> list[Capture]: ...


class Orders(OrderReads, Protocol):
    """Registering orders and rewriting them (cancellations)."""

    def create_order(self, order: Order) -> Order | None:
        """Store a new order; return the existing one instead if the id is taken."""
        ...

    def replace_order(self, order: Order, expected_version: int) -> None:
        """Write ``order`` if the stored version is still ``expected_version``.

        Raises OrderChangedError otherwise.
        """
        ...


class CaptureLedger(OrderReads, Protocol):
    """What the capture workflow's steps write: reserve, confirm or release a capture."""

    def reserve(self, order: Order, expected_version: int, capture: Capture) -> Capture | None:
        """Atomically write the reserved ``order`` and the new pending ``capture`` (findable
        from then on by ``find_capture``).

        Returns None on success, or the capture already stored under that id (nothing is
        written then). Raises OrderChangedError if the order moved past ``expected_version``.
        """
        ...

    def confirm(self, capture: Capture, *, announced: bool = False) -> bool:
        """Atomically mark a pending capture captured and move its amount from reserved to
        captured on the order (and, if ``announced``, note it as announced, held by
        ``history.announcer_for(capture.execution_id)``: its confirmer announces it). False
        if the capture was not pending (already settled), or if it was
        noted as one whose confirmation may finish the order (``note_may_finish_order``) and
        ``capture`` does not say so: its confirmer then confirms it as such, and releases."""
        ...

    def settle_failure(
        self,
        order: Order | None,
        expected_version: int | None,
        capture: Capture,
        expected_status: CaptureStatus | None,
        *,
        announced: bool = False,
    ) -> bool:
        """Atomically store a failed (or requires_action) ``capture``, and ``order`` (its
        reservation released) if given. The stored capture must still be in
        ``expected_status`` (None: not stored yet); False if it moved on. ``announced``
        (only for a capture ``reserve`` made findable): note its status as announced in the
        same write, as ``confirm`` does."""
        ...

    def await_provider(self, capture: Capture) -> None:
        """Note that the provider received pending ``capture`` and confirms it later: store its
        ``provider_reference`` and ``status_at_provider``, if it is still pending."""
        ...

    def record_orphan_failure(self, execution_id: str, failure: Model) -> None:
        """Keep a failure that names no order (an event too broken to say whose it is)."""
        ...


class CaptureConfirmations(CaptureLedger, Protocol):
    """Captures a provider confirms later (its webhook): find them by id alone, the waiting
    workflow's task token, the outcome announced."""

    def find_capture(self, merchant_id: str, capture_id: str) -> Capture | None:
        """A capture by merchant and capture id alone (what a provider's webhook names),
        without knowing its order: ``reserve`` makes every capture findable."""
        ...

    def await_confirmation(self, capture: Capture, task_token: str) -> bool:
        """Atomically note the task token of the workflow waiting for the provider to confirm
        ``capture``, if the stored capture is still pending. False if it was settled already
        (the provider's webhook came first)."""
        ...

    def confirmation_state(
        self, merchant_id: str, order_id: str, capture_id: str
    ) -> ConfirmationState:
        """The task token noted by ``await_confirmation`` and the last outcome announced for
        the capture, read consistently."""
        ...

    def claim_announcement(
        self,
        merchant_id: str,
        order_id: str,
        capture_id: str,
        status: CaptureStatus,
        announcer: str | None = None,
    ) -> bool:
        """Note that the capture's ``status`` is being announced (by ``announcer``), if it is
        not noted already (conditional: of two callers, one gets True). False, and nothing
        written, over a ``failed`` note (failed is final: a success read before its reversal
        is stale) and for a capture ``reserve`` never made findable (no such capture id)."""
        ...

    def is_announcer(
        self,
        merchant_id: str,
        order_id: str,
        capture_id: str,
        status: CaptureStatus,
        announcer: str,
    ) -> bool:
        """Whether the note says ``status`` is announced by ``announcer`` (the holder its
        settling write or its claim noted), read consistently: is the note mine."""
        ...

    def withdraw_announcement(
        self, merchant_id: str, order_id: str, capture_id: str, status: CaptureStatus
    ) -> bool:
        """Take back the note that ``status`` is being announced (its announcement could not
        be sent), if that is still the note; False if it is not."""
        ...

    def take_over_announcement(
        self, capture: Capture, *, holder: str, announcer: str, now: datetime
    ) -> bool:
        """Make ``announcer`` the holder of the note that ``capture``'s status is being
        announced, if ``holder`` still holds it, the capture was last touched at its
        ``updated_at`` (as read) and is still among the captures to announce; the capture
        is touched ``now`` (a lease: a run that read it before, or lists it within its
        grace, does not relieve this one). Of two runs relieving the same dead settler, one
        gets True."""
        ...

    def hand_over_announcement(self, capture: Capture, holder: str) -> bool:
        """Put ``capture``, captured, among the captures to announce, its note (if its own
        execution's Record still holds it, or nobody does) now held by ``holder``: Record
        gave up on announcing it. False, and nothing written, if somebody else holds the
        note, it is not captured, or it is among them already."""
        ...

    def announcement_sent(self, merchant_id: str, order_id: str, capture_id: str) -> None:
        """The announcement of a capture settled by a settler nothing retries (reconciliation,
        an operator: ``history.kept_open_until_announced``) was sent: the capture leaves the
        captures to announce (``list_unannounced``). Nothing if it is not among them."""
        ...


class RefundLedger(OrderReads, Protocol):
    """Refunds of captures: reserve, note, settle; each write conditional on the refund's
    status (and, to reserve, on the capture's refund totals)."""

    def list_refunds(
        self, merchant_id: str, order_id: str, capture_id: str | None = None
    ) -> list[Refund]:
        """The refunds of one capture, or of every capture of the order, oldest first."""
        ...

    def reserve_refund(self, capture: Capture, refund: Refund) -> Refund | None:
        """Atomically store the new pending ``refund`` and add its amount to the capture's
        ``refund_pending_amount``, if the stored capture is still captured with the refund
        totals of ``capture`` (raises OrderChangedError otherwise). Returns None on success,
        or the refund already stored under that id (nothing is written then)."""
        ...

    def confirm_refund(self, refund: Refund) -> bool:
        """Atomically mark a pending refund refunded and move its amount from the capture's
        pending to its refunded amount and into the order's refunded amount. False if the
        refund was not pending."""
        ...

    def await_refund(self, refund: Refund) -> None:
        """Note that the provider received pending ``refund`` and confirms it later: store its
        ``provider_reference`` and make it findable by merchant and refund id alone (what a
        provider's webhook names) for ``find_refund``."""
        ...

    def find_refund(self, merchant_id: str, refund_id: str) -> Refund | None:
        """A refund noted by ``await_refund``, without knowing its order or capture."""
        ...

    def reverse_refund(self, refund: Refund) -> bool:
        """Atomically mark a refunded refund failed (``refund.failure``: the provider failed it
        after all) and take its amount back out of the capture's and the order's refunded
        amounts. False if the refund was not refunded."""
        ...

    def fail_refund(self, refund: Refund) -> bool:
        """Atomically mark a pending refund failed (``refund.failure``) and give its amount back
        to what the capture can refund. False if the refund was not pending."""
        ...


class OpenCaptures(Protocol):
    """The captures reconciliation looks at."""

    def list_open_captures(self, updated_before: datetime) -> list[Capture]:
        """Captures still pending or requires_action, last touched before ``updated_before``."""
        ...

    def list_unannounced(self, updated_before: datetime) -> list[Capture]:
        """Captures settled before ``updated_before`` by a settler nothing retries whose
        announcement was not sent (``announcement_sent``): it died, or PutEvents failed,
        after its settling write."""
        ...


class OpenRefunds(Protocol):
    """The refunds reconciliation looks at."""

    def list_open_refunds(self, updated_before: datetime) -> list[Refund]:
        """Refunds still pending, last touched before ``updated_before``."""
        ...


class ExpiringOrders(Protocol):
    """The orders the expiry sweep warns about."""

    def list_orders_expiring_before(self, moment: datetime) -> list[Order]:
        """Orders with money still to capture whose authorization expires before ``moment``."""
        ...

    def expiring_orders_page(
        self, moment: datetime, after: str | None, limit: int
    ) -> tuple[list[Order], str | None]:
        """At most ``limit`` index entries' orders of ``list_orders_expiring_before``, from
        where the opaque cursor ``after`` left off (None: the start), and the cursor of the
        next page (None: that was the last)."""
        ...

    def leave_expiry_index(self, order: Order) -> bool:
        """Take ``order`` out of the expiry index, if it is still at ``order.version``."""
        ...

    def sweep_cursor(self) -> str | None:
        """Where the last expiry sweep stopped (None: it finished its pass)."""
        ...

    def save_sweep_cursor(self, cursor: str | None) -> None: ...


class ReleaseLedger(OrderReads, Protocol):
    """Releases of what authorizations have left (domain.releases): one per order."""

    def begin_release(self, release: AuthorizationRelease) -> AuthorizationRelease | None:
        """Store ``release`` if its order has none yet (a pending one is findable by
        ``list_open_releases`` from then on, and by ``find_release`` by its id). Returns None
        on success, or the release already stored (nothing is written then)."""
        ...

    def find_release(self, merchant_id: str, release_id: str) -> AuthorizationRelease | None:
        """The merchant's release by its id (the reference a provider's webhook names)."""
        ...

    def update_release(
        self,
        release: AuthorizationRelease,
        expected: ReleaseStatus,
        *,
        expected_attempts: int | None = None,
    ) -> bool:
        """Write ``release`` if the stored one is still ``expected`` (and, given
        ``expected_attempts``, still at that many attempts: two runs retrying the same
        pending release, one wins); False if it moved on."""
        ...

    def get_release(self, merchant_id: str, order_id: str) -> AuthorizationRelease | None: ...

    def list_open_releases(self, updated_before: datetime) -> list[AuthorizationRelease]:
        """Releases still pending, last touched before ``updated_before``."""
        ...

    def note_may_finish_order(self, merchant_id: str, order_id: str) -> bool:
        """Note on every capture of the order still in flight that its confirmation may finish
        the order (``Capture.may_finish_order``): a release waits for them. True when one of
        them, or a capture confirmed already, was sent as the order's final capture
        (``Capture.releases_authorization``)."""
        ...


class CaptureReconciliation(CaptureConfirmations, OpenCaptures, Protocol):
    """Reconciliation of open captures."""


class RefundReconciliation(RefundLedger, OpenRefunds, Protocol):
    """Reconciliation of open refunds."""


class WebhookLedger(CaptureConfirmations, RefundLedger, ReleaseLedger, Protocol):
    """What a provider's webhook settles: captures, refunds and releases."""


class RecordLedger(CaptureConfirmations, ReleaseLedger, Protocol):
    """Record: confirm and announce a capture, then release what its authorization has left."""


class OrderEventsLedger(Orders, ReleaseLedger, Protocol):
    """The order events: register an order, cancel items and release what is left."""


class ReconcileLedger(CaptureReconciliation, RefundReconciliation, ReleaseLedger, Protocol):
    """Reconcile: open captures, open refunds and releases left pending."""


class ApiLedger(WebhookLedger, Orders, ReleaseLedger, Protocol):
    """The API's routes: orders, captures and refunds, the webhooks' settling and releases."""


class OrderRepository(
    Orders,
    CaptureConfirmations,
    RefundLedger,
    OpenCaptures,
    OpenRefunds,
    ExpiringOrders,
    ReleaseLedger,
    Protocol,
):
    """The whole ledger (what the wiring builds; each use case asks for the ports above it
    needs). Every write that guards money is conditional."""
