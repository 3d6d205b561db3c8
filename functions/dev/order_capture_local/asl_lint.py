"""Structural checks of the state machine definitions that cfn-lint and `sam validate` skip.

    python -m order_capture_local.asl_lint template.yaml [--substituted]

For every ``AWS::Serverless::StateMachine`` in the template: the file parses; ``StartAt`` and
every ``Next``/``Default``/``Catch`` target exist; every state is reachable from ``StartAt``;
every non-terminal state says where to go; every ``${Var}`` has a ``DefinitionSubstitutions``
entry and every entry is used; every ``ErrorEquals`` name is ``States.*``, ``Lambda.*``,
``StepFunctions.*`` or a class of ``order_capture.errors``; every Lambda task resource is a
function of the template. Retriers: no error name is listed where an earlier retrier of the
same state already matches it (Step Functions uses the first match: a later entry is dead);
``States.Timeout`` is retried only by a task that sets ``TimeoutSeconds`` (otherwise it never
happens); every Lambda task retries each of :data:`LAMBDA_SERVICE_ERRORS` (the one copy of the
Lambda error list: the definitions repeat it, this checks each repetition).

JSON-schema validation of the substituted definitions is left to ``asl-validator`` (npm);
``--substituted DIR`` writes them there for it, one ``<LogicalId>.asl.json`` per state
machine, and prints their paths.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from order_capture import errors
from order_capture_local.template import StateMachineSpec, Template, load_template

TERMINAL_TYPES = {"Succeed", "Fail"}
#: Error names Step Functions and the Lambda service raise themselves (crashes, timeouts).
LAMBDA_AND_STATES_PREFIXES = ("States.", "Lambda.", "Sandbox.", "Runtime.", "StepFunctions.")
KNOWN_TYPES = {"Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"}
#: What a Lambda invocation can fail with that is not the function's answer: the Lambda
#: service's transient errors and a crashed or timed-out sandbox. Safe to retry for every
#: step of ours (each is idempotent). Every Lambda task of a definition retries this list.
LAMBDA_SERVICE_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "Sandbox.Timedout",
    "Runtime.ExitError",
)
_LAMBDA_RESOURCE = re.compile(r"^\$\{\w+FunctionArn\}$|^arn:aws:states:::lambda:invoke")


def _error_names() -> set[str]:
    return {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.OrderCaptureError)
    }


def _choice_targets(rules: list[dict[str, Any]]) -> Iterator[str]:
    for rule in rules:
        if "Next" in rule:
            yield rule["Next"]


def _targets(state: dict[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += list(_choice_targets(state.get("Choices", [])))
    if "Default" in state:
        targets.append(state["Default"])
    targets += [catcher["Next"] for catcher in state.get("Catch", []) if "Next" in catcher]
    return targets


def _check_state(name: str, state: dict[str, Any], states: dict[str, Any], where: str) -> list[str]:
    kind = state.get("Type")
    if kind not in KNOWN_TYPES:
        return [f"{where}.{name}: unknown Type {kind!r}"]
    problems = [
        f"{where}.{name}: goes to {target!r}, which is not a state"
        for target in _targets(state)
        if target not in states
    ]
    if kind == "Choice" and not state.get("Choices"):
        problems.append(f"{where}.{name}: a Choice needs Choices")
    if kind not in TERMINAL_TYPES | {"Choice"} and not ("Next" in state or state.get("End")):
        problems.append(f"{where}.{name}: neither Next nor End")
    if kind in TERMINAL_TYPES and "Next" in state:
        problems.append(f"{where}.{name}: a {kind} state cannot have Next")
    problems += _check_error_names(name, state, where)
    problems += _check_retriers(name, state, where)
    for index, branch in enumerate(state.get("Branches", [])):
        problems += check_states(branch["States"], branch["StartAt"], f"{where}.{name}[{index}]")
    processor = state.get("ItemProcessor") or state.get("Iterator")
    if processor:
        problems += check_states(processor["States"], processor["StartAt"], f"{where}.{name}")
    return problems


def _check_error_names(name: str, state: dict[str, Any], where: str) -> list[str]:
    known = _error_names()
    return [
        f"{where}.{name}: ErrorEquals {error_name!r} is neither States.*, Lambda.*, "
        "StepFunctions.* nor an order_capture.errors class"
        for clause in state.get("Retry", []) + state.get("Catch", [])
        for error_name in clause.get("ErrorEquals", [])
        if not (error_name.startswith(LAMBDA_AND_STATES_PREFIXES) or error_name in known)
    ]


def _check_retriers(name: str, state: dict[str, Any], where: str) -> list[str]:
    problems = []
    matched: set[str] = set()
    for index, retrier in enumerate(state.get("Retry", [])):
        for error_name in retrier.get("ErrorEquals", []):
            if error_name in matched or "States.ALL" in matched:
                problems.append(
                    f"{where}.{name}: Retry[{index}] lists {error_name!r}, which an earlier "
                    "retrier already matches (dead entry)"
                )
        matched.update(retrier.get("ErrorEquals", []))
    timeout_set = "TimeoutSeconds" in state or "TimeoutSecondsPath" in state
    if "States.Timeout" in matched and not timeout_set:
        problems.append(
            f"{where}.{name}: retries States.Timeout without TimeoutSeconds (it never happens)"
        )
    if state.get("Type") == "Task" and _LAMBDA_RESOURCE.match(str(state.get("Resource", ""))):
        missing = [error for error in LAMBDA_SERVICE_ERRORS if error not in matched]
        if missing and "States.ALL" not in matched:
            problems.append(
                f"{where}.{name}: a Lambda task that does not retry {', '.join(missing)} "
                "(LAMBDA_SERVICE_ERRORS)"
            )
    return problems


def check_states(states: dict[str, Any], start_at: str, where: str) -> list[str]:
    """Problems of one ``States`` block (recursing into Parallel branches and Map processors)."""
    problems = []
    if start_at not in states:
        problems.append(f"{where}: StartAt {start_at!r} is not a state")
    for name, state in states.items():
        problems += _check_state(name, state, states, where)
    reachable = _reachable(states, start_at)
    problems += [
        f"{where}.{name}: unreachable from StartAt" for name in states if name not in reachable
    ]
    return problems


def _reachable(states: dict[str, Any], start_at: str) -> set[str]:
    seen: set[str] = set()
    pending = [start_at]
    while pending:
        name = pending.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        pending.extend(_targets(states[name]))
    return seen


def check_state_machine(template: Template, machine: StateMachineSpec) -> list[str]:
    where = machine.logical_id
    text = machine.definition_path.read_text()
    try:
        definition = json.loads(text)
    except ValueError as error:
        return [f"{where}: {machine.definition_path} is not JSON: {error}"]
    problems = check_states(definition.get("States", {}), definition.get("StartAt", ""), where)
    used = set(re.findall(r"\$\{(\w+)\}", text))
    for variable in sorted(used - set(machine.substitutions)):
        problems.append(f"{where}: ${{{variable}}} has no DefinitionSubstitutions entry")
    for variable in sorted(set(machine.substitutions) - used):
        problems.append(f"{where}: substitution {variable} is never used")
    function_arns = {function.arn for function in template.functions.values()}
    for variable, value in machine.substitutions.items():
        if ":lambda:" in value and value not in function_arns:
            problems.append(f"{where}: {variable} is not a function of the template")
    if machine.workflow_type == "EXPRESS" and not problems:
        seconds, path = worst_case_seconds(template, machine)
        if seconds > EXPRESS_LIMIT_SECONDS:
            problems.append(
                f"{where}: an Express execution can last {seconds:,.0f} s (> "
                f"{EXPRESS_LIMIT_SECONDS} s) with every retrier exhausted along "
                f"{' -> '.join(path)}: shorten function timeouts or retry budgets"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("template", type=Path)
    parser.add_argument(
        "--substituted",
        type=Path,
        metavar="DIR",
        help="write each state machine's substituted definition to DIR and print the paths",
    )
    args = parser.parse_args(argv)
    template = load_template(args.template)
    if args.substituted:
        args.substituted.mkdir(parents=True, exist_ok=True)
        for machine in template.state_machines.values():
            path = args.substituted / f"{machine.logical_id}.asl.json"
            path.write_text(machine.definition())
            print(path)
        return 0
    problems = [
        problem
        for machine in template.state_machines.values()
        for problem in check_state_machine(template, machine)
    ]
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{len(template.state_machines)} state machine definition(s) OK")
    return 1 if problems else 0


#: Assumed bound of one attempt of a service integration without TimeoutSeconds (an API call).
SERVICE_CALL_SECONDS = 60.0
#: Express workflows end after five minutes, whatever they were doing.
EXPRESS_LIMIT_SECONDS = 300


def _retry_bound(retriers: list[dict[str, Any]], attempt_seconds: float) -> float:
    """Every retrier exhausted, each attempt lasting ``attempt_seconds``, waits un-jittered."""
    total = attempt_seconds
    for retrier in retriers:
        interval = float(retrier.get("IntervalSeconds", 1))
        cap = float(retrier.get("MaxDelaySeconds", math.inf))
        for attempt in range(int(retrier.get("MaxAttempts", 3))):
            total += min(interval * float(retrier.get("BackoffRate", 2.0)) ** attempt, cap)
            total += attempt_seconds
    return total


def _state_bound(state: dict[str, Any], function_timeouts: dict[str, int]) -> float:
    if state.get("Type") == "Wait":
        return float(state.get("Seconds", 0))
    if state.get("Type") != "Task":
        return 0.0
    resource = str(state.get("Resource", ""))
    function = state.get("Parameters", {}).get("FunctionName", resource)
    attempt = float(
        state.get("TimeoutSeconds") or function_timeouts.get(str(function)) or SERVICE_CALL_SECONDS
    )
    return _retry_bound(state.get("Retry", []), attempt)


def worst_case_seconds(template: Template, machine: StateMachineSpec) -> tuple[float, list[str]]:
    """The longest an execution can take without looping: along the slowest path from
    ``StartAt`` to an end, every task exhausting every retrier with each attempt lasting its
    ``TimeoutSeconds`` (or its function's ``Timeout``), plus every wait. A transition back to
    a state already on the path (Capture's OrderChangedError back to Validate) is a loop; it is
    named in the second element, not summed. The path's states come with it."""
    definition = json.loads(machine.definition())
    states: dict[str, Any] = definition["States"]
    timeouts = {function.arn: function.timeout for function in template.functions.values()}
    loops: list[str] = []

    def longest(name: str, on_path: tuple[str, ...]) -> tuple[float, list[str]]:
        state = states[name]
        own = _state_bound(state, timeouts)
        best: tuple[float, list[str]] | None = None
        for target in dict.fromkeys(_targets(state)):
            if target in on_path or target == name:
                loops.append(f"{name} -> {target}")
                continue
            candidate = longest(target, (*on_path, name))
            if best is None or candidate[0] > best[0]:
                best = candidate
        following = best or (0.0, [])
        return own + following[0], [name, *following[1]]

    seconds, path = longest(definition["StartAt"], ())
    return seconds, [*path, *(f"loop {loop}" for loop in sorted(set(loops)))]


if __name__ == "__main__":
    sys.exit(main())
