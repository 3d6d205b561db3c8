"""One exception hierarchy for the whole service.

Class names are the ``ErrorEquals`` names in ``statemachine/capture.asl.json``: a handler that
raises ``ProviderUnavailableError`` fails its Lambda invocation with that ``errorType`` and the
state machine's ``Retry`` matches it by name. Retryable and terminal errors are distinct classes.
"""

from __future__ import annotations

from typing import Any, ClassVar


class OrderCaptureError(Exception):
    """Base of every error the service raises on purpose."""

    #: Machine-readable reason recorded in the ledger and on failure events.
    reason: ClassVar[str] = "error"
    #: Whether the state machine retries the step that raised it.
    retryable: ClassVar[bool] = False
    #: True when this refusal is recorded in the ledger under the request's own id (a failed
    #: capture or refund): from then on it is that request's answer (see api/idempotency.py).
    recorded: bool = False

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str]:
        body = {"reason": self.reason, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


# --- Input errors (terminal) -------------------------------------------------------------


class InvalidEventError(OrderCaptureError):
    """An event or request is malformed; ``field`` names the offending field (the first, when
    several are: ``fields`` names each one with what is wrong with it)."""

    reason = "invalid_event"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        fields: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message, field=field)
        if not fields and field is not None:
            fields = ((field, message),)
        self.fields = fields


class InvalidAmountError(InvalidEventError):
    reason = "invalid_amount"


class UnsupportedCurrencyError(InvalidEventError):
    reason = "unsupported_currency"


# --- Domain state errors (terminal) ------------------------------------------------------


class OrderNotFoundError(OrderCaptureError):
    reason = "order_not_found"


class InvalidStateError(OrderCaptureError):
    """The order cannot do what was asked in its current state (e.g. nothing left)."""

    reason = "invalid_state"


class OrderConflictError(InvalidStateError):
    """An order was registered again with different content."""

    reason = "order_conflict"


class OverCaptureError(InvalidStateError):
    """The capture would exceed what is authorized or capturable."""

    reason = "over_capture"


class SingleCaptureOrderError(InvalidStateError):
    """The order's authorization takes one capture only (``payment.single_capture``:
    Aplazame's "pay in 15 days") and this capture would not take everything that remains:
    refused before anything is reserved or sent; ship the rest of the order at once."""

    reason = "single_capture_order"


class OverRefundError(InvalidStateError):
    """The refund would exceed what the capture has left to refund."""

    reason = "over_refund"


class AuthorizationExpiredError(OrderCaptureError):
    reason = "authorization_expired"


# --- Concurrency (retryable by re-planning) ----------------------------------------------


class OrderChangedError(OrderCaptureError):
    """The order changed between planning and reserving; the plan must be made again."""

    reason = "order_changed"
    retryable = True


# --- Payment provider errors ---------------------------------------------------------------


class ProviderError(OrderCaptureError):
    reason = "provider_error"
    #: The provider's parsed error answer, for the adapter that must read more of it (never
    #: put in messages: it may be long).
    provider_body: dict[str, Any] | None = None


class ProviderUnavailableError(ProviderError):
    """The provider could not be reached or answered 5xx/429: safe to retry with the same key."""

    reason = "provider_unavailable"
    retryable = True


class ProviderDeclinedError(ProviderError):
    """The provider refused the capture (declined, over-capture, expired authorization)."""

    reason = "provider_declined"


class ProviderAuthorizationExpiredError(ProviderDeclinedError):
    """The provider says the authorization can no longer be captured (expired or voided)."""

    reason = "authorization_expired"


class ProviderOverCaptureError(ProviderDeclinedError):
    """The provider refused an amount above what the authorization (or capture) has left."""

    reason = "over_capture"


class ProviderMulticaptureUnavailableError(ProviderDeclinedError):
    """The provider cannot capture this authorization in parts (Stripe: the card's
    ``multicapture.status`` is not ``available``), and this capture is not the whole of what
    remains: refused before anything was sent, so the rest of the authorization is kept. The
    shipment's units stay capturable; a capture of everything that remains can still succeed."""

    reason = "multicapture_unavailable"


class ProviderPartialCaptureRefusedError(ProviderDeclinedError):
    """The provider failed a capture made after another partial capture of the same payment,
    as a provider that cancels what a partial capture leaves does (Adyen, unless the merchant
    account allows multiple partial captures): the units are capturable again, and the
    reason tells an operator which account setting to check."""

    reason = "partial_capture_not_allowed"


class ProviderRefundReversedError(ProviderDeclinedError):
    """The provider undid a refund it had made (Adyen ``REFUNDED_REVERSED``: the refunded money
    came back to the merchant): the refund is counted back and the capture refundable again."""

    reason = "refund_reversed"


class ProviderLookupUnsupportedError(ProviderError):
    """The provider's API cannot answer this lookup (e.g. no idempotency keys, or results only
    by webhook): reconcile from the provider's dashboard or webhooks instead."""

    reason = "lookup_unsupported"


class ProviderNotConfiguredError(ProviderError):
    """No adapter or credentials for the order's provider: an operator must act."""

    reason = "provider_not_configured"


class OutcomeUnknownNotRetryableError(ProviderError):
    """Sent to a provider that takes no idempotency key (Aplazame's captures), and no clear
    answer came back. Repeating the request could capture twice, so it is not retried: the
    capture stays reserved as requires_action until reconciliation or a person settles it."""

    reason = "outcome_unknown"


class CaptureNotFoundAtProviderError(ProviderError):
    """Reconciliation asked the provider, which has no capture under our idempotency key."""

    reason = "not_captured"


class CaptureOutcomeUnknownError(ProviderError):
    """The request may have reached the provider but no answer came back (timeout)."""

    reason = "outcome_unknown"
    retryable = True


class ConfirmationNotAwaitedError(OrderCaptureError):
    """The provider received a capture it confirms later, but the confirmation workflow that
    waits for its word could not be started (Record's step). Never released: the capture
    stays pending (reserved), its webhook still settles the ledger; the execution fails as
    ConfirmationNotAwaited (alarmed)."""

    reason = "confirmation_not_awaited"
    retryable = True


class AnnouncedBySettlerError(OrderCaptureError):
    """Not a failure: the confirmation wait's capture was settled before the wait noted its
    task token, and its settler (the webhook, reconciliation, an operator) announced it. The
    AwaitConfirmation function completes the wait with this error (SendTaskFailure), so that
    the workflow ends without announcing it a second time (AnnouncedBySettler)."""

    reason = "announced_by_settler"


class CaptureNotYetRecordedError(OrderCaptureError):
    """A provider's webhook names one of our captures before the ledger noted it as awaiting
    the provider (the Capture step is still writing): the provider must deliver it again.
    Not retried by the state machine (it never raises it): the provider retries."""

    reason = "capture_not_yet_recorded"


# --- Infrastructure --------------------------------------------------------------------------


class LedgerUnavailableError(OrderCaptureError):
    """DynamoDB throttled or failed transiently."""

    reason = "ledger_unavailable"
    retryable = True


class AnnouncementFailedError(OrderCaptureError):
    """A settled capture's event could not be sent (EventBridge refused or failed). The
    ledger is right; the step is retried to announce it."""

    reason = "announcement_failed"
    retryable = True


def proves_nothing_was_captured(error_type: str) -> bool:
    """Whether a step failing with ``error_type`` proves the provider holds no capture.

    Only the provider's own word does: its refusal (a decline, an expired authorization, an
    over-capture) or, asked by reconciliation, that it has no capture under our key. With the
    same idempotency key, a provider that had captured on an earlier
    attempt would have answered with that capture instead. Anything else (unavailable after
    retries, a ledger error, a Lambda crash or timeout, an unknown outcome) may follow an
    earlier attempt that did reach the provider, so a reservation is then kept as
    requires_action for reconciliation to settle by asking the provider.
    """
    error_class = globals().get(error_type)
    return isinstance(error_class, type) and issubclass(
        error_class, ProviderDeclinedError | CaptureNotFoundAtProviderError
    )
