"""Record step, for a capture the provider only received (Adyen answers "received" and tells
the outcome by webhook): hand it to the confirmation workflow instead of confirming it.

Record does this rather than a Choice state after Capture: Standard workflows bill every
state entered, and every capture would pay for that Choice. The capture stays pending with
its amount reserved; the confirmation workflow waits for the webhook with a task token and
announces the outcome (statemachine/confirmation.asl.json).
"""

from __future__ import annotations

from order_capture.models import Capture, CaptureStatus
from order_capture.ports import ConfirmationWorkflows


def awaits_provider(capture: Capture) -> bool:
    """Whether ``capture`` is reserved and received by a provider that confirms later."""
    return capture.status is CaptureStatus.PENDING and capture.status_at_provider == "pending"


def hand_over(workflows: ConfirmationWorkflows, capture: Capture, execution_id: str | None) -> bool:
    """Start the wait for ``capture``'s confirmation; False if this shipment's first
    execution started it before (a redelivery, or this step retried). Raises
    ``ConfirmationNotAwaitedError`` if it cannot be started: never a release, since the
    provider holds the capture, and the webhook still settles the ledger."""
    return workflows.start(capture, execution_id or capture.execution_id)
