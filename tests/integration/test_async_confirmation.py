"""Asynchronous confirmation end to end on the local runtime: the sandbox answers "received"
(like Adyen), the capture stays pending while the confirmation workflow waits with a task
token, and the signed webhook settles the ledger and completes that wait."""

from __future__ import annotations

import secrets
import threading
import uuid
from typing import Any

from tests.integration.api_support import LocalApiUnderTest, Merchant
from tests.integration.async_support import (
    async_api,
    capture_asynchronously,
    confirmation_execution,
    events_about,
    merchant,
    order_totals,
    post_webhook,
    refund_statuses,
    signed_notification,
    wait_for_capture,
    wait_for_status,
)

CONFIRMED_PATH = ["AwaitProviderConfirmation", "EmitCaptured", "Captured"]
DECLINED_PATH = ["AwaitProviderConfirmation", "RecordFailure", "EmitCaptureFailed", "CaptureFailed"]
ANNOUNCED_BY_SETTLER = ["AwaitProviderConfirmation", "AnnouncedBySettler"]


__all__ = ["async_api", "merchant"]  # fixtures


def test_received_capture_stays_pending_until_the_webhook_confirms_it(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    # When the provider only receives the capture
    order_id, capture = capture_asynchronously(async_api, merchant, "async")
    # Then the API answers with a pending capture, its amount reserved, not captured
    assert capture["status"] == "pending"
    assert capture["remaining_capture_amount"] == 70070 - 10050
    # And once the sandbox's signed CAPTURE webhook arrives, it is captured
    wait_for_status(merchant, order_id, capture["id"], "captured")
    assert order_totals(merchant, order_id) == (10050, 0)
    # And the webhook completed the confirmation workflow's wait, which announced it once
    confirmation = confirmation_execution(async_api, capture["id"])
    assert (confirmation.status, confirmation.states) == ("SUCCEEDED", CONFIRMED_PATH)
    assert (confirmation.output["status"], confirmation.output["amount"]) == ("captured", 10050)
    assert events_about(async_api, capture["id"]) == ["Payment Captured"]


def test_capture_failed_webhook_fails_the_capture_and_releases_the_reservation(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id, capture = capture_asynchronously(async_api, merchant, "async_failed")
    assert capture["status"] == "pending"
    wait_for_status(merchant, order_id, capture["id"], "failed")
    with merchant.client() as client:
        order = client.get(f"/orders/{order_id}").json()
        failed = client.get(f"/orders/{order_id}/captures/{capture['id']}").json()
    assert (order["captured_amount"], order["pending_amount"]) == (0, 0)
    assert order["remaining_capture_amount"] == 70070
    assert failed["failure_reason"] == "provider_declined"
    # The wait failed with ProviderDeclinedError, and the failure was announced with its reason
    confirmation = confirmation_execution(async_api, capture["id"])
    assert (confirmation.status, confirmation.states) == ("FAILED", DECLINED_PATH)
    assert events_about(async_api, capture["id"]) == ["Payment Capture Failed"]
    (announced,) = [
        e["detail"]
        for e in async_api.runtime.emitted_events
        if e["detail"].get("capture_id") == capture["id"]
    ]
    assert (announced["reason"], announced["error"]) == (
        "provider_declined",
        "ProviderDeclinedError",
    )
    assert "CAPTURE_FAILED" in announced["message"]


def test_a_late_failure_after_success_reverses_the_capture(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id, capture = capture_asynchronously(async_api, merchant, "async")
    wait_for_status(merchant, order_id, capture["id"], "captured")
    response = post_webhook(
        async_api,
        merchant.merchant_id,
        signed_notification(capture["id"], "CAPTURE_FAILED", "true"),
    )
    assert (response.status_code, response.text) == (202, "[accepted]")
    with merchant.client() as client:
        order = client.get(f"/orders/{order_id}").json()
        reversed_capture = client.get(f"/orders/{order_id}/captures/{capture['id']}").json()
    assert reversed_capture["status"] == "failed"
    assert (order["captured_amount"], order["capture_count"]) == (0, 0)
    assert order["remaining_capture_amount"] == 70070
    # Nothing waits any more, so the webhook announced the reversal itself, once, even when
    # the provider repeats the notification
    repeated = post_webhook(
        async_api,
        merchant.merchant_id,
        signed_notification(capture["id"], "CAPTURE_FAILED", "true"),
    )
    assert repeated.status_code == 202
    assert events_about(async_api, capture["id"]) == ["Payment Captured", "Payment Capture Failed"]


def test_a_repeated_capture_notification_changes_and_announces_nothing_more(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id, capture = capture_asynchronously(async_api, merchant, "async")
    wait_for_status(merchant, order_id, capture["id"], "captured")
    assert confirmation_execution(async_api, capture["id"]).status == "SUCCEEDED"
    for _ in range(2):
        response = post_webhook(
            async_api, merchant.merchant_id, signed_notification(capture["id"], "CAPTURE", "true")
        )
        assert (response.status_code, response.text) == (202, "[accepted]")
    assert order_totals(merchant, order_id) == (10050, 0)
    assert events_about(async_api, capture["id"]) == ["Payment Captured"]


def test_a_webhook_faster_than_the_wait_is_not_missed(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    """The webhook settles the capture before the confirmation workflow has noted its task
    token, and announces it (no wait to complete): AwaitConfirmation finds the capture settled
    and announced, and completes its own wait without announcing it again."""
    runtime = async_api.runtime
    settled = threading.Event()

    def after_the_webhook(payload: Any) -> None:
        capture_id = payload["capture"]["capture_id"]
        order_id = payload["capture"]["order_id"]
        wait_for_status(merchant, order_id, capture_id, "captured")
        settled.set()

    runtime.fault_hooks["AwaitConfirmationFunction"] = after_the_webhook
    try:
        order_id, capture = capture_asynchronously(async_api, merchant, "async", delay_seconds=0)
        confirmation = confirmation_execution(async_api, capture["id"])
    finally:
        runtime.fault_hooks.pop("AwaitConfirmationFunction")
    assert settled.is_set()
    assert (confirmation.status, confirmation.states) == ("SUCCEEDED", ANNOUNCED_BY_SETTLER)
    assert order_totals(merchant, order_id) == (10050, 0)
    assert events_about(async_api, capture["id"]) == ["Payment Captured"]


def test_defect_webhook_before_the_wait_then_repeated_is_announced_once(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    """The webhook settled (and announced) the capture before the wait was noted, so
    AwaitConfirmation completed its own wait; the provider repeating its notification later
    must not announce the capture a second time."""
    runtime = async_api.runtime

    def after_the_webhook(payload: Any) -> None:
        capture = payload["capture"]
        wait_for_status(merchant, capture["order_id"], capture["capture_id"], "captured")

    runtime.fault_hooks["AwaitConfirmationFunction"] = after_the_webhook
    try:
        _, capture = capture_asynchronously(async_api, merchant, "async", delay_seconds=0)
        confirmation = confirmation_execution(async_api, capture["id"])
    finally:
        runtime.fault_hooks.pop("AwaitConfirmationFunction")
    assert confirmation.status == "SUCCEEDED"

    # When the provider repeats its notification
    response = post_webhook(
        async_api, merchant.merchant_id, signed_notification(capture["id"], "CAPTURE", "true")
    )

    # Then nothing more is announced
    assert (response.status_code, response.text) == (202, "[accepted]")
    assert events_about(async_api, capture["id"]) == ["Payment Captured"]


def test_forged_or_unsigned_webhooks_are_refused_and_change_nothing(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id, capture = capture_asynchronously(async_api, merchant, "async")
    wait_for_status(merchant, order_id, capture["id"], "captured")
    before = [i for i in async_api.runtime.ledger() if f"#{merchant.merchant_id}#" in i["PK"]]
    forged_key = signed_notification(capture["id"], "CAPTURE_FAILED", "true", secrets.token_hex(32))
    tampered = signed_notification(
        capture["id"],
        "CAPTURE",
        "true",
        merchantReference=capture["id"],
        eventCode="CAPTURE_FAILED",
    )
    unsigned = signed_notification(capture["id"], "CAPTURE_FAILED", "true", additionalData={})
    for body in (forged_key, tampered, unsigned):
        response = post_webhook(async_api, merchant.merchant_id, body)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["field"] == "hmacSignature"
    other_merchant = post_webhook(
        async_api, "someone-else", signed_notification(capture["id"], "CAPTURE_FAILED", "true")
    )
    assert other_merchant.status_code == 401
    after = [i for i in async_api.runtime.ledger() if f"#{merchant.merchant_id}#" in i["PK"]]
    assert after == before


def test_a_reference_the_ledger_does_not_know_is_accepted_whatever_its_shape(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    # Ours are in the ledger from their reservation: one it does not know is not ours (defect
    # 10: one shaped like our ids used to be answered 503 forever)
    for reference in (uuid.uuid4().hex, "shop-ref-17"):
        response = post_webhook(
            async_api, merchant.merchant_id, signed_notification(reference, "CAPTURE", "true")
        )
        assert (response.status_code, response.text) == (202, "[accepted]")


def refund_received(
    api: LocalApiUnderTest, merchant: Merchant, kind: str
) -> tuple[str, str, dict[str, Any]]:
    """A synchronous capture of 10050, then a refund of 3000 the sandbox only receives and
    decides (``kind``) by webhook: (order id, capture id, the API's answer)."""
    order_id, capture = capture_asynchronously(api, merchant, "latency", delay_seconds=0)
    assert capture["status"] == "captured"
    assert api.runtime.sandbox is not None
    api.runtime.sandbox.add_fault(kind, delay_seconds=0.3, operation="refund")
    # Held until the API has answered, as capture_asynchronously does: under load the answer
    # took longer than 0.3 s and showed the webhook's outcome (refunded 3000) beside "pending".
    api.runtime.sandbox.hold_webhooks()
    try:
        with merchant.client() as client:
            response = client.post(
                f"/orders/{order_id}/captures/{capture['id']}/refunds",
                json={"amount": 3000},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
    finally:
        api.runtime.sandbox.release_webhooks()
    assert response.status_code == 200, response.text
    return order_id, capture["id"], response.json()


def test_a_refund_the_provider_confirms_later_stays_reserved_until_its_webhook(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id, capture_id, answer = refund_received(async_api, merchant, "async")
    # Received, not done: the amount is reserved, not refunded
    assert answer["refund"]["status"] == "pending"
    assert (answer["refunded_amount"], answer["remaining_amount"]) == (0, 7050)
    # The signed REFUND webhook makes it refunded, on the capture and the order
    settled = wait_for_capture(
        merchant,
        order_id,
        capture_id,
        lambda c: refund_statuses(c) == ["refunded"],
    )
    assert (settled["refunded_amount"], settled["remaining_amount"]) == (3000, 7050)
    with merchant.client() as client:
        assert client.get(f"/orders/{order_id}").json()["refunded_amount"] == 3000
    # A repeated notification changes nothing
    notification = signed_notification(answer["refund"]["id"], "REFUND", "true")
    repeated = post_webhook(async_api, merchant.merchant_id, notification)
    assert (repeated.status_code, repeated.text) == (202, "[accepted]")
    with merchant.client() as client:
        again = client.get(f"/orders/{order_id}/captures/{capture_id}").json()
        assert client.get(f"/orders/{order_id}").json()["refunded_amount"] == 3000
    assert (again["refunded_amount"], again["remaining_amount"]) == (3000, 7050)


def test_a_refund_the_provider_fails_later_is_refundable_again(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id, capture_id, answer = refund_received(async_api, merchant, "async_failed")
    assert answer["refund"]["status"] == "pending"
    # A failed refund is not listed; its reservation is given back
    failed = wait_for_capture(merchant, order_id, capture_id, lambda c: not c["refunds"])
    assert (failed["refunded_amount"], failed["remaining_amount"]) == (0, 10050)
    (stored,) = [
        item
        for item in async_api.runtime.ledger()
        if item["SK"].startswith(f"REFUND#{capture_id}#")
    ]
    assert (stored["status"], stored["failure"]["reason"]) == ("failed", "provider_declined")
    assert "Refund rejected" in stored["failure"]["message"]
    with merchant.client() as client:
        assert client.get(f"/orders/{order_id}").json()["refunded_amount"] == 0


def test_a_refund_the_provider_fails_after_confirming_it_is_reversed_once(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    order_id, capture_id, answer = refund_received(async_api, merchant, "async")
    wait_for_capture(
        merchant,
        order_id,
        capture_id,
        lambda c: refund_statuses(c) == ["refunded"],
    )
    # Adyen's REFUND_FAILED after the refund: the money came back to the merchant
    for _ in range(2):
        response = post_webhook(
            async_api,
            merchant.merchant_id,
            signed_notification(answer["refund"]["id"], "REFUND_FAILED", "true"),
        )
        assert (response.status_code, response.text) == (202, "[accepted]")
    with merchant.client() as client:
        after = client.get(f"/orders/{order_id}/captures/{capture_id}").json()
        assert client.get(f"/orders/{order_id}").json()["refunded_amount"] == 0
    assert (after["refunds"], after["refunded_amount"], after["remaining_amount"]) == ([], 0, 10050)


def test_defect_12_a_lost_sendtasksuccess_answer_is_announced_once_by_the_real_workflow(
    async_api: LocalApiUnderTest, merchant: Merchant, monkeypatch: Any
) -> None:
    """The webhook's SendTaskSuccess completed the wait (its workflow announces) but its
    answer was lost (a read timeout): the webhook fails, the provider redelivers, the
    redelivery's token is refused, and the execution's history (GetExecutionHistory) says the
    wait was completed as captured: nothing is announced a second time."""
    from order_capture.adapters.stepfunctions import StepFunctionsConfirmationWaiters

    succeed = StepFunctionsConfirmationWaiters.succeed
    lost: list[str] = []

    def answer_lost(waiters: Any, task_token: str, capture: Any) -> bool:
        completed = succeed(waiters, task_token, capture)
        if completed and not lost:
            lost.append(capture.capture_id)
            raise ConnectionError("SendTaskSuccess: read timed out")
        return completed

    monkeypatch.setattr(StepFunctionsConfirmationWaiters, "succeed", answer_lost)
    # When the provider confirms a capture it received, and the first completion's answer
    # is lost
    order_id, capture = capture_asynchronously(async_api, merchant, "async")
    confirmation = confirmation_execution(async_api, capture["id"])
    wait_for_status(merchant, order_id, capture["id"], "captured")
    # Then the wait was completed once, by the first webhook, and announced once, by the
    # workflow; the redelivery's refused token was told apart from a timed-out wait
    assert lost == [capture["id"]]
    assert (confirmation.status, confirmation.states) == ("SUCCEEDED", CONFIRMED_PATH)
    machine = async_api.runtime.state_machine_arns["ConfirmationStateMachine"]
    waiters = StepFunctionsConfirmationWaiters(machine)
    assert waiters.completed_as(capture["id"]) == "captured"
    assert order_totals(merchant, order_id) == (10050, 0)
    assert events_about(async_api, capture["id"]) == ["Payment Captured"]


def test_a_failed_wait_is_told_from_the_execution_history(
    async_api: LocalApiUnderTest, merchant: Merchant
) -> None:
    from order_capture.adapters.stepfunctions import StepFunctionsConfirmationWaiters

    order_id, capture = capture_asynchronously(async_api, merchant, "async_failed")
    wait_for_status(merchant, order_id, capture["id"], "failed")
    assert confirmation_execution(async_api, capture["id"]).states == DECLINED_PATH
    machine = async_api.runtime.state_machine_arns["ConfirmationStateMachine"]
    waiters = StepFunctionsConfirmationWaiters(machine)
    assert waiters.completed_as(capture["id"]) == "failed"
    assert waiters.completed_as("0" * 32) is None  # no such execution: cannot be told
