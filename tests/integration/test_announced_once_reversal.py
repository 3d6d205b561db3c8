"""A capture the provider confirmed and then reversed (Adyen's late ``CAPTURE_FAILED``, the
sandbox's ``async_reversed``), with a confirmer that read it captured just before the reversal
(on moto): ``Payment Captured`` once, ``Payment Capture Failed`` once, in that order, and
nothing after it. The fault campaign saw Captured -> Capture Failed -> Captured again, the
ledger ending failed with the note ``announced: captured`` (issue 12, api-7500-0008 and
api-7500-0018): the stale confirmer claimed ``captured`` over the reversal's note."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.domain import failures, service
from order_capture.errors import ProviderDeclinedError
from order_capture.models import Capture, CaptureStatus
from tests.integration.race_support import (
    LATER,
    Publisher,
    ReadThenRace,
    answer_lost,
    captured_at_the_provider,
    deliver,
)

CAPTURED_THEN_FAILED = ["Payment Captured captured", "Payment Capture Failed failed"]


def _stored(repository: Any, capture: Capture) -> Capture:
    stored = repository.find_capture(capture.merchant_id, capture.capture_id)
    assert stored is not None
    return stored  # type: ignore[no-any-return]


def _assert_failed_as_announced(repository: Any, capture: Capture) -> None:
    """The ledger's final word agrees with the last event: failed, noted as announced failed,
    and the order's captured amount given back."""
    stored = _stored(repository, capture)
    assert stored.status is CaptureStatus.FAILED
    state = repository.confirmation_state(capture.merchant_id, capture.order_id, capture.capture_id)
    assert state.announced is CaptureStatus.FAILED
    order = repository.get_order(capture.merchant_id, capture.order_id)
    assert (order.captured_amount, order.reserved_amount) == (0, 0)


def test_campaign_a_redelivered_success_read_before_the_reversal_announces_nothing(
    repository: Any,
) -> None:
    # Given a capture whose answer was lost, confirmed (and announced) by its webhook
    lost = answer_lost(repository)
    publisher = Publisher()
    deliver(repository, publisher, lost, True)
    assert publisher.sent == CAPTURED_THEN_FAILED[:1]
    # When the CAPTURE notification is delivered again, and the provider's CAPTURE_FAILED
    # reverses the capture just after the redelivery read it captured
    racing = ReadThenRace(
        repository, "find_capture", lambda: deliver(repository, publisher, lost, False)
    )
    deliver(racing, publisher, lost, True)
    # Then the success is not announced again, the reversal once, and the ledger agrees
    assert publisher.sent == CAPTURED_THEN_FAILED
    _assert_failed_as_announced(repository, lost)
    # and a later redelivery of either changes and announces nothing more
    deliver(repository, publisher, lost, True)
    deliver(repository, publisher, lost, False)
    assert publisher.sent == CAPTURED_THEN_FAILED
    _assert_failed_as_announced(repository, lost)


def test_campaign_a_record_retry_that_read_it_captured_before_the_reversal_announces_nothing(
    repository: Any,
) -> None:
    # Given a capture the provider made, confirmed and announced by its Record step
    pending = captured_at_the_provider(repository)
    publisher = Publisher()
    service.record_and_announce(repository, publisher, pending, LATER)
    assert publisher.sent == CAPTURED_THEN_FAILED[:1]
    # When a retry of Record reads it captured, and the reversal comes just after
    racing = ReadThenRace(
        repository, "get_capture", lambda: deliver(repository, publisher, pending, False)
    )
    service.record_and_announce(racing, publisher, pending, LATER)
    # Then nothing more than the reversal is announced, and the ledger agrees
    assert publisher.sent == CAPTURED_THEN_FAILED
    _assert_failed_as_announced(repository, pending)


def test_campaign_a_replayed_failed_answer_after_the_reversal_is_not_a_second_failure(
    repository: Any,
) -> None:
    # Given a capture whose answer was lost, confirmed by its webhook, then reversed
    lost = answer_lost(repository)
    publisher = Publisher()
    deliver(repository, publisher, lost, True)
    deliver(repository, publisher, lost, False)
    assert publisher.sent == CAPTURED_THEN_FAILED
    # When a retry of the capture is answered the provider's stored answer, failed by now,
    # and RecordFailure records that
    record, settled_here = failures.record_failure(
        repository,
        request=lost.request(),
        error_type=ProviderDeclinedError.__name__,
        error_reason=ProviderDeclinedError.reason,
        message=f"sandbox failed capture {lost.capture_id}",
        execution_id="exec-2",
        now=LATER,
    )
    # Then it is not this step's failure to announce, and the ledger keeps the reversal
    assert not settled_here
    assert record.status is CaptureStatus.FAILED
    _assert_failed_as_announced(repository, lost)


def test_campaign_a_stale_success_after_an_unsent_reversal_leaves_it_to_the_redelivery(
    repository: Any,
) -> None:
    # Given a capture whose answer was lost, confirmed (and announced) by its webhook
    lost = answer_lost(repository)
    publisher = Publisher()
    deliver(repository, publisher, lost, True)

    def reversal_not_sent() -> None:
        publisher.failures = 1
        with pytest.raises(ConnectionError):
            deliver(repository, publisher, lost, False)

    # When a redelivered CAPTURE reads it captured, and the reversal comes just after but
    # cannot announce (its note taken back)
    racing = ReadThenRace(repository, "find_capture", reversal_not_sent)
    deliver(racing, publisher, lost, True)
    # Then the stale success announces nothing, and the CAPTURE_FAILED redelivered announces
    # the reversal, once
    assert publisher.sent == CAPTURED_THEN_FAILED[:1]
    deliver(repository, publisher, lost, False)
    deliver(repository, publisher, lost, True)
    assert publisher.sent == CAPTURED_THEN_FAILED
    _assert_failed_as_announced(repository, lost)
