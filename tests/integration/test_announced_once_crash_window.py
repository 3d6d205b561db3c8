"""The crash window of announcing once (docs/guarantees.md, "The window that is left"): a
process that dies after its settling write (which notes the announcement as its own) and
before PutEvents answered. A death is not an exception the announcer can handle (its
``except`` that takes the note back never runs), so it is injected as one that is not an
``Exception``. Issue 12's decision: the retry of the same announcer announces again when the
note is its own; a death in the instant after PutEvents answered repeats the announcement,
with the same ``announcement_id``."""

from __future__ import annotations

from typing import Any

import pytest

from order_capture.domain import service
from order_capture.handlers import record
from order_capture.models import Capture, CaptureStatus
from order_capture_local.sandbox import SandboxServer
from tests.factories import order_shipped
from tests.integration.capture_support import run_until_capture
from tests.integration.race_support import (
    LATER,
    Publisher,
    captured_at_the_provider,
    reconcile,
)
from tests.integration.test_release_handlers import Sandboxes
from tests.support import FixedClock, RecordingPublisher


class ProcessDied(BaseException):
    """The Lambda's process ends here (a timeout, out of memory): nothing after it runs."""


class DiesWhileSending(Publisher):
    def publish(self, detail_type: str, details: list[Any]) -> None:
        raise ProcessDied


class IdsPublisher(Publisher):
    """EventBridge, keeping each announcement's ``announcement_id`` too."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def publish(self, detail_type: str, details: list[Any]) -> None:
        super().publish(detail_type, details)
        self.ids.extend(detail.announcement_id for detail in details)


class DiesAfterSending(IdsPublisher):
    """PutEvents answered (the event is on the bus), then the process ended."""

    def publish(self, detail_type: str, details: list[Any]) -> None:
        super().publish(detail_type, details)
        raise ProcessDied


def test_defect_6_a_record_that_died_before_putevents_answered_is_announced_by_its_retry(
    repository: Any,
) -> None:
    # Given a capture the provider made, whose Record confirmed it (noting the announcement
    # as its execution's) and died while sending Payment Captured
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


def test_defect_6_a_record_that_died_in_its_release_is_announced_once_by_its_retry(
    repository: Any,
) -> None:
    # Given a Record whose release of the authorization's rest (a provider call) timed out:
    # it runs before PutEvents, so nothing was sent
    pending = captured_at_the_provider(repository)
    first = Publisher()

    def times_out(_: Capture) -> bool:
        raise ProcessDied

    with pytest.raises(ProcessDied):
        service.record_and_announce(repository, first, pending, LATER, before_announcing=times_out)
    assert first.sent == []
    # When Step Functions retries it (the release finds its own record and sends nothing)
    retry = Publisher()
    released: list[str] = []

    def releases_nothing_more(capture: Capture) -> bool:
        released.append(capture.status)
        return False  # its own release record was found: nothing asked

    service.record_and_announce(
        repository, retry, pending, LATER, before_announcing=releases_nothing_more
    )
    # Then it is announced once, after the retry's release
    assert released == [CaptureStatus.CAPTURED]
    assert retry.sent == ["Payment Captured captured"]


def test_defect_6_a_record_that_died_right_after_putevents_answered_repeats_it_with_one_id(
    repository: Any,
) -> None:
    # Given a Record that sent Payment Captured and died in the instant after PutEvents
    # answered (nothing of the step runs after it but returning)
    pending = captured_at_the_provider(repository)
    first = DiesAfterSending()
    with pytest.raises(ProcessDied):
        service.record_and_announce(repository, first, pending, LATER)
    # When Step Functions retries it
    retry = IdsPublisher()
    service.record_and_announce(repository, retry, pending, LATER)
    # Then it is announced again (the documented repeat), with the same announcement_id
    assert first.sent == retry.sent == ["Payment Captured captured"]
    assert first.ids == retry.ids == [f"{pending.capture_id}:captured"]


def test_defect_6_a_twin_finding_the_dead_records_note_announces_nothing(
    repository: Any,
) -> None:
    # Given a Record that confirmed and died before PutEvents answered
    pending = captured_at_the_provider(repository)
    with pytest.raises(ProcessDied):
        service.record_and_announce(repository, DiesWhileSending(), pending, LATER)
    # When a twin execution's Record is handed that capture
    twin = Publisher()
    service.record_and_announce(repository, twin, pending, LATER, execution_id="exec-twin")
    # Then the twin announces nothing: the note is the first execution's, whose retry does
    assert twin.sent == []
    retry = Publisher()
    service.record_and_announce(repository, retry, pending, LATER)
    assert retry.sent == ["Payment Captured captured"]


def test_defect_6_a_record_retry_after_reconciliation_announced_announces_nothing(
    repository: Any,
) -> None:
    # Given a Record that died before confirming, and reconciliation that confirmed the
    # capture and announced it (its note)
    pending = captured_at_the_provider(repository)
    reconciler = Publisher()
    reconcile(repository, reconciler, "captured")
    assert reconciler.sent == ["Payment Captured captured"]
    # When Step Functions retries the Record
    retry = Publisher()
    service.record_and_announce(repository, retry, pending, LATER)
    # Then it finds somebody else's note and announces nothing
    assert retry.sent == []


class DiesInTheRelease:
    """The ledger, but the release's read of the order (after the confirm) never returns:
    the Lambda timed out waiting for it, or for the provider after it."""

    def __init__(self, repository: Any) -> None:
        self.repository = repository

    def __getattr__(self, name: str) -> Any:
        return getattr(self.repository, name)

    def get_order(self, merchant_id: str, order_id: str) -> Any:
        raise ProcessDied


def test_campaign_a_record_retried_after_it_announced_announces_once(
    registered: dict[str, Any],
    repository: Any,
    lambda_context: Any,
    clock: FixedClock,
    sandbox: SandboxServer,
) -> None:
    # The campaign saw Records retried after they had announced: they timed out in the
    # release that followed PutEvents. The release now runs before it, so whatever a Record
    # does after its confirm that can fail or take time fails before anything is sent.
    _, _, captured = run_until_capture(
        repository, lambda_context, clock, sandbox, order_shipped("s1")
    )
    # Given a capture whose confirmer reads the order to release its rest, and a Record
    # that dies in that release
    step = {"capture": {**captured, "may_finish_order": True, "releases_authorization": False}}
    publisher = RecordingPublisher()
    with pytest.raises(ProcessDied):
        record.handle_success(
            step,
            lambda_context,
            DiesInTheRelease(repository),
            clock,
            publisher=publisher,
            providers=Sandboxes(sandbox.url),
        )
    # Then nothing was sent: the death came before PutEvents
    assert publisher.published == []
    # When Step Functions retries it
    record.handle_success(
        step, lambda_context, repository, clock, publisher, providers=Sandboxes(sandbox.url)
    )
    # Then it is announced once
    ((detail_type, (announced,)),) = publisher.published
    assert (detail_type, announced.announcement_id) == (
        "Payment Captured",
        f"{captured['capture_id']}:captured",
    )
