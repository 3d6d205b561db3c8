"""``order-capture local start``: one local stack that the CLI, the API and ``sam local`` share.

Everything the app needs, on loopback, until stopped:

* an AWS endpoint: moto's own server mode (``ThreadedMotoServer``) in this process, over the
  same moto backends as the embedded runtime, so the table, state machines, EventBridge rules
  and bus, queues and secrets from ``template.yaml`` answer any client (boto3, the AWS CLI,
  functions in ``sam local`` containers) while the real ASL keeps executing here with Lambda
  tasks answered in-process (``runtime.py``);
* the sandbox payment provider, its asynchronous webhooks pointed at the API;
* the HTTP API (``api_server.py``).

Two things moto's server lacks are added while the stack runs: EventBridge targets that are
state machines or functions (moto delivers only to queues, logs and buses) start the
execution or invoke the function, and ``StartSyncExecution`` (the API's Express workflow)
starts the execution and answers once it has ended.

The stack writes what clients need (endpoint, API URL, PID) to a stack file; the other
commands read it (``running_stack``) and talk to the stack through its endpoint, or run
in-process as before when no stack runs. ``--state FILE`` keeps the ledger and the sandbox's
authorizations and captures across restarts.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from order_capture_local.runtime import PROJECT_ROOT, LocalRuntime
from order_capture_local.template import LOCAL_ACCOUNT, LOCAL_REGION, FunctionSpec

#: Where a running stack describes itself; ``ORDER_CAPTURE_STACK_FILE`` overrides it (and
#: ``ORDER_CAPTURE_STACK_FILE=none`` makes every command run in-process).
STACK_FILE_ENV = "ORDER_CAPTURE_STACK_FILE"
DEFAULT_STACK_FILE = PROJECT_ROOT / ".order-capture" / "stack.json"
#: The ports `sam-local.env.json` and samconfig.toml expect (0 picks free ones).
DEFAULT_AWS_PORT = 4566
DEFAULT_SANDBOX_PORT = 4567
DEFAULT_API_PORT = 3000
#: Credentials moto accepts; a client of the stack never needs real ones.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": LOCAL_REGION,
    "AWS_REGION": LOCAL_REGION,
}


@dataclass(frozen=True)
class StackInfo:
    """What a client needs to reach a running stack (the stack file's content)."""

    endpoint: str
    api_url: str
    sandbox_url: str
    pid: int
    template: str
    #: The table and workflows as the stack named them (the template's logical ids).
    table_name: str
    state_machine_arns: dict[str, str] = field(default_factory=dict)

    def aws_environment(self) -> dict[str, str]:
        """What points botocore at the stack: the endpoint, no ``sync-`` host prefix
        (StartSyncExecution's, which a loopback address cannot take), local credentials."""
        return {
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        }

    def function_environment(self, function: FunctionSpec) -> dict[str, str]:
        """A template function's environment, pointed at this stack."""
        return {
            **function.environment,
            "SANDBOX_PROVIDER_URL": self.sandbox_url,
            **self.aws_environment(),
        }


def sam_env_vars(info: StackInfo, function_ids: list[str]) -> dict[str, dict[str, str]]:
    """The ``--env-vars`` document for ``sam local`` against the stack: SAM sets only
    variables the template declares, and resolves ``!Ref`` to logical ids, so the table and
    workflow names, the endpoint and the sandbox come from here."""
    common = {
        "AWS_ENDPOINT_URL": info.endpoint,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "TABLE_NAME": info.table_name,
        "SANDBOX_PROVIDER_URL": info.sandbox_url,
    }
    document: dict[str, dict[str, str]] = {"Parameters": common}
    workflow = info.state_machine_arns.get("CaptureApiStateMachine")
    if workflow and "ApiFunction" in function_ids:
        document["ApiFunction"] = {"CAPTURE_WORKFLOW_ARN": workflow}
    confirmation = info.state_machine_arns.get("ConfirmationStateMachine")
    for function_id in ("RecordFunction", "ApiFunction", "ReconcileFunction"):
        if confirmation and function_id in function_ids:
            # Record hands a capture the provider only received to the confirmation
            # workflow; the webhooks and reconciliation read how a refused wait ended.
            document.setdefault(function_id, {})["CONFIRMATION_WORKFLOW_ARN"] = confirmation
    return document


def stack_file() -> Path | None:
    configured = os.environ.get(STACK_FILE_ENV)
    if configured == "none":
        return None
    return Path(configured) if configured else DEFAULT_STACK_FILE


def running_stack() -> StackInfo | None:
    """The stack described by the stack file, if its process lives and its endpoint answers."""
    path = stack_file()
    if path is None or not path.is_file():
        return None
    try:
        info = StackInfo(**json.loads(path.read_text()))
        os.kill(info.pid, 0)
    except (OSError, ValueError, TypeError):
        return None
    host, _, port = info.endpoint.removeprefix("http://").partition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return info
    except (OSError, ValueError):
        return None


class LocalStack:
    """The runtime's embedded AWS served on loopback, with the sandbox and the API."""

    def __init__(
        self,
        runtime: LocalRuntime,
        *,
        aws_port: int = DEFAULT_AWS_PORT,
        api_port: int = DEFAULT_API_PORT,
        merchants: tuple[str, ...] = ("merchant-1",),
        state_path: Path | None = None,
        stack_path: Path | None = None,
    ) -> None:
        self.runtime = runtime
        self.merchants = merchants
        self.aws_port = aws_port
        self.api_port = api_port
        self.state_path = state_path
        self.stack_path = stack_path
        self.info: StackInfo
        #: Function invocations made for delivered events, by event id (the CLI reports them).
        self.deliveries: dict[str, list[dict[str, Any]]] = {}
        self._stack = ExitStack()

    def __enter__(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        from moto.server import ThreadedMotoServer  # noqa: PLC0415

        from order_capture_local.api_server import ApiServer, LocalApi  # noqa: PLC0415

        self._serve_dynamodb_atomically()
        self._deliver_to_workflows_and_functions()
        self._answer_start_sync_execution()
        # One access-log line per AWS request would drown the handlers' logs.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.aws_port, verbose=False)
        server.start()
        self._stack.callback(server.stop)
        host, port = server.get_host_and_port()
        self._create_event_resources()
        if self.state_path is not None and self.state_path.is_file():
            load_state(self.runtime, self.state_path)
        if self.state_path is not None:
            self._stack.callback(save_state, self.runtime, self.state_path)
        self.api = LocalApi(self.runtime)
        self._stack.callback(self.api.close)
        self.api_server = ApiServer(
            self.api, port=self.api_port, access_log=False, deliveries=self.deliveries
        ).start()
        self._stack.callback(self.api_server.stop)
        assert self.runtime.sandbox is not None
        self._sign_sandbox_webhooks()
        self.info = StackInfo(
            endpoint=f"http://{host}:{port}",
            api_url=self.api_server.url,
            sandbox_url=self.runtime.sandbox.url,
            pid=os.getpid(),
            template=str(self.runtime.template_path),
            table_name=next(iter(self.runtime.template.tables.values())).name,
            state_machine_arns=dict(self.runtime.state_machine_arns),
        )
        if self.stack_path is not None:
            self.stack_path.parent.mkdir(parents=True, exist_ok=True)
            self.stack_path.write_text(json.dumps(asdict(self.info), indent=2) + "\n")
            env_file = self.stack_path.with_name("sam-env.json")
            env_file.write_text(
                json.dumps(sam_env_vars(self.info, list(self.runtime.template.functions))) + "\n"
            )
            self._stack.callback(_unlink_if_ours, self.stack_path, env_file, self.info.pid)

    def _sign_sandbox_webhooks(self) -> None:
        """The sandbox's asynchronous outcomes reach the API's webhook route, signed with a
        key that each merchant's sandbox credentials (a Secrets Manager secret under the
        template's prefix, as on AWS) hold."""
        import boto3  # noqa: PLC0415

        from order_capture.adapters.credentials import secret_name  # noqa: PLC0415

        assert self.runtime.sandbox is not None
        hmac_key = secrets.token_hex(32)
        self.runtime.sandbox.configure_webhook(f"{self.api_server.url}/webhooks/sandbox", hmac_key)
        prefix = self.runtime.template.parameters["ProviderSecretPrefix"]
        client = boto3.client("secretsmanager", region_name=LOCAL_REGION)
        for merchant_id in self.merchants:
            client.create_secret(
                Name=secret_name(prefix, merchant_id, "sandbox"),
                SecretString=json.dumps({"api_key": "local", "webhook_hmac_key": hmac_key}),
            )

    # --- what moto's server lacks ------------------------------------------------------------

    def _patch(self, owner: object, name: str, replacement: object) -> None:
        """Set (or add) ``owner.name`` while the stack runs; back as it was on exit."""
        if hasattr(owner, name):
            self._stack.callback(setattr, owner, name, getattr(owner, name))
        else:
            self._stack.callback(delattr, owner, name)
        setattr(owner, name, replacement)

    def _serve_dynamodb_atomically(self) -> None:
        """Requests through the server take the runtime's DynamoDB lock too: each request (a
        condition and its write, a transaction) is atomic, as on DynamoDB."""
        from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

        original = DynamoHandler.call_action
        lock = self.runtime._dynamodb_lock

        def call_action(handler: Any) -> Any:
            with lock:
                return original(handler)

        self._patch(DynamoHandler, "call_action", call_action)

    def _deliver_to_workflows_and_functions(self) -> None:
        """An event matching a template rule starts its state machine or invokes its
        function, as EventBridge does (functions synchronously here, so that events put one
        after another are handled in that order)."""
        from moto.events.models import Rule  # noqa: PLC0415

        original = Rule.send_to_targets
        stack = self

        def send_to_targets(rule: Any, event: Any, transform_input: bool = True) -> None:
            own = [t for t in rule.targets if t["Arn"].split(":")[2] in {"states", "lambda"}]
            if own and rule.event_pattern.matches_event(event):
                stack._deliver(dict(event), [target["Arn"] for target in own])
            rule.targets = [t for t in rule.targets if t not in own]
            try:
                original(rule, event, transform_input)
            finally:
                rule.targets.extend(own)

        self._patch(Rule, "send_to_targets", send_to_targets)

    def _deliver(self, event: dict[str, Any], target_arns: list[str]) -> None:
        if isinstance(event.get("time"), int | float):
            event["time"] = datetime.fromtimestamp(event["time"], UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
        self.runtime._play_checkout(event)
        for arn in target_arns:
            logical_id = arn.rsplit(":", 1)[-1]
            if ":states:" in arn:
                # Named after the event, so a client that put it finds its execution.
                self.runtime.start_execution(logical_id, event, name=str(event["id"]))
            else:
                invocation = self.runtime.invoke(logical_id, event)
                self.deliveries.setdefault(str(event["id"]), []).append(
                    {
                        "function": logical_id,
                        "error": invocation.error_type,
                        "result": invocation.payload,
                    }
                )

    def _answer_start_sync_execution(self) -> None:
        from moto.core.responses import ActionResult  # noqa: PLC0415
        from moto.stepfunctions.responses import StepFunctionResponse  # noqa: PLC0415

        runtime = self.runtime

        def start_sync_execution(response: Any) -> Any:
            machine_arn = response._get_param("stateMachineArn")
            name = response._get_param("name") or f"sync-{time.monotonic_ns()}"
            execution_input = json.loads(response._get_param("input", if_none="{}"))
            machine_id = machine_arn.rsplit(":", 1)[-1]
            arn = runtime.start_execution(machine_id, execution_input, name=name)
            report = runtime.wait_for(arn, timeout_seconds=300)
            result: dict[str, Any] = {
                "executionArn": arn,
                "stateMachineArn": machine_arn,
                "name": name,
                "startDate": datetime.now(UTC),
                "stopDate": datetime.now(UTC),
                "status": report.status,
                "input": json.dumps(execution_input),
            }
            if report.output is not None:
                result["output"] = json.dumps(report.output)
            if report.error is not None:
                result["error"] = report.error
            if report.cause is not None:
                result["cause"] = report.cause
            return ActionResult(result)

        self._patch(StepFunctionResponse, "start_sync_execution", start_sync_execution)

    def _create_event_resources(self) -> None:
        """The template's queues, its rules with their targets on the bus, and a webhook
        secret for the sandbox per merchant (Secrets Manager, as on AWS)."""
        import boto3  # noqa: PLC0415

        template = self.runtime.template
        sqs = boto3.client("sqs", region_name=LOCAL_REGION)
        for queue in template.queues:
            sqs.create_queue(QueueName=queue)
        events = boto3.client("events", region_name=LOCAL_REGION)
        for rule in template.rules:
            events.put_rule(
                Name=rule.name, EventPattern=json.dumps(rule.pattern), EventBusName="default"
            )
            service = "states" if rule.target_kind == "statemachine" else "lambda"
            kind = "stateMachine" if service == "states" else "function"
            target_arn = f"arn:aws:{service}:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{kind}:"
            events.put_targets(
                Rule=rule.name,
                EventBusName="default",
                Targets=[
                    {"Id": rule.target_logical_id, "Arn": target_arn + rule.target_logical_id}
                ],
            )


def _unlink_if_ours(path: Path, env_file: Path, pid: int) -> None:
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
            env_file.unlink(missing_ok=True)
    except (OSError, ValueError):
        pass


# --- state kept across restarts ------------------------------------------------------------------


def save_state(runtime: LocalRuntime, path: Path) -> None:
    """The ledger and the sandbox's authorizations, captures and replies, as JSON."""
    sandbox = runtime.sandbox
    assert sandbox is not None
    with sandbox.state.lock:
        provider = {
            "authorizations": sandbox.state.authorizations,
            "captures": sandbox.state.captures,
            "replies": {key: list(reply) for key, reply in sandbox.state.replies.items()},
        }
        document = {"ledger": runtime.ledger(), "sandbox": provider}
        text = json.dumps(document, indent=1, default=str)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def load_state(runtime: LocalRuntime, path: Path) -> None:
    import boto3  # noqa: PLC0415

    document = json.loads(path.read_text())
    table = boto3.resource("dynamodb", region_name=LOCAL_REGION).Table(
        next(iter(runtime.template.tables.values())).name
    )
    with table.batch_writer() as batch:
        for item in document.get("ledger", []):
            batch.put_item(Item=item)
    sandbox = runtime.sandbox
    assert sandbox is not None
    provider = document.get("sandbox", {})
    with sandbox.state.lock:
        sandbox.state.authorizations.update(provider.get("authorizations", {}))
        sandbox.state.captures.extend(provider.get("captures", []))
        sandbox.state.replies.update(
            {
                key: (reply[0], reply[1], reply[2])
                for key, reply in provider.get("replies", {}).items()
            }
        )
