"""A provider that never confirms: the confirmation workflow gives up after
ProviderConfirmationTimeoutSeconds, the capture stays reserved, and a late webhook still
settles the ledger and announces the capture. Likewise for a capture whose answer was lost:
it ends requires_action, and the provider's webhook settles and announces it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.api_support import (
    LocalApiUnderTest,
    Merchant,
    idempotency_key,
    ledger_items,
    seed_order,
)
from tests.integration.async_support import (
    CONFIRMATION_MACHINE,
    capture_asynchronously,
    confirmation_execution,
    events_about,
    order_totals,
    post_webhook,
    signed_notification,
    signed_webhook_api,
    wait_for_status,
    webhook_merchant,
)

TIMEOUT_SECONDS = 1
#: How long a test waits, at most, for a step that the machine's load may slow down.
BOUND_SECONDS = 30


@pytest.fixture(scope="module")
def silent_provider_api() -> Iterator[LocalApiUnderTest]:
    overrides = {
        "ProviderConfirmationTimeoutSeconds": str(TIMEOUT_SECONDS),
        "ProviderTimeoutSeconds": "1",
    }
    with signed_webhook_api(overrides, sandbox_calls_webhook=False, retry_time_scale=0.05) as api:
        yield api


@pytest.fixture
def merchant(silent_provider_api: LocalApiUnderTest) -> Merchant:
    return webhook_merchant(silent_provider_api)


def test_an_overdue_confirmation_keeps_the_reservation_and_a_late_webhook_settles_it(
    silent_provider_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    api = silent_provider_api
    order_id, capture = capture_asynchronously(api, merchant, "async")
    # The provider never calls back: the wait times out and says so
    confirmation = confirmation_execution(api, capture["id"])
    assert (confirmation.status, confirmation.error) == ("FAILED", "ConfirmationOverdue")
    assert confirmation.states == ["AwaitProviderConfirmation", "ConfirmationOverdue"]
    # The provider may still capture: nothing is released, nothing announced
    assert order_totals(merchant, order_id) == (0, 10050)
    assert events_about(api, capture["id"]) == []
    # When the webhook finally arrives it settles the ledger and, as nothing waits any more,
    # announces the capture itself; a repeat changes nothing
    for _ in range(2):
        response = post_webhook(
            api, merchant.merchant_id, signed_notification(capture["id"], "CAPTURE", "true")
        )
        assert (response.status_code, response.text) == (202, "[accepted]")
    wait_for_status(merchant, order_id, capture["id"], "captured")
    assert order_totals(merchant, order_id) == (10050, 0)
    assert events_about(api, capture["id"]) == ["Payment Captured"]


def test_a_capture_whose_answer_was_lost_is_settled_by_its_webhook(
    silent_provider_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    api = silent_provider_api
    detail = seed_order(merchant.merchant_id)
    assert merchant.put_order(detail).status_code == 200
    assert api.runtime.sandbox is not None
    # The provider captures but every answer is lost: the capture ends requires_action
    api.runtime.sandbox.add_fault("timeout_after_capture", count=4, delay_seconds=1.6)
    with merchant.client() as client:
        client.post(
            f"/orders/{detail['order_id']}/captures",
            json={"amount": 10050},
            headers=idempotency_key(),
        )
    (stuck,) = [
        item
        for item in ledger_items(api, merchant.merchant_id)
        if item["SK"].startswith("CAPTURE#") and item["order_id"] == detail["order_id"]
    ]
    assert (stuck["status"], stuck.get("provider_reference")) == ("requires_action", None)
    assert order_totals(merchant, detail["order_id"]) == (0, 10050)
    # The provider's webhook names it by our key: found, captured, and announced
    response = post_webhook(
        api, merchant.merchant_id, signed_notification(stuck["capture_id"], "CAPTURE", "true")
    )
    assert (response.status_code, response.text) == (202, "[accepted]")
    assert order_totals(merchant, detail["order_id"]) == (10050, 0)
    assert events_about(api, stuck["capture_id"]) == ["Payment Capture Failed", "Payment Captured"]


def test_campaign_a_task_token_is_refused_after_its_wait_timed_out_as_on_aws(
    silent_provider_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    import boto3
    from botocore.exceptions import ClientError

    from order_capture.adapters.stepfunctions import StepFunctionsConfirmationWaiters
    from order_capture.models import Capture
    from order_capture_local.template import LOCAL_REGION

    api = silent_provider_api
    assert api.runtime.sandbox is not None
    with api.runtime.sandbox.state.lock:  # faults an earlier test armed and its capture left
        api.runtime.sandbox.state.faults.clear()
    order_id, capture = capture_asynchronously(api, merchant, "async")
    # Given a confirmation wait that timed out (its execution ended ConfirmationOverdue)
    assert confirmation_execution(api, capture["id"]).error == "ConfirmationOverdue"
    ledger = api.runtime.repository()
    token = ledger.confirmation_state(merchant.merchant_id, order_id, capture["id"]).task_token
    assert token is not None
    client = boto3.client("stepfunctions", region_name=LOCAL_REGION)
    # When the webhook completes it late, Step Functions refuses the token: TaskTimedOut
    # (moto accepted a SendTaskFailure then, and answered SendTaskSuccess InvalidToken)
    with pytest.raises(ClientError) as refused:
        client.send_task_success(taskToken=token, output="{}")
    assert refused.value.response["Error"]["Code"] == "TaskTimedOut"
    with pytest.raises(ClientError) as refused:
        client.send_task_failure(taskToken=token, error="ProviderDeclinedError")
    assert refused.value.response["Error"]["Code"] == "TaskTimedOut"
    # and so the webhook knows nothing waits, and announces the outcome itself
    stored = ledger.get_capture(merchant.merchant_id, order_id, capture["id"])
    assert isinstance(stored, Capture)
    machine = api.runtime.state_machine_arns[CONFIRMATION_MACHINE]
    waiters = StepFunctionsConfirmationWaiters(machine, client=client)
    assert not waiters.fail(token, "ProviderDeclinedError", "late")
    assert not waiters.succeed(token, stored.model_copy(update={"status": "captured"}))
    # and its execution's history says nobody completed it
    assert waiters.completed_as(capture["id"]) is None


def test_campaign_a_token_completed_just_before_its_wait_times_out_is_announced_once(
    silent_provider_api: LocalApiUnderTest, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The campaign's "announced captured 0x" (api-7502-0004, api-7502-0005): the webhook's
    SendTaskSuccess came just before the confirmation wait's time ran out, and moto accepted
    it, but its task still timed out (its thread had not carried the outcome on by then), so
    the webhook left the announcing to a wait that ended ConfirmationOverdue. On AWS a token
    accepted is the task's outcome: the wait succeeds and its workflow announces."""
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

    from order_capture_local import moto_corrections

    api = silent_provider_api
    assert api.runtime.sandbox is not None
    with api.runtime.sandbox.state.lock:  # faults an earlier test armed and its capture left
        api.runtime.sandbox.state.faults.clear()
    answered: list[httpx.Response] = []
    wait = CallbackEndpoint.wait

    def noted_capture(token: str) -> str | None:
        """The capture whose CAPTURE_REF#<merchant>#<capture id> item holds ``token``."""
        for item in ledger_items(api, merchant.merchant_id):
            if item.get("confirmation_token") == token:
                return str(item["PK"]).rsplit("#", 1)[-1]
        return None

    webhook_answered = threading.Event()
    time_runs_out = moto_corrections._TaskDoneEvent.wait

    def webhook_then_a_slow_task(endpoint: CallbackEndpoint, timeout: float | None = None) -> Any:
        # The task's thread waits for its token while AwaitConfirmation notes it: the
        # provider's webhook completes it, and the thread is slow to carry it on.
        deadline = time.monotonic() + BOUND_SECONDS
        while not answered and time.monotonic() < deadline:
            capture_id = noted_capture(endpoint.callback_id)
            if capture_id is not None:
                notification = signed_notification(capture_id, "CAPTURE", "true")
                answered.append(post_webhook(api, merchant.merchant_id, notification))
                webhook_answered.set()
                time.sleep(TIMEOUT_SECONDS + 0.5)
            time.sleep(0.02)
        return wait(endpoint, timeout)

    def runs_out_just_after_the_webhook(
        event: moto_corrections._TaskDoneEvent, timeout: float | None = None
    ) -> bool:
        # The wait's time runs out right after the webhook's SendTaskSuccess, while the
        # thread still sleeps: whatever the machine's load, not "within half a timeout".
        if event.endpoint is not None:
            webhook_answered.wait(BOUND_SECONDS)
            timeout = 0
        return time_runs_out(event, timeout)

    monkeypatch.setattr(CallbackEndpoint, "wait", webhook_then_a_slow_task)
    monkeypatch.setattr(moto_corrections._TaskDoneEvent, "wait", runs_out_just_after_the_webhook)
    order_id, capture = capture_asynchronously(api, merchant, "async")
    # Given the provider's CAPTURE webhook accepted just before the wait's time ran out
    execution = confirmation_execution(api, capture["id"])
    assert [(r.status_code, r.text) for r in answered] == [(202, "[accepted]")]
    # the wait ends with the webhook's outcome, and its workflow announces it once
    assert (execution.status, execution.error) == ("SUCCEEDED", None)
    assert order_totals(merchant, order_id) == (10050, 0)
    assert events_about(api, capture["id"]) == ["Payment Captured"]
