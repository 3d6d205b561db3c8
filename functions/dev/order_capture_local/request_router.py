"""The botocore hook that stands in for moto's stubber while a local runtime is active: a
Lambda ``Invoke`` runs the function in-process, DynamoDB requests are served one at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from order_capture_local.runtime import LocalRuntime

_ACTIVE_RUNTIME: LocalRuntime | None = None


def activate(runtime: LocalRuntime) -> None:
    """Route this process's AWS requests through ``runtime`` (one embedded AWS per process,
    like moto's)."""
    global _ACTIVE_RUNTIME  # noqa: PLW0603
    _ACTIVE_RUNTIME = runtime


def deactivate(runtime: LocalRuntime) -> None:
    global _ACTIVE_RUNTIME  # noqa: PLW0603
    if _ACTIVE_RUNTIME is runtime:
        _ACTIVE_RUNTIME = None


def _route_request(request: Any, **kwargs: Any) -> Any:
    """Stands in for moto's botocore stubber (the one ``before-send`` handler answering AWS
    requests) while a runtime is active:

    * Lambda ``Invoke`` of a template function runs its handler in-process;
    * DynamoDB requests are served one at a time: DynamoDB applies each request (a condition
      and its write, a whole transaction) atomically, moto's in-memory tables do not when
      executions run in parallel threads;
    * everything else goes to moto as usual.
    """
    from moto.core.models import botocore_stubber  # noqa: PLC0415

    runtime = _ACTIVE_RUNTIME
    if runtime is None:
        return botocore_stubber(request=request, **kwargs)
    event_name = kwargs.get("event_name", "")
    if event_name == "before-send.lambda.Invoke":
        return runtime._dispatch_lambda(request)
    if event_name.startswith("before-send.dynamodb."):
        with runtime._dynamodb_lock:
            return botocore_stubber(request=request, **kwargs)
    return botocore_stubber(request=request, **kwargs)


def install(builtin_handlers: list[Any]) -> None:
    """Replace moto's stubber by :func:`_route_request` in botocore's built-in handlers, so
    that every session created from now on answers through it (once per process)."""
    from moto.core.models import botocore_stubber  # noqa: PLC0415

    for index, entry in enumerate(builtin_handlers):
        if entry[1] is botocore_stubber:
            builtin_handlers[index] = (entry[0], _route_request, *entry[2:])
