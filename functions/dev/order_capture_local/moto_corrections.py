"""Where moto 5.2's Step Functions differs from AWS, corrected for the local runtime.

Each correction is written against moto 5.2's internals; :func:`apply` refuses any other
version, so an upgrade of moto is a decision to re-check each of them (drop the ones the new
version fixes) rather than a silent change of behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: The moto release line these corrections are written for (``pyproject.toml`` pins it too).
CORRECTED_MOTO = "5.2."

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
    make_data_limit_terminal(patch)


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


def end_task_tokens_with_their_tasks(patch: Patch) -> None:
    """On AWS a task token is good for one SendTaskSuccess/SendTaskFailure while its task
    waits; after that, or once the task timed out, the call fails with TaskTimedOut.
    moto 5.2 accepts a token forever; refuse it as AWS does."""
    from moto.stepfunctions.parser.api import TaskTimedOut  # noqa: PLC0415
    from moto.stepfunctions.parser.asl.eval.callback import callback  # noqa: PLC0415

    manager = callback.CallbackPoolManager
    original = manager.notify

    def notify(pool: Any, callback_id: str, outcome: Any) -> bool:
        endpoint = pool.get(callback_id)
        if endpoint is not None and endpoint._notify_event.is_set():
            raise TaskTimedOut(
                "Task Timed Out: 'Provided task does not exist anymore'", "TaskTimedOut"
            )
        return bool(original(pool, callback_id, outcome))

    patch(manager, "notify", notify)


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
