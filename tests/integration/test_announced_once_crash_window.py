"""The crash window of announcing once (docs/guarantees.md, "The window that is left"): a
process that dies after its settling write (which notes the announcement as its own) and
before PutEvents answered. A death is not an exception the announcer can handle (its
``except`` that takes the note back never runs), so it is injected as one that is not an
``Exception``."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.domain import service
from order_capture.models import CaptureStatus
from tests.integration.race_support import LATER, Publisher, captured_at_the_provider


class ProcessDied(BaseException):
    """The Lambda's process ends here (a timeout, out of memory): nothing after it runs."""


class DiesWhileSending(Publisher):
    def publish(self, detail_type: str, details: list[Any]) -> None:
        raise ProcessDied


@pytest.mark.xfail(
    strict=True,
    reason="issue 12, not closed: a Record that dies between its confirm and PutEvents leaves "
    "the note and no event, and its retry announces nothing (docs/guarantees.md lists the "
    "three ways to close it and what each costs)",
)
def test_campaign_a_record_that_dies_before_putevents_answered_is_announced_by_its_retry(
    repository: Any,
) -> None:
    # Given a capture the provider made, whose Record confirmed it (noting the announcement)
    # and died while sending Payment Captured
    pending = captured_at_the_provider(repository)
    with pytest.raises(ProcessDied):
        service.record_and_announce(repository, DiesWhileSending(), pending, LATER)
    stored = repository.get_capture(pending.merchant_id, pending.order_id, pending.capture_id)
    assert stored.status is CaptureStatus.CAPTURED
    # When Step Functions retries the step
    publisher = Publisher()
    service.record_and_announce(repository, publisher, pending, LATER)
    # Then it is announced once
    assert publisher.sent == ["Payment Captured captured"]
