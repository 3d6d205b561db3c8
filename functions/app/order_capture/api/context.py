"""What a route needs besides its parameters: the caller's merchant and the collaborators.

The API function's entry point authenticates the request, then stores a :class:`RequestContext`
in the resolver's context for the routes; tests and the local server pass their own
:class:`ApiDependencies` instead of monkeypatching globals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import Router
    from aws_lambda_powertools.utilities.idempotency.persistence.base import (
        BasePersistenceLayer,
    )
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from order_capture.ports import (
        ApiKeyStore,
        ApiLedger,
        Clock,
        ConfirmationWaiters,
        EventPublisher,
        PaymentProviders,
        WebhookKeys,
        WorkflowStarter,
    )

REQUEST_CONTEXT_KEY = "order_capture_request"


@dataclass(frozen=True)
class ApiDependencies:
    repository: ApiLedger
    api_keys: ApiKeyStore
    workflow: WorkflowStarter
    clock: Clock
    idempotency_store: BasePersistenceLayer
    #: Webhooks complete the workflows waiting for a provider's confirmation...
    confirmation_waiters: ConfirmationWaiters
    #: ...and announce what changed when none waits any more.
    publisher: EventPublisher
    #: Refunds call the provider from the API; None where nothing is configured to do that.
    providers: PaymentProviders | None = None
    #: Webhook routes verify the provider's signature with these; None: every webhook is refused.
    webhook_keys: WebhookKeys | None = None


@dataclass(frozen=True)
class RequestContext:
    merchant_id: str
    dependencies: ApiDependencies
    lambda_context: LambdaContext
    #: Method, path, query and body: what an Idempotency-Key is bound to.
    fingerprint: dict[str, Any]


def request_context(router: Router) -> RequestContext:
    context = router.context.get(REQUEST_CONTEXT_KEY)
    if not isinstance(context, RequestContext):  # only when a route runs outside handle()
        raise RuntimeError("the request was not authenticated by order_capture.api.app.handle")
    return context
