"""The local runtime: template.yaml on an embedded AWS, without Docker or an AWS account.

* AWS is moto, in-process, with Step Functions executing the real ASL definition from
  ``statemachine/`` (moto's interpreter), DynamoDB with real conditional writes and
  transactions, and EventBridge's own pattern matcher for the template's rules.
* Lambda tasks are answered in-process: a botocore ``before-send`` hook catches the state
  machine's ``lambda:Invoke`` calls and runs the function's ``Handler`` from the template with
  the JSON payload and a Lambda context, as the Lambda service would. An exception becomes a
  function error (``X-Amz-Function-Error`` and ``errorType``), so ``Retry``/``Catch`` match it.
* The payment provider is the sandbox HTTP server on loopback.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from order_capture_local import moto_corrections, moto_speedups, request_router
from order_capture_local.emf import metrics_environment, metrics_to_stderr
from order_capture_local.emitters import Emitters, emitter
from order_capture_local.eventbridge import Delivery, matching_rules, normalize_event
from order_capture_local.executions import (
    ExecutionReport,
    execution_history,
    ledger_items,
    states_entered,
    wait_for_execution,
)
from order_capture_local.lambda_service import (
    Invocation,
    LambdaContext,
    LambdaCrash,
    LambdaDied,
    cold_containers,
    drop_unpublished_metrics,
    patched_environ,
)
from order_capture_local.sandbox import SandboxServer
from order_capture_local.template import (
    LOCAL_ACCOUNT,
    LOCAL_REGION,
    FunctionSpec,
    RuleSpec,
    Template,
    load_template,
    table_arguments,
)

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_TEMPLATE = PROJECT_ROOT / "template.yaml"

# What a local run needs that the template leaves to the Lambda environment.
_LOCAL_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": LOCAL_REGION,
    "AWS_REGION": LOCAL_REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
}


@dataclass(frozen=True)
class AwsCall:
    """One AWS API call a handler made: botocore's service name, operation and parameters."""

    service: str
    operation: str
    params: dict[str, Any]


class LocalRuntime:
    """template.yaml running on moto, with handlers in-process and the sandbox provider."""

    def __init__(
        self,
        template_path: Path = DEFAULT_TEMPLATE,
        parameter_overrides: dict[str, str] | None = None,
        log_level: str = "WARNING",
        sandbox: SandboxServer | None = None,
        retry_time_scale: float = 1.0,
    ) -> None:
        self.template_path = template_path
        self.parameter_overrides = dict(parameter_overrides or {})
        self.log_level = log_level
        self.sandbox = sandbox
        #: Multiplies the ASL Retry intervals moto sleeps through (1.0 = as on AWS). Tests and
        #: the fault campaign shrink them; the number and order of attempts stay the same.
        self.retry_time_scale = retry_time_scale
        self.template: Template
        self.request_counts: Counter[str] = Counter()
        #: Each with ``emitted_by``: who sent it, and when (``order_capture_local.emitters``).
        self.emitted_events: list[dict[str, Any]] = []
        self._emitters = Emitters()
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._stack = ExitStack()
        self._execution_counter = 0
        self._lock = threading.Lock()
        #: The AWS calls each function's handler made, as Lambda's role would be asked to allow
        #: them (tests check the template's policies cover them).
        self.calls_by_function: dict[str, list[AwsCall]] = {}
        self._invoking = threading.local()
        self._dynamodb_lock = threading.RLock()  # the local stack's server takes it too
        #: Called with the payload before a function's handler runs; raising fails the
        #: invocation (fault injection: a crash before the function did anything).
        self.fault_hooks: dict[str, Callable[[Any], None]] = {}
        #: Called with the payload and result after the handler ran; raising fails the
        #: invocation although its work is done (a crash or timeout after the side effects).
        self.after_hooks: dict[str, Callable[[Any, Any], None]] = {}
        #: Called with a function's PutEvents entries before they are sent (``LambdaDied``).
        self.send_hooks: dict[str, Callable[[list[dict[str, Any]]], None]] = {}

    # --- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> LocalRuntime:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        if self.sandbox is None:
            self.sandbox = SandboxServer().start()
            self._stack.callback(self.sandbox.stop)
        self.parameter_overrides.setdefault("SandboxProviderUrl", self.sandbox.url)
        self.template = load_template(self.template_path, self.parameter_overrides)
        self._stack.enter_context(patched_environ(self._environment()))

        import boto3  # noqa: PLC0415
        from botocore.handlers import BUILTIN_HANDLERS  # noqa: PLC0415
        from moto import mock_aws  # noqa: PLC0415

        request_router.install(BUILTIN_HANDLERS)
        request_router.activate(self)
        self._stack.callback(request_router.deactivate, self)
        self._stack.enter_context(
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        )
        if self.retry_time_scale != 1.0:
            self._scale_retry_intervals()
        moto_corrections.apply(self._patch)
        moto_speedups.apply(self._patch)
        # One botocore session for the handlers' clients (adapters.aws_clients) and boto3's
        # default session, so that the hooks below see every request.
        import botocore.session  # noqa: PLC0415

        from order_capture.adapters import aws_clients  # noqa: PLC0415

        shared = botocore.session.get_session()
        aws_clients.use_session(shared)
        boto3.setup_default_session(botocore_session=shared, region_name=LOCAL_REGION)
        session = boto3.DEFAULT_SESSION
        assert session is not None
        session.events.register("before-call", self._count_request)
        session.events.register("before-parameter-build", self._attribute_call)
        cold_containers()
        session.events.register("before-parameter-build.events.PutEvents", self._record_emitted)
        self._configure_handler_logging()
        self._create_resources()
        self.request_counts.clear()

    def _scale_retry_intervals(self) -> None:
        from types import SimpleNamespace  # noqa: PLC0415

        from moto.stepfunctions.parser.asl.component.common.retry import (  # noqa: PLC0415
            retrier_decl,
        )

        real_time = retrier_decl.time  # type: ignore[attr-defined]
        scale = self.retry_time_scale
        self._patch(
            retrier_decl, "time", SimpleNamespace(sleep=lambda s: real_time.sleep(s * scale))
        )

    def _patch(self, owner: object, name: str, replacement: object) -> None:
        """Set ``owner.name`` while the runtime runs; the original comes back on exit."""
        self._stack.callback(setattr, owner, name, getattr(owner, name))
        setattr(owner, name, replacement)

    def _environment(self) -> dict[str, str]:
        environment = dict(_LOCAL_ENVIRONMENT)
        for function in self.template.functions.values():
            environment.update(function.environment)
        environment["POWERTOOLS_LOG_LEVEL"] = self.log_level
        # Metrics would print EMF blobs on stdout, which belongs to the CLI's report locally:
        # off, unless ORDER_CAPTURE_SHOW_METRICS asks for them (on stderr, see emf).
        for name, value in metrics_environment().items():
            environment.setdefault(name, value)
        return environment

    def _configure_handler_logging(self) -> None:
        """Handlers log JSON as on Lambda, but to stderr: stdout carries the CLI's report."""
        import sys  # noqa: PLC0415

        from order_capture.observability import logger  # noqa: PLC0415

        logger.setLevel(self.log_level)
        for handler in logger.handlers:
            if hasattr(handler, "setStream"):
                previous = handler.setStream(sys.stderr)
                if previous is not None:
                    # Back to the old stream on exit: sys.stderr may be a capture that is
                    # closed once this runtime is gone (pytest's capsys).
                    self._stack.callback(handler.setStream, previous)

    def _create_resources(self) -> None:
        import boto3  # noqa: PLC0415

        dynamodb = boto3.client("dynamodb", region_name=LOCAL_REGION)
        for table in self.template.tables.values():
            dynamodb.create_table(**table_arguments(table))
        stepfunctions = boto3.client("stepfunctions", region_name=LOCAL_REGION)
        self.state_machine_arns: dict[str, str] = {}
        for machine in self.template.state_machines.values():
            created = stepfunctions.create_state_machine(
                name=machine.logical_id,
                definition=machine.definition(),
                roleArn=f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{machine.logical_id}Role",
                type="EXPRESS" if machine.workflow_type == "EXPRESS" else "STANDARD",
            )
            self.state_machine_arns[machine.logical_id] = created["stateMachineArn"]

    # --- AWS request accounting ----------------------------------------------------------------

    def _count_request(self, model: Any, **_: Any) -> None:
        self.request_counts[f"{model.service_model.service_id}.{model.name}"] += 1

    def _attribute_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        function_id = getattr(self._invoking, "function_id", None)
        if function_id is not None:
            call = AwsCall(model.service_model.service_name, model.name, dict(params))
            with self._lock:
                self.calls_by_function.setdefault(function_id, []).append(call)

    def invoking_function(self) -> str | None:
        """The function whose handler this thread is running (None: none, or unattributed)."""
        function_id: str | None = getattr(self._invoking, "function_id", None)
        return function_id

    @contextmanager
    def unattributed(self) -> Iterator[None]:
        """AWS calls in this block are not the invoked function's own (the local stand-in for
        StartSyncExecution drives an execution from the API function's thread)."""
        function_id = getattr(self._invoking, "function_id", None)
        name = getattr(self._invoking, "name", None)
        self._invoking.function_id = self._invoking.name = None
        try:
            yield
        finally:
            self._invoking.function_id, self._invoking.name = function_id, name

    def _record_emitted(self, params: dict[str, Any], **_: Any) -> None:
        hook = self.send_hooks.get(getattr(self._invoking, "function_id", None) or "")
        if hook is not None:
            hook(params.get("Entries", []))
        for entry in params.get("Entries", []):
            detail = entry.get("Detail", "{}")
            with self._lock:
                self.emitted_events.append(
                    {
                        "source": entry.get("Source"),
                        "detail-type": entry.get("DetailType"),
                        "detail": json.loads(detail) if isinstance(detail, str) else detail,
                        "emitted_by": emitter(getattr(self._invoking, "name", None), entry),
                    }
                )

    # --- Lambda -------------------------------------------------------------------------------

    def _handler_for(self, function: FunctionSpec) -> Callable[[Any, Any], Any]:
        with self._lock:
            if function.logical_id not in self._handlers:
                module_name, _, attribute = function.handler.rpartition(".")
                module = importlib.import_module(module_name)
                self._handlers[function.logical_id] = getattr(module, attribute)
            return self._handlers[function.logical_id]

    def invoke(self, function_id: str, event: Any) -> Invocation:
        """Run one function's handler as Lambda would: JSON in, JSON out, errors typed."""
        function = self.template.functions.get(function_id)
        if function is None:
            known = ", ".join(sorted(self.template.functions))
            raise KeyError(f"no function {function_id!r} in the template (known: {known})")
        payload = json.loads(json.dumps(event))
        before = self.fault_hooks.get(function_id)
        after = self.after_hooks.get(function_id)
        caller = getattr(self._invoking, "function_id", None)
        calling = getattr(self._invoking, "name", None)
        self._invoking.function_id = function_id
        self._invoking.name = self._emitters.invoked(function_id, payload)
        try:
            if before is not None:
                before(payload)
            try:
                with metrics_to_stderr():
                    result = self._handler_for(function)(payload, LambdaContext(function))
            finally:
                drop_unpublished_metrics()
            if after is not None:
                after(payload, result)
            return Invocation(function_id, json.loads(json.dumps(result)))
        except (Exception, LambdaDied) as error:
            crash = error if isinstance(error, LambdaCrash | LambdaDied) else None
            error_type = crash.error_type if crash else type(error).__name__
            return Invocation(
                function_id,
                {
                    "errorType": error_type,
                    "errorMessage": str(error),
                    "stackTrace": traceback.format_exception(error)[-5:],
                },
                error_type=error_type,
            )
        finally:
            self._invoking.function_id = caller
            self._invoking.name = calling

    def _dispatch_lambda(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse, HTTPHeaders  # noqa: PLC0415
        from moto.core.botocore_stubber import MockRawResponse  # noqa: PLC0415

        function_ref = unquote(request.url.split("/functions/", 1)[1].split("/", 1)[0])
        function_name = function_ref.rsplit(":", 1)[-1] if ":" in function_ref else function_ref
        if function_name not in self.template.functions:
            body = {"Message": f"Function not found: {function_ref}", "Type": "User"}
            raw = MockRawResponse(json.dumps(body).encode())
            headers = {"x-amzn-errortype": "ResourceNotFoundException"}
            return AWSResponse(request.url, 404, HTTPHeaders.from_dict(headers), raw)
        event = json.loads(request.body or b"{}")
        invocation = self.invoke(function_name, event)
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if invocation.failed:
            headers["X-Amz-Function-Error"] = "Unhandled"
        raw = MockRawResponse(json.dumps(invocation.payload).encode())
        return AWSResponse(request.url, 200, HTTPHeaders.from_dict(headers), raw)

    # --- EventBridge and Step Functions ---------------------------------------------------------

    def matching_rules(self, event: dict[str, Any]) -> list[RuleSpec]:
        return matching_rules(self.template.rules, event)

    def put_events(self, entries: list[dict[str, Any]], wait: bool = True) -> list[Delivery]:
        """Deliver each event, in order, to the targets of the rules its pattern matches."""
        deliveries = []
        for entry in entries:
            event = normalize_event(entry)
            self._play_checkout(event)
            delivery = Delivery(event)
            started = []
            for rule in self.matching_rules(event):
                if rule.target_kind == "statemachine":
                    started.append(self.start_execution(rule.target_logical_id, event))
                else:
                    delivery.invocations.append(self.invoke(rule.target_logical_id, event))
            if wait:
                delivery.executions.extend(self.wait_for(arn) for arn in started)
            deliveries.append(delivery)
        return deliveries

    def _play_checkout(self, event: dict[str, Any]) -> None:
        """Locally the runtime plays the shop's checkout: an order paid with the sandbox
        provider gets its authorization there before `Order Placed` is delivered."""
        detail = event.get("detail")
        if not isinstance(detail, dict):
            return
        payment = detail.get("payment")
        if event.get("detail-type") != "Order Placed" or not isinstance(payment, dict):
            return
        if payment.get("provider") != "sandbox" or self.sandbox is None:
            return
        if not isinstance(payment.get("reference"), str):
            return
        self.sandbox.authorize(
            payment["reference"],
            amount=payment.get("authorized_amount"),
            currency=detail.get("currency"),
            expires_at=payment.get("expires_at"),
        )

    def start_execution(
        self, machine_id: str, execution_input: Any, name: str | None = None
    ) -> str:
        import boto3  # noqa: PLC0415

        with self._lock:
            self._execution_counter += 1
            number = self._execution_counter
        if name is None:
            detail_type = (
                execution_input.get("detail-type") if isinstance(execution_input, dict) else None
            )
            kind = str(detail_type or "capture").lower().replace(" ", "-")
            name = f"{kind}-{number:05d}-{uuid.uuid4().hex[:8]}"
        stepfunctions = boto3.client("stepfunctions", region_name=LOCAL_REGION)
        started = stepfunctions.start_execution(
            stateMachineArn=self.state_machine_arns[machine_id],
            name=name,
            input=json.dumps(execution_input),
        )
        return str(started["executionArn"])

    def execution_arn(self, machine_id: str, name: str) -> str:
        """The ARN of the execution ``name`` of a template state machine (started or not)."""
        machine_arn = self.state_machine_arns[machine_id]
        return machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"

    def wait_for_state(
        self, execution_arn: str, state: str, timeout_seconds: float = 30
    ) -> list[str]:
        """Wait until the execution has entered ``state``; the states entered so far."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                entered = self.states_entered(execution_arn)
            except Exception:  # not started yet (ExecutionDoesNotExist)
                entered = []
            if state in entered:
                return entered
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} never entered {state} (entered {entered})")
            time.sleep(0.02)

    def wait_for(self, execution_arn: str, timeout_seconds: float = 120) -> ExecutionReport:
        return wait_for_execution(execution_arn, timeout_seconds)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return execution_history(execution_arn)

    def states_entered(self, execution_arn: str) -> list[str]:
        return states_entered(execution_arn)

    # --- the ledger ------------------------------------------------------------------------------

    def ledger(self) -> list[dict[str, Any]]:
        """Every ledger item, as plain JSON (numbers as ints)."""
        return ledger_items([table.name for table in self.template.tables.values()])

    def repository(self) -> Any:
        from order_capture.adapters.dynamodb import DynamoDBOrderRepository  # noqa: PLC0415

        return DynamoDBOrderRepository(next(iter(self.template.tables.values())).name)
