"""The crash window of a webhook (docs/guarantees.md, "The window that is left"): a handler
that dies after its settling write (which notes the announcement as its notification's) and
before PutEvents answered leaves the note and no event, and the provider delivers the
notification again (it was not accepted). Issue 12's decision: a copy of the same
notification that finds the note held by that notification announces again (the same
``announcement_id``) only once ``SETTLER_DEADLINE`` is past the note's moment (the first
handler, whose function Timeout is 30 s, cannot still be running); a copy inside it
announces nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from order_capture.domain.announcements import SETTLER_DEADLINE
from order_capture.models import Capture, CaptureStatus
from tests.integration.race_support import LATER, Publisher, answer_lost, deliver
from tests.integration.test_announced_once_crash_window import IdsPublisher, ProcessDied


class DiesWhileSending(Publisher):
    """The process ends before PutEvents answered: nothing on the bus; ``ids``: what the
    handler was sending."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def publish(self, detail_type: str, details: list[Any]) -> None:
        self.ids.extend(detail.announcement_id for detail in details)
        raise ProcessDied


def died_before_putevents(repository: Any) -> tuple[Capture, DiesWhileSending]:
    """A capture whose answer was lost, settled captured by its webhook at ``LATER``, whose
    handler died while sending Payment Captured."""
    lost = answer_lost(repository)
    dying = DiesWhileSending()
    with pytest.raises(ProcessDied):
        deliver(repository, dying, lost, True, LATER)
    stored = repository.get_capture(lost.merchant_id, lost.order_id, lost.capture_id)
    assert stored.status is CaptureStatus.CAPTURED
    return lost, dying


def test_defect_6_a_webhook_that_died_before_putevents_is_announced_by_its_redelivery(
    repository: Any,
) -> None:
    # Given a webhook handler that settled the capture and died before PutEvents answered
    lost, dying = died_before_putevents(repository)
    # When the provider delivers the notification again after the deadline
    publisher = IdsPublisher()
    deliver(repository, publisher, lost, True, LATER + SETTLER_DEADLINE)
    # Then it is announced once, with the id the dead handler was sending
    assert publisher.sent == ["Payment Captured captured"]
    assert publisher.ids == dying.ids
    # and a later copy of it repeats it with that id (at least once)
    deliver(repository, publisher, lost, True, LATER + 2 * SETTLER_DEADLINE)
    assert publisher.ids == dying.ids * 2


def test_defect_6_a_copy_inside_the_deadline_announces_nothing_one_after_it_does(
    repository: Any,
) -> None:
    # Given a webhook handler that settled the capture and died before PutEvents answered
    lost, _ = died_before_putevents(repository)
    publisher = IdsPublisher()
    # When a copy of the notification comes while the first handler may still be sending
    deliver(repository, publisher, lost, True, LATER + SETTLER_DEADLINE - timedelta(seconds=1))
    # Then it announces nothing
    assert publisher.sent == []
    # and the copy that comes after the deadline announces it
    deliver(repository, publisher, lost, True, LATER + SETTLER_DEADLINE)
    assert publisher.sent == ["Payment Captured captured"]


def test_defect_6_a_copy_after_the_deadline_of_a_sent_notification_repeats_its_id(
    repository: Any,
) -> None:
    # Given a capture whose webhook settled it and announced it
    lost = answer_lost(repository)
    publisher = IdsPublisher()
    deliver(repository, publisher, lost, True, LATER)
    # When the provider delivers the notification again after the deadline (the first
    # handler died in the instant after PutEvents answered, before its 202)
    deliver(repository, publisher, lost, True, LATER + SETTLER_DEADLINE)
    # Then the announcement repeats, with the same announcement_id (at least once)
    assert publisher.sent == ["Payment Captured captured"] * 2
    assert len(set(publisher.ids)) == 1
