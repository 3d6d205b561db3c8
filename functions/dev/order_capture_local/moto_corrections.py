"""Where moto 5.2 differs from AWS (Step Functions, and the cost of DynamoDB transactions),
corrected for the local runtime.

Each correction is written against moto 5.2's internals; :func:`apply` refuses any other
version, so an upgrade of moto is a decision to re-check each of them (drop the ones the new
version fixes) rather than a silent change of behaviour.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

#: The moto release line these corrections are written for (``pyproject.toml`` pins it too).
CORRECTED_MOTO = "5.2."
#: How long a task whose token was completed in time waits for moto to pass the outcome on.
TOKEN_OUTCOME_SECONDS = 30

#: ``patch(owner, attribute name, replacement)``: sets the attribute while the runtime runs.
Patch = Callable[[object, str, object], None]


def check_moto_version(version: str) -> None:
    if not version.startswith(CORRECTED_MOTO):
        raise RuntimeError(
            f"moto {version}: order_capture_local.moto_corrections corrects moto "
            f"{CORRECTED_MOTO}x; check each correction against this version before using it"
        )


def apply(patch: Patch) -> None:
    """Every correction, after checking moto's version."""
    import moto  # noqa: PLC0415

    check_moto_version(moto.__version__)
    pass_task_failure_cause(patch)
    name_start_execution_parameters(patch)
    end_task_tokens_with_their_tasks(patch)
    refuse_tokens_of_ended_executions(patch)
    make_data_limit_terminal(patch)
    roll_back_transactions_item_by_item(patch)
    parse_each_definition_with_its_own_scopes(patch)
    set_an_executions_output_before_its_status(patch)


def set_an_executions_output_before_its_status(patch: Patch) -> None:
    """moto sets an ended execution's status to SUCCEEDED one statement before its output
    (``_reflect_execution_status``): a DescribeExecution between the two (the runtime polls
    it from another thread, and so does the local StartSyncExecution) reads SUCCEEDED with
    output ``null`` (the fault campaign's verdict crashed on one). Step Functions answers
    SUCCEEDED with its output: set the output first."""
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded  # noqa: PLC0415
    from moto.stepfunctions.parser.backend.execution import (  # noqa: PLC0415
        BaseExecutionWorkerCommunication,
    )

    original = BaseExecutionWorkerCommunication._reflect_execution_status

    def reflect(self: Any) -> None:
        env = self.execution.exec_worker.env
        if isinstance(env.program_state(), ProgramEnded):
            self.execution.output = env.states.get_input()
        original(self)  # type: ignore[no-untyped-call]

    patch(BaseExecutionWorkerCommunication, "_reflect_execution_status", reflect)


def parse_each_definition_with_its_own_scopes(patch: Patch) -> None:
    """moto's ASL ``Preprocessor`` keeps its stack of query-language scopes in a class
    attribute (``_query_language_per_scope = []``), shared by every parse: two executions
    starting at once (each parses its definition in its own thread) push and pop on the same
    list, and one parse fails with ``IndexError``, in a thread nobody joins, leaving its
    execution RUNNING for ever (the fault campaign's "execution ... still running" after 600
    s). Step Functions parses each execution alone: give each Preprocessor a stack of its
    own."""
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor  # noqa: PLC0415

    original = Preprocessor.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._query_language_per_scope = []

    patch(Preprocessor, "__init__", init)


def name_start_execution_parameters(patch: Patch) -> None:
    """moto's port of the ASL interpreter leaves out the step that maps a service task's
    parameters onto the API's member names (``StateMachineArn`` -> ``stateMachineArn``
    for ``states:startExecution``); without it every such task fails. Map them by the
    botocore shape, as Step Functions does."""
    import botocore.session  # noqa: PLC0415
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: PLC0415
        state_task_service_sfn,
    )

    service_class = state_task_service_sfn.StateTaskServiceSfn
    original = service_class._normalise_parameters
    service_model = botocore.session.get_session().get_service_model("stepfunctions")

    def normalise(
        task: Any,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original(task, parameters, boto_service_name, service_action_name)
        action = task.resource.api_action
        operation = service_model.operation_model(action[:1].upper() + action[1:])
        task._to_boto_request(parameters, operation.input_shape)

    patch(service_class, "_normalise_parameters", normalise)


def _task_timed_out() -> Exception:
    from moto.stepfunctions.parser.api import TaskTimedOut  # noqa: PLC0415

    return TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'", "TaskTimedOut")


#: Orders a task's timeout and its token's completion: one of the two comes first (on AWS
#: they cannot both happen).
_TOKEN_OR_TIMEOUT = threading.Lock()
#: The callback endpoint of the waitForTaskToken task this thread is evaluating, if any.
_EVALUATING = threading.local()


class _TaskDoneEvent(threading.Event):
    """The event moto's task waits on for its work to finish in time (``terminated_event``),
    made to agree with the token: if the token was completed before the time ran out, the
    task waits for its thread to carry that outcome on; if not, the token ends with the
    task, so that a later completion is refused."""

    def __init__(self) -> None:
        super().__init__()
        self.endpoint = getattr(_EVALUATING, "endpoint", None)

    def wait(self, timeout: float | None = None) -> bool:
        if super().wait(timeout) or self.endpoint is None:
            return self.is_set()
        with _TOKEN_OR_TIMEOUT:
            completed = self.endpoint._notify_event.is_set()
            if not completed:
                self.endpoint.timed_out = True
        # Completed in time: its outcome is the task's (moto's thread only has to pass it on).
        return completed and super().wait(TOKEN_OUTCOME_SECONDS)


class _ThreadingWithTaskDoneEvent:
    """``threading`` as moto's ``execute_state`` module sees it, with ``_TaskDoneEvent``."""

    Event = _TaskDoneEvent

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)


def end_task_tokens_with_their_tasks(patch: Patch) -> None:
    """On AWS a task token is good for one SendTaskSuccess/SendTaskFailure while its task
    waits; after that, or once the task timed out, the call fails with TaskTimedOut, and a
    call that was accepted is the task's outcome. moto 5.2 accepts a token forever (a second
    call, a call after its task timed out, SendTaskFailure even after the execution ended),
    and can time a task out although its token was completed in time (its thread had not
    passed the outcome on yet when the time ran out: the campaign's "announced 0x"). Both
    are corrected: the timeout and the completion are decided under one lock."""
    from moto.stepfunctions.parser.asl.component.state.exec import (  # noqa: PLC0415
        execute_state,
    )
    from moto.stepfunctions.parser.asl.eval.callback import callback  # noqa: PLC0415

    manager = callback.CallbackPoolManager
    original_notify = manager.notify
    original_evaluate = execute_state.ExecutionState._evaluate_with_timeout

    def notify(pool: Any, callback_id: str, outcome: Any) -> bool:
        endpoint = pool.get(callback_id)
        with _TOKEN_OR_TIMEOUT:
            if endpoint is not None and (
                endpoint._notify_event.is_set() or getattr(endpoint, "timed_out", False)
            ):
                raise _task_timed_out()
            return bool(original_notify(pool, callback_id, outcome))

    def evaluate_with_timeout(state: Any, env: Any) -> None:
        # moto's task waits for its work with a timeout (on a ``_TaskDoneEvent``, created in
        # this thread), while the thread waiting for the token goes on waiting.
        task = env.states.context_object.context_object_data.get("Task") or {}
        _EVALUATING.endpoint = (
            env.callback_pool_manager.get(task["Token"]) if "Token" in task else None
        )
        try:
            original_evaluate(state, env)
        finally:
            _EVALUATING.endpoint = None

    patch(manager, "notify", notify)
    patch(execute_state.ExecutionState, "_evaluate_with_timeout", evaluate_with_timeout)
    patch(execute_state, "threading", _ThreadingWithTaskDoneEvent())


def refuse_tokens_of_ended_executions(patch: Patch) -> None:
    """moto 5.2 looks for SendTaskSuccess's token among running executions only, and answers
    InvalidToken for one of an execution that ended (its task timed out, or was completed):
    AWS answers TaskTimedOut, as it does for SendTaskFailure."""
    from moto.stepfunctions.parser.api import InvalidToken  # noqa: PLC0415
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend  # noqa: PLC0415

    original = StepFunctionsParserBackend.send_task_success

    def send_task_success(backend: Any, task_token: str, outcome: str) -> Any:
        try:
            return original(backend, task_token, outcome)
        except InvalidToken:
            for execution in backend._get_executions():
                worker = getattr(execution, "exec_worker", None)
                if worker is not None and worker.env.callback_pool_manager.get(task_token):
                    raise _task_timed_out() from None
            raise

    patch(StepFunctionsParserBackend, "send_task_success", send_task_success)


def pass_task_failure_cause(patch: Patch) -> None:
    """moto's SendTaskFailure response handler drops ``cause`` (moto 5.2); pass it on to
    its backend as AWS does, so a failed wait carries the provider's message."""
    from moto.core.responses import EmptyResult  # noqa: PLC0415
    from moto.stepfunctions.responses import StepFunctionResponse  # noqa: PLC0415

    def send_task_failure(response: Any) -> Any:
        response.stepfunction_backend.send_task_failure(
            response._get_param("taskToken"),
            error=response._get_param("error"),
            cause=response._get_param("cause"),
        )
        return EmptyResult()

    patch(StepFunctionResponse, "send_task_failure", send_task_failure)


def make_data_limit_terminal(patch: Patch) -> None:
    """On AWS ``States.DataLimitExceeded`` (a state over 256 KB) is terminal: ``States.ALL``
    neither retries nor catches it, so the execution fails without its failure path.
    moto's ``States.ALL`` matches it; make it match as AWS does, so that a test whose
    state outgrows the limit fails here as it would there."""
    from moto.stepfunctions.parser.asl.component.common.error_name import (  # noqa: PLC0415
        error_equals_decl,
        states_error_name,
        states_error_name_type,
    )

    declaration = error_equals_decl.ErrorEqualsDecl
    original = declaration._eval_body
    data_limit = states_error_name.StatesErrorName(
        typ=states_error_name_type.StatesErrorNameType.StatesStatesDataLimitExceeded
    )

    def eval_body(decl: Any, env: Any) -> None:
        error_name = env.stack[-1]
        if error_name == data_limit and data_limit not in decl.error_names:
            env.stack.pop()
            env.stack.append(False)
            return
        original(decl, env)

    patch(declaration, "_eval_body", eval_body)


def roll_back_transactions_item_by_item(patch: Patch) -> None:
    """moto 5.2's TransactWriteItems deep-copies each table it writes to, once per item of
    the transaction, to put the copy back if the transaction is cancelled: a cost in the
    table's size on every transaction (``make bench`` spent most of its time there once its
    tables held thousands of items of up to 200 KB), where DynamoDB's cost is in the
    transaction's items. The same rollback, from copies of the items the transaction names:
    on the errors moto rolls back on, each named item comes back as it was (or goes, if it
    did not exist) and the stream records the transaction added are dropped, as the copied
    table had neither. Writes to a table are serialised by the runtime (``_route_request``),
    so no other write can land between the copy and the rollback."""
    from moto.dynamodb import models  # noqa: PLC0415
    from moto.dynamodb.exceptions import (  # noqa: PLC0415
        MockValidationException,
        MultipleTransactionsException,
        TransactionCanceledException,
    )
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    backend_class = models.DynamoDBBackend
    original = backend_class.transact_write_items
    rolled_back = (
        TransactionCanceledException,
        MultipleTransactionsException,
        MockValidationException,
    )

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = [_SavedItem.of(backend, item) for item in transact_items]
        try:
            original(backend, transact_items)
        except rolled_back:
            for item in reversed(saved):
                if item is not None:
                    item.restore()
            raise

    patch(backend_class, "transact_write_items", transact_write_items)
    # The module's ``copy`` is used for the table (given back as it is: the rollback above
    # replaces the copy) and for single items (copied as before).
    patch(models, "copy", _TablesNotCopied(Table))


class _TablesNotCopied:
    """``copy`` for moto's DynamoDB backend module, except that a table is not copied."""

    def __init__(self, table_class: type) -> None:
        self._table_class = table_class

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, self._table_class):
            return value
        return copy.deepcopy(value, memo)

    def copy(self, value: Any) -> Any:
        return copy.copy(value)


class _SavedItem:
    """One item a transaction names, as it was before the transaction (None: absent)."""

    def __init__(self, table: Any, hash_key: Any, range_key: Any) -> None:
        self.table = table
        self.hash_key = hash_key
        self.range_key = range_key
        # Before reading: moto's read adds an empty bucket for a hash key it does not hold.
        self.bucket_existed = hash_key in table.items
        self.item = copy.deepcopy(table.get_item(hash_key, range_key))
        stream = table.stream_shard
        self.stream_records = None if stream is None else len(stream.items)

    @classmethod
    def of(cls, backend: Any, transact_item: dict[str, Any]) -> _SavedItem | None:
        """None for an item moto would not roll back (a table it does not know by that name)
        or one naming no valid key (moto fails it before writing anything)."""
        from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

        try:
            op_type, op = next(iter(transact_item.items()))
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                return None
            key = op["Item"] if op_type == "Put" else op["Key"]
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.has_range_key else None
            return cls(table, hash_key, range_key)
        except Exception:  # moto itself reports the malformed item, and writes nothing for it
            return None

    def restore(self) -> None:
        items = self.table.items
        if self.range_key is None:
            if self.item is None:
                items.pop(self.hash_key, None)
            else:
                items[self.hash_key] = self.item
        else:
            bucket = items[self.hash_key]
            if self.item is None:
                bucket.pop(self.range_key, None)
                if not bucket and not self.bucket_existed:
                    del items[self.hash_key]
            else:
                bucket[self.range_key] = self.item
        stream = self.table.stream_shard
        if stream is not None and self.stream_records is not None:
            del stream.items[self.stream_records :]
