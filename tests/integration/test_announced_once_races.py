"""Two confirmers of one capture racing each other (on moto): whoever confirms (or fails) it,
``Payment Captured`` / ``Payment Capture Failed`` is announced once. Each test lets the first
confirmer read the ledger, then runs the second one whole, then lets the first one go on with
what it read: the interleaving the fault campaign saw ("announced captured 2x")."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.domain import service
from order_capture.domain.operator_settlement import CaptureMovedOnError
from order_capture.errors import AnnouncementFailedError
from order_capture.models import Capture, CaptureStatus
from tests.integration.race_support import (
    LATER,
    Publisher,
    ReadThenRace,
    answer_lost,
    captured_at_the_provider,
    deliver,
    reconcile,
    settle_by_operator,
)


def test_campaign_a_record_retry_racing_reconciliation_announces_once(repository: Any) -> None:
    # Given a capture the provider made, whose Record confirmed it and could not announce it
    pending = captured_at_the_provider(repository)
    publisher = Publisher(failures=1)

    def record() -> Capture:
        return service.record_and_announce(repository, publisher, pending, LATER)

    # reconciliation lists it while still pending; then Record confirms it, fails to send
    def record_fails() -> None:
        with pytest.raises(AnnouncementFailedError):
            record()

    lists_first = ReadThenRace(repository, "list_open_captures", record_fails)
    # ... and reconciliation reads what was announced just before Record's retry announces
    racing = ReadThenRace(lists_first, "confirmation_state", record)
    # When reconciliation finds it at the provider meanwhile
    reconcile(racing, publisher, "captured")
    # Then it is announced once
    assert publisher.sent == ["Payment Captured captured"]
    # and a later Record retry or reconciliation announces nothing more
    record()
    reconcile(repository, publisher, "captured")
    assert publisher.sent == ["Payment Captured captured"]


def test_campaign_a_webhook_racing_reconciliation_announces_once(repository: Any) -> None:
    # Given a capture whose answer was lost (requires_action)
    lost = answer_lost(repository)
    publisher = Publisher()
    # When reconciliation confirms it, and the provider's webhook comes while it reads
    racing = ReadThenRace(
        repository, "confirmation_state", lambda: deliver(repository, publisher, lost, True)
    )
    report = reconcile(racing, publisher, "captured")
    # Then it is captured once and announced once
    assert report.confirmed == 1
    order = repository.get_order(lost.merchant_id, lost.order_id)
    assert (order.captured_amount, order.reserved_amount) == (5000, 0)
    assert publisher.sent == ["Payment Captured captured"]


def test_campaign_the_same_webhook_delivered_twice_at_once_announces_once(
    repository: Any,
) -> None:
    # Given a capture whose answer was lost (requires_action)
    lost = answer_lost(repository)
    publisher = Publisher()
    # When the provider delivers its CAPTURE notification twice, the second while the first
    # is reading what was announced
    racing = ReadThenRace(
        repository, "confirmation_state", lambda: deliver(repository, publisher, lost, True)
    )
    deliver(racing, publisher, lost, True)
    # Then it is announced once
    assert publisher.sent == ["Payment Captured captured"]


def test_campaign_an_operator_settling_while_the_webhook_comes_announces_once(
    repository: Any,
) -> None:
    # Given a capture whose answer was lost (requires_action), that an operator looked up
    lost = answer_lost(repository)
    publisher = Publisher()
    # When the operator settles it captured, and the provider's webhook comes meanwhile
    racing = ReadThenRace(
        repository, "confirmation_state", lambda: deliver(repository, publisher, lost, True)
    )
    settled = settle_by_operator(racing, publisher, lost)
    # Then it is captured and announced once
    assert settled.status is CaptureStatus.CAPTURED
    assert publisher.sent == ["Payment Captured captured"]


def test_campaign_a_failure_found_by_reconciliation_and_the_webhook_announces_once(
    repository: Any,
) -> None:
    # Given a capture whose answer was lost (requires_action)
    lost = answer_lost(repository)
    publisher = Publisher()
    # When reconciliation finds it failed at the provider, and the CAPTURE_FAILED webhook
    # comes while it reads what was announced
    racing = ReadThenRace(
        repository, "confirmation_state", lambda: deliver(repository, publisher, lost, False)
    )
    report = reconcile(racing, publisher, "failed")
    # Then it is released once and Payment Capture Failed announced once
    assert report.released == 1
    order = repository.get_order(lost.merchant_id, lost.order_id)
    assert (order.captured_amount, order.reserved_amount) == (0, 0)
    assert publisher.sent == ["Payment Capture Failed failed"]


def test_campaign_a_redelivery_racing_an_operator_after_a_failed_announcement_announces_once(
    repository: Any,
) -> None:
    # Given a capture whose answer was lost, confirmed by its webhook that could not announce
    lost = answer_lost(repository)
    publisher = Publisher(failures=1)
    with pytest.raises(ConnectionError):
        deliver(repository, publisher, lost, True)
    assert publisher.sent == []
    # When an operator settles it captured while the provider delivers again
    racing = ReadThenRace(
        repository, "confirmation_state", lambda: deliver(repository, publisher, lost, True)
    )
    with pytest.raises(CaptureMovedOnError, match="meanwhile by another path"):
        settle_by_operator(racing, publisher, lost)
    deliver(repository, publisher, lost, True)
    # Then it is announced once, and the operator told the redelivery settled it
    assert publisher.sent == ["Payment Captured captured"]
