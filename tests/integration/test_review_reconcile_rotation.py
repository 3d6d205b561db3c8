"""Review: Reconcile's deadline budget with captures that never get an answer.

A capture whose provider never answers is left exactly as it was ("unanswered": no write, its
``updated_at`` unchanged), so the OpenCaptures index lists it in the same place (oldest first)
on every run. If the first few stuck captures use up the captures' share of the run, the
captures after them are deferred on every run, forever: never reconciled, units never
released, money never confirmed (docs/guarantees.md: "Reconciliation settles every open
capture")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from order_capture.adapters.sandbox_provider import SandboxProvider
from order_capture.domain import capture_rules, service
from order_capture.errors import ProviderUnavailableError
from order_capture.handlers import reconcile
from order_capture.models import CaptureRequest, CaptureStatus, PlannedCapture, ReleaseStatus
from order_capture_local.sandbox import SandboxServer
from tests.factories import EXAMPLE_ORDER_TOTAL
from tests.integration.capture_support import NoProviders, captured_but_not_recorded, register
from tests.support import FakeLambdaContext, FixedClock, RecordingPublisher

#: Reconcile's Timeout (template.yaml) and what one unanswered lookup costs (the provider
#: timeout, PROVIDER_TIMEOUT_SECONDS, 10 s by default). Captures may start while more than
#: 60 + 0.4 * 240 = 156 s are left: 15 lookups of 10 s use up their share.
TIMEOUT_MS, STUCK_MS, STUCK = 300_000, 10_000, 15


def test_review_stuck_captures_at_the_head_of_the_index_starve_the_others(
    repository: Any, clock: FixedClock, sandbox: SandboxServer, monkeypatch: Any
) -> None:
    # Given 15 open captures whose provider never answers, the oldest in the index ...
    stuck = set()
    for order_id in (f"order-stuck-{n}" for n in range(STUCK)):
        stuck.add(captured_but_not_recorded(repository, clock, sandbox, order_id))
        clock.current += timedelta(seconds=1)
    # ... and two newer ones the provider did capture (a lookup settles them at once)
    healthy = {}
    for order_id in ("order-ok-1", "order-ok-2"):
        healthy[order_id] = captured_but_not_recorded(repository, clock, sandbox, order_id)
        clock.current += timedelta(seconds=1)

    elapsed_ms = [0]

    class Context(FakeLambdaContext):
        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return TIMEOUT_MS - elapsed_ms[0]

    class Down:
        idempotent_captures = True
        name = "sandbox"

        def find_capture(self, lookup: Any) -> Any:
            elapsed_ms[0] += STUCK_MS
            raise ProviderUnavailableError("sent, but no answer within 10.0s")

    def provider_of(capture: Any) -> Any:
        return Down() if capture.capture_id in stuck else SandboxProvider(sandbox.url)

    monkeypatch.setattr(reconcile, "_provider_of", provider_of)

    # When Reconcile runs on its schedule (every 15 minutes) for a few hours
    for _ in range(12):
        clock.current += timedelta(minutes=15)
        elapsed_ms[0] = 0
        reconcile.handle(
            {},
            Context(),
            repository=repository,
            clock=clock,
            providers=NoProviders(),
            publisher=RecordingPublisher(),
        )

    # Then the captures the provider made were reconciled at some point: the stuck ones
    # ahead of them in the index did not hold them back run after run
    statuses = {
        order_id: repository.get_capture("merchant-1", order_id, capture_id).status
        for order_id, capture_id in healthy.items()
    }
    assert statuses == {order_id: CaptureStatus.CAPTURED for order_id in healthy}, (
        "captures behind stuck ones in the OpenCaptures index were deferred on every run "
        f"(starved): {statuses}"
    )


class _Killed(BaseException):
    """Lambda stopping the function at its Timeout (nothing inside the handler catches it)."""


def _full_adyen_captures_not_recorded(
    repository: Any, clock: FixedClock, sandbox: SandboxServer, count: int
) -> list[str]:
    """``count`` Adyen orders authorized for 5.00 more than they cost, each shipped in full by a
    capture the provider made whose execution died before Record: confirming it finishes the
    order, whose remainder must then be released (Adyen's final capture releases nothing)."""
    orders = []
    for n in range(count):
        order_id = f"order-{n}"
        register(
            repository,
            clock,
            sandbox,
            order_id=order_id,
            provider="adyen",
            authorized_amount=EXAMPLE_ORDER_TOTAL + 500,
        )
        order = repository.get_order("merchant-1", order_id)
        request = CaptureRequest(merchant_id="merchant-1", order_id=order_id, shipment_id="s1")
        sent = service.execute_capture(
            repository,
            SandboxProvider(sandbox.url),
            planned=PlannedCapture(
                request=request, plan=capture_rules.plan_capture(order, request, clock.now())
            ),
            execution_id=f"exec-{order_id}",
            now=clock.now(),
        )
        assert sent.releases_authorization, "the capture finishes its order"
        orders.append(order_id)
    return orders


def test_review_releases_after_confirmed_captures_ignore_the_deadline(
    repository: Any, clock: FixedClock, sandbox: SandboxServer, monkeypatch: Any
) -> None:
    # Given 31 captures that each finish their order, captured at the provider, not recorded
    orders = _full_adyen_captures_not_recorded(repository, clock, sandbox, 31)
    elapsed_ms = [0]

    class Context(FakeLambdaContext):
        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return TIMEOUT_MS - elapsed_ms[0]

    class SlowReleases:
        """The provider answering each cancel only after its timeout (10 s), then not at all."""

        def provider(self, name: str, merchant_id: str) -> Any:
            return self

        def release(self, request: Any) -> Any:
            elapsed_ms[0] += STUCK_MS
            if elapsed_ms[0] >= TIMEOUT_MS:
                raise _Killed("Task timed out after 300.00 seconds")
            raise ProviderUnavailableError("sent, but no answer within 10.0s")

    class Sandboxes:
        def provider(self, name: str, merchant_id: str) -> Any:
            return SandboxProvider(sandbox.url)

    # (lookups answer at once: the sandbox has every capture)
    monkeypatch.setattr(reconcile, "_provider_of", lambda _: SandboxProvider(sandbox.url))

    # When Reconcile runs with its 300 s while the provider's cancels hang
    clock.current += timedelta(hours=1)
    try:
        first = reconcile.handle(
            {},
            Context(),
            repository=repository,
            clock=clock,
            providers=SlowReleases(),
            publisher=RecordingPublisher(),
        )
    except _Killed:
        raise AssertionError(
            "Reconcile released the remainders of the orders its captures finished without "
            "looking at its deadline: killed mid-run, no metrics, no log, refunds and releases "
            "never reached"
        ) from None
    # Then it kept its reserve
    assert first["confirmed"] == len(orders)
    assert TIMEOUT_MS - elapsed_ms[0] >= 60_000 - STUCK_MS, (
        f"it asked for releases with less than its 60 s reserve left ({elapsed_ms[0]} ms used)"
    )
    # And the next run, the provider answering again, releases every remainder: none was lost
    clock.current += timedelta(minutes=16)
    elapsed_ms[0] = 0
    reconcile.handle(
        {},
        Context(),
        repository=repository,
        clock=clock,
        providers=Sandboxes(),
        publisher=RecordingPublisher(),
    )
    statuses = {
        order_id: getattr(repository.get_release("merchant-1", order_id), "status", None)
        for order_id in orders
    }
    assert statuses == dict.fromkeys(orders, ReleaseStatus.RELEASED), statuses
