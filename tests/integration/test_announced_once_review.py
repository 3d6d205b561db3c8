"""Adversarial review of announcing once (issue 12, defect 6; docs/guarantees.md, "Announced
once"): sequences without a process death that announce an outcome twice, out of order, or
not at all, found after Record's release moved before PutEvents (on moto)."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.domain import service
from order_capture.models import Capture, CaptureStatus
from tests.integration.handover_support import Publisher as HandoverPublisher
from tests.integration.handover_support import (
    Workflow,
    received_capture,
    wait_noting_its_token,
    webhook,
)
from tests.integration.race_support import (
    LATER,
    Publisher,
    captured_at_the_provider,
    deliver,
)


def test_defect_12_a_reversal_during_records_release_is_not_followed_by_payment_captured(
    repository: Any,
) -> None:
    # Given a capture the provider made that may finish its order, and a Record that confirms
    # it (noting the announcement as its own) and then releases the authorization's rest, a
    # provider call that runs before PutEvents
    pending = captured_at_the_provider(repository).model_copy(update={"may_finish_order": True})
    publisher = Publisher()

    def reversed_while_releasing(recorded: Any) -> bool:
        # When the provider's CAPTURE_FAILED arrives while Record is in that release: the
        # webhook reverses the capture and announces the failure
        deliver(repository, publisher, pending, False)
        return True  # the release asked the provider

    service.record_and_announce(
        repository, publisher, pending, LATER, before_announcing=reversed_while_releasing
    )
    # Then the consumers' last word is the ledger's: failed, never Payment Captured after
    # Payment Capture Failed
    stored = repository.find_capture(pending.merchant_id, pending.capture_id)
    assert stored.status is CaptureStatus.FAILED
    assert publisher.sent == ["Payment Capture Failed failed"]


class AnswerLost(Workflow):
    """SendTaskSuccess completed the wait (its workflow announces), and its answer was lost
    (a read timeout): the caller sees an error."""

    def succeed(self, task_token: str, capture: Capture) -> bool:
        if not super().succeed(task_token, capture):
            return False  # a completed (or timed-out) wait refuses its token
        raise ConnectionError("SendTaskSuccess: read timed out")


def test_defect_12_a_lost_sendtasksuccess_answer_is_not_announced_again_by_the_redelivery(
    repository: Any,
) -> None:
    # Given a received capture whose confirmation wait noted its token
    announced: list[str] = []
    workflow, publisher = AnswerLost(announced), HandoverPublisher(announced)
    pending = received_capture(repository)
    wait_noting_its_token(repository, workflow, publisher, pending)
    # When its CAPTURE webhook settles it and completes the wait, whose answer is lost
    with pytest.raises(ConnectionError):
        webhook(repository, workflow, publisher, pending, True)
    assert announced == ["Payment Captured"]  # by the workflow
    # and the provider delivers it again (the webhook answered 5xx)
    webhook(repository, workflow, publisher, pending, True)
    # Then it is not announced a second time
    assert announced == ["Payment Captured"]
