"""`Payment Captured` / `Payment Capture Failed` once when the provider's webhook settles a
received capture before its confirmation wait noted the task token (on moto). The campaign
saw it announced 0 times: the webhook left the announcing to the waiter, whose function never
noted the token before the wait timed out. Whatever the waiter does after the webhook (never
runs, runs while the workflow still waits, runs after the wait timed out), one party
announces."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from order_capture.domain import reconciliation
from order_capture.models import CaptureStatus
from order_capture.ports import ProviderCapture, ProviderCaptureLookup
from tests.fake_providers import ReceivingProvider
from tests.integration.handover_support import (
    LATER,
    Publisher,
    Workflow,
    received_capture,
    wait_noting_its_token,
    webhook,
)


@pytest.mark.parametrize("succeeded", [True, False], ids=["captured", "failed"])
@pytest.mark.parametrize("waiter", ["runs-while-waiting", "runs-after-the-timeout"])
def test_campaign_a_capture_settled_before_its_wait_noted_the_token_is_announced_once(
    repository: Any, waiter: str, succeeded: bool
) -> None:
    # Given a received capture whose webhook settles it before its wait noted the token
    announced: list[str] = []
    workflow, publisher = Workflow(announced), Publisher(announced)
    pending = received_capture(repository)
    settled = webhook(repository, workflow, publisher, pending, succeeded)
    assert settled.status is (CaptureStatus.CAPTURED if succeeded else CaptureStatus.FAILED)
    # When the waiter's function runs then (while the workflow waits, or after it timed out)
    workflow.waiting = waiter == "runs-while-waiting"
    wait_noting_its_token(repository, workflow, publisher, pending)
    # Then the outcome is announced once, and the workflow waits no more
    expected = "Payment Captured" if succeeded else "Payment Capture Failed"
    assert announced == [expected]
    assert not workflow.waiting
    # and the provider repeating its notification announces nothing more
    webhook(repository, workflow, publisher, pending, succeeded)
    assert announced == [expected]


@pytest.mark.parametrize("succeeded", [True, False], ids=["captured", "failed"])
def test_campaign_a_capture_settled_before_its_wait_noted_the_token_and_the_wait_timed_out_is_announced_once(  # noqa: E501
    repository: Any, succeeded: bool
) -> None:
    # Given a received capture whose webhook settles it before its wait noted the token
    announced: list[str] = []
    workflow, publisher = Workflow(announced), Publisher(announced)
    pending = received_capture(repository)
    webhook(repository, workflow, publisher, pending, succeeded)
    # When the waiter's function never notes the token before the wait times out
    workflow.waiting = False
    # Then the outcome is announced once all the same
    expected = "Payment Captured" if succeeded else "Payment Capture Failed"
    assert announced == [expected]
    # and neither a repeated notification nor a late waiter announces it again
    webhook(repository, workflow, publisher, pending, succeeded)
    wait_noting_its_token(repository, workflow, publisher, pending)
    assert announced == [expected]


class CapturedAtTheProvider(ReceivingProvider):
    """What reconciliation finds: the provider captured it."""

    def find_capture(self, lookup: ProviderCaptureLookup) -> ProviderCapture | None:
        return ProviderCapture(
            provider_reference=f"psp-{lookup.idempotency_key}",
            amount=5000,
            currency="EUR",
            status="succeeded",
        )


def test_campaign_a_capture_reconciled_before_its_wait_noted_the_token_is_announced_once(
    repository: Any,
) -> None:
    # Given a received capture that reconciliation settles before its wait noted the token
    announced: list[str] = []
    workflow, publisher = Workflow(announced), Publisher(announced)
    pending = received_capture(repository)
    report = reconciliation.reconcile_open_captures(
        repository,
        lambda _: CapturedAtTheProvider(),
        LATER,
        timedelta(seconds=0),
        publisher=publisher,
        waiters=workflow,
        on_error=lambda _, error: (_ for _ in ()).throw(error),
    )
    assert report.confirmed == 1
    # When the waiter's function runs then, while its workflow waits
    wait_noting_its_token(repository, workflow, publisher, pending)
    # Then it is announced once (by reconciliation), and the workflow waits no more
    assert announced == ["Payment Captured"]
    assert not workflow.waiting
