"""Who completes the confirmation wait (on moto). The settler of a received capture (its
webhook) completes the wait, whose workflow then announces the outcome; when the wait refuses
its token, the settler takes it for timed out and announces itself. A second confirmer (a
repeated notification, reconciliation) that found the capture settled by somebody else used
to complete the wait too, "in case the settler died": when it came first, the workflow
announced, the live settler's token was refused, and the settler announced again (the
default fault campaign's api-7500-0003, ``Payment Captured`` 2x). Now a second confirmer
completes the wait only once the settler cannot be running any more
(``announcements.SETTLER_DEADLINE``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from order_capture.domain import service
from order_capture.domain.announcements import SETTLER_DEADLINE
from order_capture.models import Capture, CaptureStatus
from order_capture_local.template import load_template
from tests.integration.handover_support import (
    LATER,
    Publisher,
    Workflow,
    received_capture,
    wait_noting_its_token,
    webhook,
)
from tests.integration.race_support import ReadThenRace

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("succeeded", [True, False], ids=["captured", "failed"])
def test_campaign_a_repeated_notification_completing_the_wait_first_announces_once(
    repository: Any, succeeded: bool
) -> None:
    # Given a received capture whose confirmation wait noted its token
    announced: list[str] = []
    workflow, publisher = Workflow(announced), Publisher(announced)
    pending = received_capture(repository)
    wait_noting_its_token(repository, workflow, publisher, pending)
    assert workflow.waiting
    # When its notification is delivered twice at once: the first delivery settles it, and
    # the second runs whole while the first reads who waits
    racing = ReadThenRace(
        repository,
        "confirmation_state",
        lambda: webhook(repository, workflow, publisher, pending, succeeded),
    )
    webhook(racing, workflow, publisher, pending, succeeded)
    # Then the outcome is announced once, by the workflow the settler completed
    assert announced == ["Payment Captured" if succeeded else "Payment Capture Failed"]
    assert not workflow.waiting


def test_campaign_a_settler_that_died_before_completing_the_wait_is_relieved_after_its_deadline(
    repository: Any,
) -> None:
    # Given a received capture whose wait noted its token, and whose webhook settled it
    # (noting the announcement as its own) and died before completing the wait
    announced: list[str] = []
    workflow, publisher = Workflow(announced), Publisher(announced)
    pending = received_capture(repository)
    wait_noting_its_token(repository, workflow, publisher, pending)
    confirmed = pending.model_copy(update={"status_at_provider": "succeeded"})
    settled, settled_here = service.confirm_capture(repository, confirmed, LATER)
    assert (settled.status, settled_here) == (CaptureStatus.CAPTURED, True)
    # When the provider delivers it again while the settler might still be running
    webhook(repository, workflow, publisher, pending, True)
    # Then nothing is announced yet, and the workflow still waits
    assert (announced, workflow.waiting) == ([], True)
    # and a redelivery after the settler's deadline completes the wait: announced once
    webhook(repository, workflow, publisher, pending, True, now=LATER + SETTLER_DEADLINE)
    assert announced == ["Payment Captured"]
    assert not workflow.waiting


def test_the_settler_deadline_outlasts_every_function_that_settles_captures() -> None:
    # A function still running past its Timeout is stopped by Lambda: past the deadline, the
    # settler of a capture is over (done, or dead), whichever function it was.
    timeouts = {
        f.logical_id: f.timeout for f in load_template(ROOT / "template.yaml").functions.values()
    }
    assert max(timeouts.values()) < SETTLER_DEADLINE.total_seconds(), timeouts


class TimedOutWhileReversed(Workflow):
    """A wait that timed out; while its token is being refused, the provider's CAPTURE_FAILED
    reverses the capture (``reverse`` runs it)."""

    def __init__(self, announced: list[str]) -> None:
        super().__init__(announced)
        self.waiting = False
        self.reverse: Any = None

    def succeed(self, task_token: str, capture: Capture) -> bool:
        reverse, self.reverse = self.reverse, None
        if reverse is not None:
            reverse()
        return super().succeed(task_token, capture)


def test_campaign_a_timed_out_wait_rereads_the_capture_before_announcing_it(
    repository: Any,
) -> None:
    # Given a received capture confirmed by a confirmer that noted no announcement, and a
    # waiter that comes after its wait timed out
    announced: list[str] = []
    workflow, publisher = TimedOutWhileReversed(announced), Publisher(announced)
    pending = received_capture(repository)
    confirmed = pending.model_copy(update={"status_at_provider": "succeeded"})
    assert service.record_capture(repository, confirmed, LATER).status is CaptureStatus.CAPTURED
    # When the provider reverses the capture while the waiter completes its (timed-out) wait
    workflow.reverse = lambda: webhook(repository, workflow, publisher, pending, False)
    wait_noting_its_token(repository, workflow, publisher, pending)
    # Then only what it is now (failed) is announced: never Captured after Capture Failed
    stored = repository.get_capture(pending.merchant_id, pending.order_id, pending.capture_id)
    assert stored.status is CaptureStatus.FAILED
    assert announced == ["Payment Capture Failed"]
