"""One API campaign segment on a fresh local runtime: the API served on loopback, the sandbox
provider (whose webhooks go through the relay), the Aplazame sandbox, reconciliation every few
seconds; then everything is let settle and the verdict is drawn."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from order_capture.domain.merchant_api import api_shipment_id
from order_capture.models import capture_id_for
from order_capture_local.aplazame_sandbox import AplazameSandbox
from order_capture_local.chaos.api import ApiCampaign, World
from order_capture_local.chaos.api_plan import CAPTURE_KINDS, MERCHANT
from order_capture_local.chaos.api_verdict import ApiVerdict
from order_capture_local.chaos.checks import (
    add_figures,
    announcement_figures,
    executions_over_the_state_limit,
    record_function_errors,
    release_figures,
    running_executions,
)
from order_capture_local.chaos.later import reconcile_after_the_deadline
from order_capture_local.chaos.relay import WebhookRelay
from order_capture_local.lambda_service import patched_environ
from order_capture_local.runtime import LocalRuntime

#: How long the confirmation workflow waits for a webhook here (late ones come after it).
CONFIRMATION_TIMEOUT_SECONDS = 2
#: Reconciliation runs this often during the campaign, on captures older than the grace.
RECONCILE_EVERY_SECONDS = 4.0
RECONCILE_GRACE_SECONDS = 2


class Reconciler:
    """ReconcileFunction invoked on a schedule, as EventBridge Scheduler does, in a thread."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self.runs = 0
        self.failed: Counter[str] = Counter()
        self.figures: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reconciler", daemon=True)

    def run_once(self, grace_seconds: int, *, after_the_deadline: bool = False) -> None:
        invocation = (
            reconcile_after_the_deadline(self.runtime)
            if after_the_deadline
            else self.runtime.invoke("ReconcileFunction", {"grace_seconds": grace_seconds})
        )
        self.runs += 1
        if invocation.failed:
            self.failed[str(invocation.error_type)] += 1
            return
        payload = dict(invocation.payload)
        refunds = payload.pop("refunds", {})
        self.figures.update({k: v for k, v in payload.items() if isinstance(v, int)})
        self.figures.update({f"refunds {k}": v for k, v in refunds.items() if isinstance(v, int)})

    def _loop(self) -> None:
        while not self._stop.wait(RECONCILE_EVERY_SECONDS):
            self.run_once(RECONCILE_GRACE_SECONDS)

    def start(self) -> Reconciler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _ignore_error(request: Any, client_address: Any) -> None:
    """socketserver's handle_error, silent."""


def _wait_until(condition: Callable[[], bool], timeout_seconds: float) -> bool:
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _sandbox_notifying() -> bool:
    return any(thread.name == "sandbox-webhook" for thread in threading.enumerate())


def settle(world: World, reconciler: Reconciler, progress: Callable[[str], None]) -> None:
    """What time does on AWS: the providers' notifications arrive (the held ones last),
    waits end, and reconciliation runs until nothing is left in flight."""
    runtime = world.runtime
    for _ in range(2):
        progress("settling: notifications")
        _wait_until(lambda: not _sandbox_notifying(), 60)
        world.relay.wait_idle(120)
        progress("settling: executions")
        _wait_until(lambda: running_executions(runtime) == 0, 60)
        progress("settling: reconciliation")
        reconciler.run_once(0)
        world.relay.release_held()
    progress("settling: held notifications")
    _wait_until(lambda: not _sandbox_notifying(), 60)
    world.relay.wait_idle(120)
    reconciler.run_once(0)
    # The run after SETTLER_DEADLINE: what a settler that gave up handed over is announced.
    # Only once nothing is in flight: the moved clock would take a live settler for over.
    _wait_until(lambda: running_executions(runtime) == 0, 60)
    world.relay.wait_idle(120)
    reconciler.run_once(0, after_the_deadline=True)


def run_api_segment(
    orders: int,
    seed: int,
    *,
    concurrency: int = 6,
    large_orders: int = 1,
    progress: Callable[[str], None] | None = None,
    log_level: str = "WARNING",
) -> dict[str, Any]:
    campaign = ApiCampaign(
        seed=seed, orders_wanted=orders, concurrency=concurrency, large_orders=large_orders
    )
    campaign.plan()
    hmac_key = secrets.token_hex(32)
    aplazame = AplazameSandbox().start()
    credentials = {
        MERCHANT: {
            "sandbox": {"api_key": "unused", "webhook_hmac_key": hmac_key},
            "aplazame": {"api_key": "chaos-private-key", "base_url": aplazame.url},
        }
    }
    try:
        with (
            patched_environ({"PROVIDER_CREDENTIALS_JSON": json.dumps(credentials)}),
            LocalRuntime(
                retry_time_scale=0.02,
                log_level=log_level,
                parameter_overrides={
                    "ProviderTimeoutSeconds": "0.3",
                    "ProviderConfirmationTimeoutSeconds": str(CONFIRMATION_TIMEOUT_SECONDS),
                },
            ) as runtime,
        ):
            return _run(campaign, runtime, aplazame, hmac_key, progress)
    finally:
        aplazame.stop()


def _run(
    campaign: ApiCampaign,
    runtime: LocalRuntime,
    aplazame: AplazameSandbox,
    hmac_key: str,
    progress: Callable[[str], None] | None,
) -> dict[str, Any]:
    from order_capture_local.api_server import ApiServer, LocalApi  # noqa: PLC0415

    api = LocalApi(runtime)
    server = ApiServer(api, port=0, access_log=False).start()
    relay = WebhookRelay(server.url, seed=campaign.seed).start()
    assert runtime.sandbox is not None
    for quiet in (server, relay, runtime.sandbox, aplazame):
        # A client that gave up (a timeout the campaign injected) is no news: no traceback.
        quiet.handle_error = _ignore_error  # type: ignore[method-assign]
    runtime.sandbox.configure_webhook(f"{relay.url}/webhooks/sandbox", hmac_key)
    world = World(
        runtime, server.url, api.create_api_key(MERCHANT), runtime.sandbox, aplazame, relay,
        hmac_key,
    )  # fmt: skip
    function_errors: list[str] = []
    record_function_errors(runtime, "ApiFunction", function_errors)
    reconciler = Reconciler(runtime).start()
    try:
        campaign.run(world, progress)
        reconciler.stop()
        settle(world, reconciler, progress or (lambda _: None))
        _ask_again(campaign, world)
        judge = ApiVerdict(campaign, world, runtime.ledger())
        verdict = judge.check()
        figures = Counter(verdict["figures"])
        announced = announcement_figures(runtime.emitted_events, list(judge.captures.values()))
        add_figures(figures, verdict["examples"], announced)
        add_figures(
            figures,
            verdict["examples"],
            release_figures(judge.order_models, world.sandbox.state, aplazame.state),
        )
        figures["executions_over_the_state_limit"] += _large_executions_over_limit(
            campaign, runtime
        )
        figures["unexpected_answers"] += sum(campaign.unexpected.values())
        figures["webhooks_never_accepted"] += relay.counts["never accepted"]
        figures["reconciliation_runs_failed"] += sum(reconciler.failed.values())
        operator = figures.pop("left_to_an_operator", 0)
        return {
            "seed": campaign.seed,
            "left to an operator": operator,
            "api orders": len(campaign.plans),
            "api requests": len(campaign.sent),
            "slowest api request (s)": max((s.seconds for s in campaign.sent), default=0.0),
            "api requests by kind": dict(Counter(sent.kind for sent in campaign.sent)),
            "api answers by status": dict(
                Counter(f"{sent.kind} {sent.status}" for sent in campaign.sent)
            ),
            "faults injected": dict(campaign.injected)
            | {f"provider {k}": n for k, n in runtime.sandbox.state.faults_served.items()}
            | {f"aplazame {k}": n for k, n in aplazame.state.faults_served.items()},
            "webhooks": dict(relay.counts),
            "provider releases": len(world.sandbox.state.releases) + len(aplazame.state.voids),
            "reconciliation runs": reconciler.runs,
            "reconciliation": dict(reconciler.figures),
            "outcome": dict(figures),
            "examples": verdict["examples"]
            | _examples(campaign, reconciler, relay, function_errors),
        }
    finally:
        relay.stop()
        server.stop()
        api.close()


def _examples(
    campaign: ApiCampaign,
    reconciler: Reconciler,
    relay: WebhookRelay,
    function_errors: list[str],
) -> dict[str, list[str]]:
    examples = {}
    if relay.refused:
        examples["webhooks_never_accepted"] = list(relay.refused)
    if campaign.unexpected:
        # A 502 is a failed ApiFunction: what it raised comes first.
        examples["unexpected_answers"] = [
            *function_errors,
            str(dict(campaign.unexpected)),
            *campaign.unexpected_examples,
        ]
    if reconciler.failed:
        examples["reconciliation_runs_failed"] = [str(dict(reconciler.failed))]
    return examples


def _ask_again(campaign: ApiCampaign, world: World) -> None:
    """Once all has settled, a client asks again, with its key, whatever got no final answer:
    the answer must now come (README: 503 means retry later)."""
    import httpx  # noqa: PLC0415

    unanswered = [s for s in campaign.sent if s.status is None or s.status >= 500]
    with httpx.Client(base_url=world.api_url, timeout=300) as client:
        for sent in unanswered:
            with campaign.lock:
                campaign.sent.remove(sent)
            campaign._send(client, world, sent, retries=1)


def _large_executions_over_limit(campaign: ApiCampaign, runtime: LocalRuntime) -> int:
    large = {plan.order_id for plan in campaign.plans if plan.large}
    capture_ids = {
        capture_id_for(MERCHANT, s.order_id, api_shipment_id(MERCHANT, s.key))
        for s in campaign.sent
        if s.order_id in large and s.kind in CAPTURE_KINDS
    }
    # API executions are named api-<capture id prefix>-..., confirmations by the capture id.
    prefixes = capture_ids | {f"api-{capture_id[:24]}" for capture_id in capture_ids}
    if not prefixes:
        return 0
    return executions_over_the_state_limit(
        runtime, ["CaptureApiStateMachine", "ConfirmationStateMachine"], prefixes
    )
