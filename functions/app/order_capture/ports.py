"""The small Protocols the domain depends on. Adapters implement them; tests pass fakes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import model_validator

from order_capture.models import (
    AuthorizationRelease,
    Capture,
    CaptureLine,
    CaptureStatus,
    Model,
    Order,
    Refund,
    ReleaseStatus,
)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class WorkflowResult(Model):
    """How a synchronous run of the capture state machine ended (StartSyncExecution)."""

    status: Literal["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
    output: Any = None
    error: str | None = None
    cause: str | None = None


class WorkflowStarter(Protocol):
    """Runs the capture state machine to its end and returns how it ended. On AWS an Express
    workflow started with StartSyncExecution; locally the runtime emulates that."""

    def run(self, execution_input: dict[str, Any], name: str) -> WorkflowResult: ...


class ApiKeyStore(Protocol):
    """API keys of merchants, stored only as SHA-256 digests (a leak of the table leaks no key)."""

    def merchant_for(self, key_digest: str) -> str | None: ...

    def add(self, key_digest: str, merchant_id: str, created_at: datetime) -> None: ...


class ConfirmationState(Model):
    """What the webhook needs to know besides the capture: who waits, what was announced."""

    #: The confirmation workflow's task token; None if none waits (yet, or ever).
    task_token: str | None = None
    #: The capture status last announced (``Payment Captured`` / ``Payment Capture Failed``).
    announced: CaptureStatus | None = None


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
        captured on the order (and, if ``announced``, note it as announced: its confirmer
        announces it). False if the capture was not pending (already settled)."""
        ...

    def settle_failure(
        self,
        order: Order | None,
        expected_version: int | None,
        capture: Capture,
        expected_status: CaptureStatus | None,
    ) -> bool:
        """Atomically store a failed (or requires_action) ``capture``, and ``order`` (its
        reservation released) if given. The stored capture must still be in
        ``expected_status`` (None: not stored yet); False if it moved on."""
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

    def confirmation_state(self, merchant_id: str, capture_id: str) -> ConfirmationState:
        """The task token noted by ``await_confirmation`` and the last outcome announced for
        the capture, read consistently."""
        ...

    def mark_announced(
        self, merchant_id: str, capture_id: str, status: CaptureStatus | None
    ) -> bool:
        """Note that the capture's ``status`` was announced (or is being, by its workflow);
        None takes the marker back (the announcement could not be sent). False, and nothing
        written, for a capture ``reserve`` never made findable (no such capture id)."""
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


class ReleaseLedger(OrderReads, Protocol):
    """Releases of what authorizations have left (domain.releases): one per order."""

    def begin_release(self, release: AuthorizationRelease) -> AuthorizationRelease | None:
        """Store ``release`` if its order has none yet (a pending one is findable by
        ``list_open_releases`` from then on). Returns None on success, or the release already
        stored (nothing is written then)."""
        ...

    def update_release(self, release: AuthorizationRelease, expected: ReleaseStatus) -> bool:
        """Write ``release`` if the stored one is still ``expected``; False if it moved on."""
        ...

    def get_release(self, merchant_id: str, order_id: str) -> AuthorizationRelease | None: ...

    def list_open_releases(self, updated_before: datetime) -> list[AuthorizationRelease]:
        """Releases still pending, last touched before ``updated_before``."""
        ...


class CaptureReconciliation(CaptureConfirmations, OpenCaptures, Protocol):
    """Reconciliation of open captures."""


class RefundReconciliation(RefundLedger, OpenRefunds, Protocol):
    """Reconciliation of open refunds."""


class WebhookLedger(CaptureConfirmations, RefundLedger, Protocol):
    """What a provider's webhook settles: captures and refunds."""


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


class ConfirmationWaiters(Protocol):
    """Completes the workflow task that waits for a provider's confirmation (Step Functions
    SendTaskSuccess / SendTaskFailure with the task token)."""

    def succeed(self, task_token: str, capture: Capture) -> bool:
        """Complete the wait with the captured ``capture`` (the workflow emits its Payment
        Captured detail, ``public_events.payment_captured``). False if nothing waits on the
        token any more (the wait timed out or was completed before)."""
        ...

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        """Fail the wait with ``error`` (an exception class name of ``errors``). False if
        nothing waits on the token any more."""
        ...


class EventPublisher(Protocol):
    """Publishes the service's own events (source ``order-capture``) on the bus."""

    def publish(self, detail_type: str, details: list[Model]) -> None: ...


class ProviderItem(Model):
    """What a provider may show of an order line (Adyen's lineItems): its sku, and its tax as
    a share of its price including tax (``tax_amount`` of ``amount_including_tax``)."""

    sku: str
    tax_amount: int = 0
    amount_including_tax: int = 0

    @property
    def tax_basis_points(self) -> int:
        """The tax rate in hundredths of a percent (2100: 21%), of the price before tax."""
        net = self.amount_including_tax - self.tax_amount
        return (self.tax_amount * 10_000 + net // 2) // net if net > 0 else 0


class ProviderCaptureRequest(Model):
    authorization_reference: str
    amount: int
    currency: str
    idempotency_key: str
    lines: list[CaptureLine]
    #: The order's shipping, when this capture claims it (its first capture of items).
    shipping_amount: int = 0
    #: The order's lines named in ``lines``, by item id.
    items: dict[str, ProviderItem] = {}
    merchant_id: str
    order_id: str
    #: The last capture of the authorization: the provider may release what remains (Stripe's
    #: ``final_capture``). False keeps the rest capturable for later shipments.
    final_capture: bool = False


ProviderStatus = Literal["succeeded", "pending"]
#: A capture's status at the provider; ``failed``: received, then failed (Adyen's
#: ``CAPTURE_FAILED``), as a lookup or a replayed answer may report.
ProviderCaptureStatus = Literal["succeeded", "pending", "failed"]


class ProviderCapture(Model):
    provider_reference: str
    amount: int
    currency: str
    #: ``pending``: the provider received the request and confirms later (Adyen, by webhook).
    status: ProviderCaptureStatus
    #: When the provider says the authorization stops being capturable (Stripe's
    #: ``capture_before``), if it told us.
    authorization_expires_at: datetime | None = None


class ProviderRefundRequest(Model):
    authorization_reference: str
    #: The provider's reference of the capture being refunded (``ProviderCapture``).
    capture_reference: str
    amount: int
    currency: str
    idempotency_key: str
    merchant_id: str
    order_id: str


class ProviderRefund(Model):
    provider_reference: str
    capture_reference: str
    amount: int
    currency: str
    status: ProviderStatus


class ProviderRefundLookup(Model):
    """Find a refund of unknown outcome at a provider without idempotency keys, by elimination:
    among the capture's refunds at the provider, the one the ledger does not know."""

    authorization_reference: str
    capture_reference: str
    amount: int
    currency: str
    #: The provider references of every other refund of the capture the ledger holds.
    known_references: list[str] = []


#: A refund's status at the provider: ``failed`` also stands for Stripe's ``canceled`` (no
#: money moved either way).
ProviderRefundStatus = Literal["succeeded", "pending", "failed"]


class ProviderRefundState(Model):
    """A refund as the provider shows it now, in a webhook's event or by lookup (Stripe)."""

    provider_reference: str
    #: Our refund id (the idempotency key sent), where the provider keeps it (Stripe:
    #: ``metadata.refund_key``); None for a refund made elsewhere.
    reference: str | None = None
    status: ProviderRefundStatus
    #: In the ledger's (ISO 4217) minor units.
    amount: int
    currency: str
    #: The provider's reason for a failure (Stripe's ``failure_reason``).
    reason: str = ""


@runtime_checkable
class RefundStateReader(Protocol):
    """A provider that shows one refund by its reference (Stripe's ``GET /v1/refunds/{id}``):
    reconciliation settles a refund left pending whose webhook never came."""

    def refund_state(self, provider_reference: str) -> ProviderRefundState: ...


@runtime_checkable
class RefundFinder(Protocol):
    """A provider without idempotency keys whose API lists a capture's refunds (Aplazame)."""

    def find_refund(self, lookup: ProviderRefundLookup) -> ProviderRefund | None:
        """The one refund of the capture the ledger does not know, of ``lookup.amount``; None
        if there is none. Raises ProviderLookupUnsupportedError when it cannot tell."""
        ...


class ProviderCaptureLookup(Model):
    """Find a capture by our idempotency key (after an unknown outcome) or by the provider's
    reference. At least one of the two is given."""

    authorization_reference: str
    merchant_id: str
    order_id: str
    idempotency_key: str | None = None
    provider_reference: str | None = None
    #: For providers without idempotency keys (Aplazame), which can only find a capture of
    #: unknown outcome by elimination: its amount, and the provider references of every other
    #: capture of the order the ledger holds.
    amount: int | None = None
    known_references: list[str] = []

    @model_validator(mode="after")
    def _names_a_capture(self) -> ProviderCaptureLookup:
        if self.idempotency_key is None and self.provider_reference is None:
            raise ValueError("give idempotency_key or provider_reference")
        return self


class ProviderReleaseRequest(Model):
    """Give back what an authorization has not captured (final capture done, or void)."""

    authorization_reference: str
    #: What remains authorized and uncaptured, per the ledger: providers that void by amount
    #: (Aplazame) need it; the others release whatever is left.
    remaining_amount: int
    currency: str
    idempotency_key: str
    merchant_id: str
    order_id: str


class ProviderRelease(Model):
    authorization_reference: str
    status: ProviderStatus


class ProviderNotification(Model):
    """What a provider's webhook says about one of our captures or refunds, in no provider's
    words: each adapter reads its own wire format into this (Adyen:
    ``adapters.adyen.notification_of``), and the domain settles the ledger from it
    (``domain.provider_webhooks``)."""

    subject: Literal["capture", "refund"]
    #: ``reversed``: the provider undid what it had confirmed (Adyen ``REFUNDED_REVERSED``:
    #: the refunded money came back to the merchant).
    outcome: Literal["succeeded", "failed", "reversed"]
    #: The reference we sent: our capture or refund id (the idempotency key).
    reference: str
    #: The provider's reference of the capture or refund.
    provider_reference: str = ""
    #: The provider's name for the event, for logs and the ledger's messages.
    event: str
    #: The provider's own explanation, if it gave one.
    reason: str = ""

    @property
    def about_refund(self) -> bool:
        return self.subject == "refund"

    @property
    def succeeded(self) -> bool:
        return self.outcome == "succeeded"


class PaymentProvider(Protocol):
    """A payment provider: captures authorized payments, refunds captures, finds them again
    and releases what an authorization has left.

    Every call raises ProviderUnavailableError (nothing done, safe to retry),
    ProviderDeclinedError or a subclass (refused, terminal: expired authorization,
    over-capture), ProviderNotConfiguredError (credentials) or CaptureOutcomeUnknownError (sent,
    no answer: a retry is safe only with the same idempotency key).
    """

    name: str
    #: Whether a capture sent again with the same idempotency key is answered with the first
    #: one instead of capturing again.
    idempotent_captures: bool

    def capture(self, request: ProviderCaptureRequest) -> ProviderCapture: ...

    def refund(self, request: ProviderRefundRequest) -> ProviderRefund: ...

    def find_capture(self, lookup: ProviderCaptureLookup) -> ProviderCapture | None:
        """The capture, or None if the provider has no such capture. Raises
        ProviderLookupUnsupportedError if the provider cannot answer this kind of lookup."""
        ...

    def release(self, request: ProviderReleaseRequest) -> ProviderRelease: ...


class PaymentProviders(Protocol):
    """Finds the adapter of an order's provider, with the merchant's credentials (the API
    calls providers directly for refunds, not through the state machine)."""

    def provider(self, name: str, merchant_id: str) -> PaymentProvider: ...


class WebhookKeys(Protocol):
    """The key a merchant's provider signs its webhooks with (Adyen: the HMAC key, hex;
    Stripe: the endpoint's signing secret, ``whsec_...``)."""

    def webhook_hmac_key(self, merchant_id: str, provider: str) -> str | None: ...

    def webhook_secret(self, merchant_id: str, provider: str) -> str | None: ...
