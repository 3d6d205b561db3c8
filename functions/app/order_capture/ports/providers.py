"""Payment providers' port: what the domain asks of a provider and the provider-neutral
models it passes and gets back (each provider's wire format lives in its adapter)."""

from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from pydantic import model_validator

from order_capture.models import (
    CaptureLine,
    Model,
)


class ProviderItem(Model):
    """What a provider may show of an order line (Adyen's lineItems): its sku and name, and
    its tax as a share of its price including tax (``tax_amount`` of
    ``amount_including_tax``) at the rate the shop recorded, if it did."""

    sku: str
    name: str | None = None
    tax_amount: int = 0
    amount_including_tax: int = 0
    #: The shop's own rate, in basis points (``OrderLineIn.tax_rate``).
    tax_rate: int | None = None

    @property
    def description(self) -> str:
        """What a customer reads of the line: its product's name, else its sku."""
        return self.name or self.sku

    @property
    def tax_basis_points(self) -> int:
        """The tax rate in hundredths of a percent (2100: 21%), of the price before tax: the
        shop's, exactly, where it recorded one; else recovered from the amounts (see
        ``tax_rate_of``)."""
        if self.tax_rate is not None:
            return self.tax_rate
        return tax_rate_of(self.tax_amount, self.amount_including_tax - self.tax_amount)


#: Rates merchants record, coarsest first: whole, half and quarter percents, then tenths,
#: twentieths and hundredths of a percent (basis points).
_RATE_STEPS = (100, 50, 25, 10, 5, 1)


def tax_rate_of(tax: int, net: int) -> int:
    """The tax rate, in basis points, that ``tax`` on ``net`` (both rounded minor units) was
    computed at: of the rates within one minor unit of the tax (any rounding, of a
    tax-exclusive or a tax-inclusive price), the coarsest (a whole percent before a half
    percent, ...), nearest the quotient among those. The amounts alone cannot tell 21% from
    20.99%: ``tax / net`` would give 2099 for 1388 of 6612, which is 21% of 8000 with tax.
    A rate in whole ``step`` basis points comes back exactly when ``net * step`` is at least
    20000 (a whole percent from 2.00 EUR before tax)."""
    if tax <= 0 or net <= 0:
        return 0
    scaled = tax * 10_000
    # Rates r with |tax - net * r / 10000| < 1 minor unit, at least 1 (there is a tax).
    low = max(1, (scaled - 10_000) // net + 1)
    high = -(-(scaled + 10_000) // net) - 1
    for step in _RATE_STEPS:
        first = -(-low // step) * step
        if first <= high:
            return min(range(first, high + 1, step), key=lambda rate: abs(rate * net - scaled))
    return max(1, (2 * scaled + net) // (2 * net))


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
    #: The refunded capture as it was sent (``ProviderCaptureRequest``): its amount, lines,
    #: shipping and items, so that a provider may show the refunded items (Adyen's lineItems).
    capture_amount: int = 0
    lines: list[CaptureLine] = []
    shipping_amount: int = 0
    items: dict[str, ProviderItem] = {}
    #: The amounts of the capture's earlier refunds that moved or hold money, oldest first:
    #: a provider that shows the refunded items replays them, so that no line is shown
    #: refunded twice (Adyen's lineItems).
    earlier_refund_amounts: list[int] = []
    #: When the ledger reserved the refund (before it was first sent): a provider that looks
    #: the refund up before sending it (Stripe) need read only what was made since.
    reserved_at: datetime | None = None


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


class IntentRefunds(Model):
    """What a provider shows of one authorization's refunds, wherever they were made (Stripe:
    the PaymentIntent's metadata and ``GET /v1/refunds?payment_intent=``)."""

    authorization_reference: str
    #: Our idempotency keys of the captures made on the authorization (Stripe keeps them in
    #: the intent's metadata, ``capture_<key>``): how the ledger's order is found.
    capture_keys: list[str]
    refunds: list[ProviderRefundState]


@runtime_checkable
class IntentRefundsReader(Protocol):
    """A provider that lists every refund of an authorization, including those made in its
    dashboard or by API outside this service (Stripe)."""

    def intent_refunds(self, authorization_reference: str) -> IntentRefunds: ...


class ListedCapture(Model):
    """One capture of an authorization as the provider lists it, with every refund of it,
    wherever it was made (Aplazame's ``GET /orders/{id}/captures``: its back office too)."""

    provider_reference: str
    #: In the ledger's (ISO 4217) minor units, as every amount here.
    amount: int
    #: Its refunds, all made (Aplazame's refunds are synchronous).
    refunds: list[ProviderRefundState] = []
    #: What the provider counts as refunded: at least the sum of ``refunds``.
    refunded_amount: int = 0

    @property
    def refundable_amount(self) -> int:
        """What the provider would still refund of this capture."""
        return max(0, self.amount - self.refunded_amount)


@runtime_checkable
class CaptureRefundsReader(Protocol):
    """A provider that lists an authorization's captures with their refunds, those made in
    its back office included, and sends no webhook for those (Aplazame): the ledger reads the
    list before a refund of ours and in reconciliation (``domain.listed_refunds``)."""

    def listed_captures(self, authorization_reference: str, currency: str) -> list[ListedCapture]:
        """Raises ProviderError when the list cannot be had or read."""
        ...


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
    def _names_a_capture(self) -> "ProviderCaptureLookup":
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
    """What a provider's webhook says about one of our captures, refunds or releases, in no
    provider's words: each adapter reads its own wire format into this (Adyen:
    ``adapters.adyen.notification_of``), and the domain settles the ledger from it
    (``domain.provider_webhooks``)."""

    subject: Literal["capture", "refund", "release"]
    #: ``reversed``: the provider undid what it had confirmed (Adyen ``REFUNDED_REVERSED``:
    #: the refunded money came back to the merchant).
    outcome: Literal["succeeded", "failed", "reversed"]
    #: The reference we sent: our capture, refund or release id (the idempotency key).
    reference: str
    #: The provider's reference of the capture or refund.
    provider_reference: str = ""
    #: The provider's name for the event, for logs and the ledger's messages.
    event: str
    #: The provider's own explanation, if it gave one.
    reason: str = ""
    #: The amount the provider reports, in its own units (the domain converts it with the
    #: order's provider's units), and its currency; None where it gives none.
    provider_amount: int | None = None
    currency: str | None = None
    #: The authorization the capture or refund belongs to (Adyen ``originalReference``):
    #: what proves a refund made in the provider's dashboard is of a given order.
    authorization_reference: str | None = None

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
