"""Releasing the remainder: once an order can capture nothing more, what its authorization has
left is given back at the provider, once, and recorded in the ledger.

When
    An order can capture nothing more when nothing of it is capturable and nothing is reserved
    (``remainder_of``); its authorization then has ``authorized - captured`` left. The release
    runs inside steps that already run, adding no state transition:

    * Record, once it confirmed a capture that was sent as the order's final one
      (``releases_authorization``: it closed every unit with nothing else in flight);
    * the provider's webhook that confirms such a capture (Adyen's asynchronous captures);
    * ``Order Items Canceled`` (event or API), when the cancellation leaves nothing to capture;
    * reconciliation, which asks again for every release left pending (``reconcile_releases``).

Once
    The release record (its id derived from the order, ``models.release_id_for``) is stored,
    pending, before the provider is asked (``begin_release``: only if the order has none): a
    twin execution, a retried step or a second trigger finds it and asks nothing. The provider
    gets the release id as idempotency key (Stripe, Adyen).

Never lost
    A provider call that fails or goes unanswered leaves the record pending with the failure
    noted; so does a crash between the call and the ledger write. Reconciliation asks again,
    with the same key, once the record is older than its grace. A repeated request the
    provider refuses (a provider without idempotency keys, Aplazame, whose first void went
    through; a Stripe key pruned after 24 hours) is recorded released, saying so; a refusal of
    a first request is recorded failed, for an operator.

Stripe (and the sandbox) release the rest themselves when a capture is sent with
``final_capture`` (``provider_units.final_capture_releases_rest``): nothing is sent after such
a capture, and the capture stored with ``releases_authorization`` is the record of it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from order_capture.domain.reconciled import OnItem, ReconciledItem, error_reason
from order_capture.errors import ProviderDeclinedError, ProviderError
from order_capture.models import (
    AuthorizationRelease,
    Capture,
    CaptureStatus,
    FailureReason,
    Model,
    Order,
    ReleaseStatus,
    release_id_for,
)
from order_capture.ports import PaymentProviders, ProviderReleaseRequest, ReleaseLedger
from order_capture.provider_units import units_for

#: Releases younger than this are probably still being sent by the step that began them.
DEFAULT_GRACE = timedelta(minutes=15)


def remainder_of(order: Order) -> int | None:
    """What the order's authorization has left once the order can capture nothing more (all
    its units shipped or canceled, nothing in flight); None while it still can."""
    if order.capturable_amount > 0 or order.reserved_amount > 0:
        return None
    return max(0, order.payment.authorized_amount - order.captured_amount)


def release_remainder(
    ledger: ReleaseLedger,
    providers: PaymentProviders,
    order: Order,
    now: datetime,
) -> AuthorizationRelease | None:
    """Release what ``order``'s authorization has left if the order can capture nothing more;
    the release as recorded (the one stored before, if any), or None when there is nothing to
    release."""
    remaining = remainder_of(order)
    if not remaining:
        return None
    release = AuthorizationRelease(
        release_id=release_id_for(order.merchant_id, order.order_id),
        merchant_id=order.merchant_id,
        order_id=order.order_id,
        provider=order.payment.provider,
        authorization_reference=order.payment.reference,
        amount=remaining,
        currency=order.currency,
        status=ReleaseStatus.PENDING,
        attempts=1,  # counted before it is made: a crash during it leaves it counted
        created_at=now,
        updated_at=now,
    )
    stored = ledger.begin_release(release)
    if stored is not None:
        return stored  # released (or being released) once already: ask nothing
    return _ask_provider(ledger, providers, release, now)


def release_after_capture(
    ledger: ReleaseLedger, providers: PaymentProviders, capture: Capture, now: datetime
) -> AuthorizationRelease | None:
    """After ``capture`` was confirmed: release the order's remainder if the capture was sent
    as the order's final one; None otherwise or when nothing is left.

    At a provider whose final capture released the rest itself (Stripe, the sandbox) nothing
    is sent and nothing more is written: the capture, stored with ``releases_authorization``,
    is the record, and the order is not read again (a capture costs no extra request)."""
    if capture.status is not CaptureStatus.CAPTURED or not capture.releases_authorization:
        return None
    if units_for(capture.provider).final_capture_releases_rest:
        return None
    order = ledger.get_order(capture.merchant_id, capture.order_id)
    if order is None:
        return None
    return release_remainder(ledger, providers, order, now)


def release_quietly(
    release: Callable[[], AuthorizationRelease | None], on_error: Callable[[Exception], None]
) -> AuthorizationRelease | None:
    """Run ``release`` after a step's own work is done (a capture recorded and announced, a
    cancellation made): its failure is that step's no more, so it is handed to ``on_error``
    (logged, alarmed) instead of failing the step. A release stored pending is retried by
    reconciliation; one whose record could not be stored at all (the ledger unavailable at
    that moment) is not, and the authorization lapses at its expiry (docs/guarantees.md)."""
    try:
        return release()
    except Exception as error:  # the step's own outcome stands
        on_error(error)
        return None


def _ask_provider(
    ledger: ReleaseLedger,
    providers: PaymentProviders,
    release: AuthorizationRelease,
    now: datetime,
) -> AuthorizationRelease:
    """Ask the provider to release ``release`` (stored pending, this attempt counted) and
    record what it said; the release as stored after."""
    try:
        providers.provider(release.provider, release.merchant_id).release(
            ProviderReleaseRequest(
                authorization_reference=release.authorization_reference,
                remaining_amount=release.amount,
                currency=release.currency,
                idempotency_key=release.release_id,
                merchant_id=release.merchant_id,
                order_id=release.order_id,
            )
        )
    except ProviderDeclinedError as error:
        if release.attempts > 1:
            # An earlier request may have gone through: nothing is left to release.
            outcome = _settled(
                release,
                ReleaseStatus.RELEASED,
                now,
                error,
                "the provider refused a repeated release: an earlier request released it "
                "(or nothing was left)",
            )
        else:
            outcome = _settled(release, ReleaseStatus.FAILED, now, error)
    except ProviderError as error:
        # Unavailable, unanswered, no credentials: still pending, for reconciliation.
        outcome = _settled(release, ReleaseStatus.PENDING, now, error)
    else:
        outcome = _settled(release, ReleaseStatus.RELEASED, now)
    if ledger.update_release(outcome, ReleaseStatus.PENDING):
        return outcome
    return ledger.get_release(release.merchant_id, release.order_id) or outcome


def _settled(
    release: AuthorizationRelease,
    status: ReleaseStatus,
    now: datetime,
    error: ProviderError | None = None,
    note: str | None = None,
) -> AuthorizationRelease:
    failure = None
    if error is not None:
        message = f"{note}: {error.message}" if note else error.message
        failure = FailureReason(reason=error.reason, message=message, error=type(error).__name__)
    return release.model_copy(update={"status": status, "failure": failure, "updated_at": now})


class ReleaseReport(Model):
    examined: int = 0
    released: int = 0
    failed: int = 0
    still_open: int = 0
    #: Releases whose retry raised: left as they were, for the next run (and alarmed).
    errors: int = 0


def reconcile_releases(
    ledger: ReleaseLedger,
    providers: PaymentProviders,
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
    *,
    on_item: OnItem | None = None,
) -> ReleaseReport:
    """Ask again for every release still pending and older than ``grace`` (its provider call
    failed, went unanswered, or its step died after storing it), with the same key."""
    counts = ReleaseReport().model_dump()
    for release in ledger.list_open_releases(now - grace):
        counts["examined"] += 1
        try:
            retry = release.model_copy(update={"attempts": release.attempts + 1, "updated_at": now})
            if not ledger.update_release(retry, ReleaseStatus.PENDING):
                outcome, reason = "still_open", "settled meanwhile by another run"
            else:
                settled = _ask_provider(ledger, providers, retry, now)
                outcome = {
                    ReleaseStatus.RELEASED: "released",
                    ReleaseStatus.FAILED: "failed",
                    ReleaseStatus.PENDING: "still_open",
                }[settled.status]
                reason = settled.failure.message if settled.failure else "released"
        except Exception as error:  # one release must not stop the others
            outcome, reason = "errors", error_reason(error)
        counts[outcome] += 1
        if on_item is not None:
            on_item(
                ReconciledItem(
                    kind="release",
                    id=release.release_id,
                    merchant_id=release.merchant_id,
                    order_id=release.order_id,
                    provider=release.provider,
                    outcome=outcome,
                    reason=reason,
                )
            )
    return ReleaseReport(**counts)
