"""Releasing the remainder: once an order can capture nothing more, what its authorization has
left is given back at the provider, once, and recorded in the ledger.

When
    An order can capture nothing more when nothing of it is capturable and nothing is reserved
    (``remainder_of``); its authorization then has ``authorized - captured`` left. The release
    runs inside steps that already run, adding no state transition:

    * Record, once it confirmed a capture that was sent as the order's final one
      (``releases_authorization``: it left nothing capturable, the last unit shipped or the
      rest captured by amount, with nothing else in flight), or one that was reserved while
      another capture was in flight (``may_finish_order``: it may be the last confirmed; the
      order is read to tell);
    * the provider's webhook that confirms such a capture (Adyen's asynchronous captures);
    * ``Order Items Canceled`` (event or API), when the cancellation leaves nothing to capture;
    * reconciliation, after confirming a capture, and for every release left pending or
      ``waiting`` (``reconcile_releases``).

    A step that closes the order (nothing capturable) while captures are still in flight
    stores the release ``waiting`` and notes those captures as ones whose confirmation may
    finish the order: the confirmer that finds none in flight any more carries it out (a
    capture reserved alone and not so noted does not read the order when it is confirmed, so
    that a partial capture costs no extra ledger request); reconciliation is the backstop.

Once
    The release record (its id derived from the order, ``models.release_id_for``) is stored,
    pending, before the provider is asked (``begin_release``: only if the order has none): a
    twin execution, a retried step or a second trigger finds it and asks nothing. The provider
    gets the release id as idempotency key (Stripe, Adyen).

Never lost
    A provider call that fails or goes unanswered leaves the record pending with the failure
    noted; so does a crash between the call and the ledger write. Reconciliation asks again,
    with the same key, once the record is older than its grace, after counting the attempt in
    a write conditional on the attempt it read (two runs at once: one asks). A repeated request the
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

from order_capture.domain.reconciled import (
    HasTime,
    OnItem,
    ReconciledItem,
    error_reason,
    out_of_time,
)
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
from order_capture.ports import (
    PaymentProviders,
    ProviderNotification,
    ProviderReleaseRequest,
    ReleaseLedger,
)
from order_capture.provider_units import units_for

#: Releases younger than this are probably still being sent by the step that began them.
DEFAULT_GRACE = timedelta(minutes=15)


def remainder_of(order: Order) -> int | None:
    """What the order's authorization has left once the order can capture nothing more (all
    its units shipped or canceled, nothing in flight); None while it still can."""
    if order.capturable_amount > 0 or order.reserved_amount > 0:
        return None
    return max(0, order.payment.authorized_amount - order.captured_amount)


def closed_in_flight(order: Order) -> bool:
    """Nothing capturable is left, but captures are still in flight: the order is finished
    once they are confirmed (or capturable again if one fails)."""
    return order.capturable_amount <= 0 and order.reserved_amount > 0


def release_remainder(
    ledger: ReleaseLedger,
    providers: PaymentProviders,
    order: Order,
    now: datetime,
    *,
    send: bool = True,
) -> AuthorizationRelease | None:
    """Release what ``order``'s authorization has left if the order can capture nothing more;
    the release as recorded (the one stored before, if any), or None when there is nothing to
    release. An order closed with captures still in flight gets a ``waiting`` release, which
    the confirmer that finds none left in flight (or reconciliation) carries out. Not
    ``send``: stored pending, not yet attempted (``attempts`` 0), for reconciliation to send
    (a caller with no time left to ask the provider)."""
    remaining = remainder_of(order)
    if remaining is None:
        return _wait(ledger, providers, order, now) if closed_in_flight(order) else None
    if not remaining:
        return None
    release = _release(order, remaining, ReleaseStatus.PENDING, now)
    if not send:
        release = release.model_copy(update={"attempts": 0})
    stored = ledger.begin_release(release)
    if stored is not None and stored.status is ReleaseStatus.WAITING:
        # It waited for the captures in flight, which are confirmed now: this one sends it.
        if not ledger.update_release(release, ReleaseStatus.WAITING):
            return ledger.get_release(order.merchant_id, order.order_id)
        stored = None
    if stored is not None:
        return stored  # released (or being released) once already: ask nothing
    if not send:
        return release  # pending: reconciliation sends it (``reconcile_releases``)
    return _ask_provider(ledger, providers, release, now)


def _release(
    order: Order, amount: int, status: ReleaseStatus, now: datetime
) -> AuthorizationRelease:
    return AuthorizationRelease(
        release_id=release_id_for(order.merchant_id, order.order_id),
        merchant_id=order.merchant_id,
        order_id=order.order_id,
        provider=order.payment.provider,
        authorization_reference=order.payment.reference,
        amount=amount,
        currency=order.currency,
        status=status,
        # Counted before it is made: a crash during it leaves it counted. None yet if waiting.
        attempts=1 if status is ReleaseStatus.PENDING else 0,
        created_at=now,
        updated_at=now,
    )


def _wait(
    ledger: ReleaseLedger, providers: PaymentProviders, order: Order, now: datetime
) -> AuthorizationRelease | None:
    """Store the ``waiting`` release of ``order`` (closed, captures in flight), whose amount
    is what the authorization will have left if they are all confirmed; the one stored
    before instead, if any.

    Every capture still in flight is first noted as one whose confirmation may finish the
    order (``note_may_finish_order``): its confirmer, told so by the ledger, reads the order
    and releases at once (domain.service._confirm). The note comes before the release is
    stored so that a step dying between the two writes leaves that confirmer to release (it
    stores the release itself), not a waiting release nobody is told of until reconciliation;
    a note that fails still stores the waiting release, which reconciliation carries out.
    A capture confirmed before the note was written is seen by reading the order again after
    it: this step then releases itself. Either way the conditional ``waiting`` -> ``pending``
    write lets one of them send it."""
    left = order.payment.authorized_amount - order.captured_amount - order.reserved_amount
    if left <= 0:
        return None  # the captures in flight take all the authorization has: nothing to wait for
    waiting = _release(order, left, ReleaseStatus.WAITING, now)
    try:
        final_in_flight = ledger.note_may_finish_order(order.merchant_id, order.order_id)
    except Exception:
        ledger.begin_release(waiting)  # stored all the same: reconciliation's backstop
        raise
    if final_in_flight and units_for(order.payment.provider).final_capture_releases_rest:
        # A capture was sent final (alone in flight): confirmed (now or since the order was
        # read), it released the rest itself, and a release stored now would be sent after
        # it (issue 12, defect 12); failed, it gives its units back and the order can
        # capture again. Nothing to wait for.
        return None
    stored = ledger.begin_release(waiting) or waiting
    if stored.status is not ReleaseStatus.WAITING:
        return stored  # released (or being released) already
    now_stored = ledger.get_order(order.merchant_id, order.order_id)
    if now_stored is None or remainder_of(now_stored) is None:
        return stored  # still in flight (or capturable again): its confirmer releases
    return release_remainder(ledger, providers, now_stored, now) or stored


def release_after_capture(
    ledger: ReleaseLedger,
    providers: PaymentProviders,
    capture: Capture,
    now: datetime,
    *,
    send: bool = True,
) -> AuthorizationRelease | None:
    """After ``capture`` was confirmed: release the order's remainder if the order can capture
    nothing more now; None otherwise or when nothing is left.

    A capture sent as the order's final one (``releases_authorization``: it left nothing to
    capture with nothing else in flight) finished it. At a provider whose final capture
    released the rest itself (Stripe, the sandbox) nothing is sent and nothing more is
    written: the capture, stored so, is the record, and the order is not read again. A capture
    that was in flight with others (``may_finish_order``) may have been the last of them to be
    confirmed (none knew it would be when it was reserved): the order is read once to tell.
    Any other capture leaves the order something to capture: one that a ``waiting`` release
    waits for was noted so in the ledger by the step that closed the order, and is confirmed
    with ``may_finish_order`` (domain.service._confirm)."""
    if capture.status is not CaptureStatus.CAPTURED:
        return None
    if capture.releases_authorization:
        if units_for(capture.provider).final_capture_releases_rest:
            return None
    elif not capture.may_finish_order:
        return None
    return release_of_order(
        ledger, providers, capture.merchant_id, capture.order_id, now, send=send
    )


def release_of_order(
    ledger: ReleaseLedger,
    providers: PaymentProviders,
    merchant_id: str,
    order_id: str,
    now: datetime,
    *,
    send: bool = True,
) -> AuthorizationRelease | None:
    """``release_remainder`` of the order as stored now."""
    order = ledger.get_order(merchant_id, order_id)
    if order is None:
        return None
    return release_remainder(ledger, providers, order, now, send=send)


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
        answer = providers.provider(release.provider, release.merchant_id).release(
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
        if answer.status == "pending":
            # Received, not done (Adyen's "received"): its webhook settles it (CANCELLATION,
            # ``settle_by_notification``); until then it stays open, and reconciliation asks
            # again with the same key (which the provider answers as it did the first time).
            outcome = release.model_copy(update={"failure": _AWAITING_PROVIDER, "updated_at": now})
        else:
            outcome = _settled(release, ReleaseStatus.RELEASED, now)
    # Only over this attempt: a slower one must not wind a newer attempt's record back.
    if ledger.update_release(outcome, ReleaseStatus.PENDING, expected_attempts=release.attempts):
        return outcome
    return ledger.get_release(release.merchant_id, release.order_id) or outcome


#: Why a release the provider received is still pending.
_AWAITING_PROVIDER = FailureReason(
    reason="awaiting_provider",
    message="received by the provider, which settles it by webhook",
    error="ProviderPending",
)


def settle_by_notification(
    ledger: ReleaseLedger,
    merchant_id: str,
    notification: ProviderNotification,
    now: datetime,
    *,
    found: AuthorizationRelease | None = None,
) -> AuthorizationRelease | None:
    """Settle the merchant's pending release as the provider's webhook says (Adyen's
    ``CANCELLATION``: ``success`` true, released; false, failed, for an operator, with the
    provider's reason); the release as stored after, or None if the ledger knows no release by
    that reference (not ours: a cancellation made in the provider's dashboard). A repeated
    notification finds it settled and changes nothing. ``found``: the release as the caller
    read it already (saves the read)."""
    release = found or ledger.find_release(merchant_id, notification.reference)
    if release is None or release.status is not ReleaseStatus.PENDING:
        return release
    if notification.succeeded:
        settled = _settled(release, ReleaseStatus.RELEASED, now)
    else:
        failure = FailureReason(
            reason="release_refused",
            message=f"{notification.event} success false: {notification.reason}",
            error="ProviderDeclinedError",
        )
        settled = release.model_copy(
            update={"status": ReleaseStatus.FAILED, "failure": failure, "updated_at": now}
        )
    if ledger.update_release(settled, ReleaseStatus.PENDING):
        return settled
    return ledger.get_release(release.merchant_id, release.order_id)


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
    #: Waiting releases closed because their order's authorization expired unfinished.
    lapsed: int = 0
    #: Releases whose retry raised: left as they were, for the next run (and alarmed).
    errors: int = 0
    #: Releases asked again that the provider still did not release: unanswered (pending, for
    #: the next run) or refused (failed, for a person). Alarmed: the shopper's money stays held.
    unreleased: int = 0
    #: Releases this run had no time left for: for the next run.
    deferred: int = 0


def _outcome(settled: AuthorizationRelease) -> tuple[str, str]:
    outcome = {
        ReleaseStatus.RELEASED: "released",
        ReleaseStatus.FAILED: "failed",
        ReleaseStatus.PENDING: "still_open",
        ReleaseStatus.WAITING: "still_open",
        ReleaseStatus.LAPSED: "lapsed",
    }[settled.status]
    return outcome, settled.failure.message if settled.failure else settled.status.value


def _retry(
    ledger: ReleaseLedger,
    providers: PaymentProviders,
    release: AuthorizationRelease,
    now: datetime,
) -> tuple[str, str]:
    retry = release.model_copy(update={"attempts": release.attempts + 1, "updated_at": now})
    # At the attempt this run read: of two runs retrying it at once, one asks the provider
    # (Aplazame's void takes no idempotency key; a second would be sent unguarded).
    if not ledger.update_release(retry, ReleaseStatus.PENDING, expected_attempts=release.attempts):
        return "still_open", "settled meanwhile by another run"
    return _outcome(_ask_provider(ledger, providers, retry, now))


def _carry_out_waiting(
    ledger: ReleaseLedger,
    providers: PaymentProviders,
    release: AuthorizationRelease,
    now: datetime,
) -> tuple[str, str]:
    """A ``waiting`` release: sent once its order's captures in flight are all confirmed (its
    amount what the authorization has left then); left waiting while one is in flight, or
    while the order can capture again (one failed and gave its units back)."""
    order = ledger.get_order(release.merchant_id, release.order_id)
    if order is None:
        return "still_open", "its order is not in the ledger"
    remaining = remainder_of(order)
    if remaining is None and order.reserved_amount == 0 and order.payment.expires_at <= now:
        return _lapse(ledger, release, now)
    if remaining is None:
        # Never while a capture is in flight: the provider may hold that money for it.
        return "still_open", "waiting: the order still has captures in flight or to make"
    if not remaining:
        settled = release.model_copy(
            update={"status": ReleaseStatus.RELEASED, "amount": 0, "updated_at": now}
        )
        if not ledger.update_release(settled, ReleaseStatus.WAITING):
            return "still_open", "settled meanwhile by another run"
        return "released", "nothing was left to release"
    stored = release_remainder(ledger, providers, order, now)
    return _outcome(stored) if stored is not None else ("still_open", "nothing to release")


def _lapse(ledger: ReleaseLedger, release: AuthorizationRelease, now: datetime) -> tuple[str, str]:
    """Close waiting ``release``, sending nothing: its order has units nobody shipped or
    canceled, and an authorization that expired, so no capture can be made any more
    (capture_rules refuses one), nothing is in flight, and the provider lets the
    authorization go by itself."""
    lapsed = release.model_copy(
        update={"status": ReleaseStatus.LAPSED, "failure": _EXPIRED, "updated_at": now}
    )
    if not ledger.update_release(lapsed, ReleaseStatus.WAITING):
        return "still_open", "settled meanwhile by another run"
    return "lapsed", _EXPIRED.message


#: Why a waiting release was closed without being sent.
_EXPIRED = FailureReason(
    reason="authorization_expired",
    message="the authorization expired before the order finished, with nothing in flight: "
    "nothing more can be captured and the provider lets it go itself",
    error="AuthorizationExpired",
)


def reconcile_releases(
    ledger: ReleaseLedger,
    providers: PaymentProviders,
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
    *,
    on_item: OnItem | None = None,
    has_time: HasTime | None = None,
) -> ReleaseReport:
    """Ask again for every release still pending and older than ``grace`` (its provider call
    failed, went unanswered, or its step died after storing it), with the same key; carry
    out every ``waiting`` one whose order's captures in flight are all confirmed now, and close
    as ``lapsed`` (nothing sent) every ``waiting`` one whose order can capture nothing more
    because its authorization expired unfinished with nothing in flight."""
    counts = ReleaseReport().model_dump()
    due = ledger.list_open_releases(now - grace)
    for position, release in enumerate(due):
        if out_of_time(has_time):
            counts["deferred"] = len(due) - position
            break
        counts["examined"] += 1
        try:
            if release.status is ReleaseStatus.WAITING:
                outcome, reason = _carry_out_waiting(ledger, providers, release, now)
            else:
                outcome, reason = _retry(ledger, providers, release, now)
                counts["unreleased"] += outcome in {"still_open", "failed"}
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
