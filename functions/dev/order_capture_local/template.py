"""Reads template.yaml the way the local runtime needs it: functions, table, rules, state machine.

Intrinsic functions are resolved against local names and ARNs, so the definition that runs
locally is the file and substitutions that deploy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"


class _CfnLoader(yaml.CSafeLoader):
    """SafeLoader (libyaml's: every local runtime, test and CLI command parses the template,
    0.2 s of CPU each in pure Python, a tenth of that in C) that turns CloudFormation short
    tags (!Ref, !GetAtt, !Sub...) into dicts."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str
    environment: dict[str, str]
    timeout: int
    memory_mb: int
    code_uri: str

    @property
    def name(self) -> str:
        return self.logical_id

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{self.name}"


@dataclass(frozen=True)
class RuleSpec:
    """An EventBridge rule from a function's or state machine's `EventBridgeRule` event."""

    name: str
    target_logical_id: str
    target_kind: str  # "function" or "statemachine"
    pattern: dict[str, Any]


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    definition_path: Path
    substitutions: dict[str, str]
    workflow_type: str

    def definition(self) -> str:
        text = self.definition_path.read_text()
        for key, value in self.substitutions.items():
            text = text.replace("${" + key + "}", value)
        leftover = re.findall(r"\$\{(\w+)\}", text)
        if leftover:
            raise ValueError(f"{self.definition_path}: no substitution for {sorted(set(leftover))}")
        return text


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    name: str
    properties: dict[str, Any]


@dataclass
class Template:
    root: Path
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    rules: list[RuleSpec] = field(default_factory=list)
    state_machines: dict[str, StateMachineSpec] = field(default_factory=dict)
    tables: dict[str, TableSpec] = field(default_factory=dict)
    #: SQS queues (the rules' dead-letter queues), by logical id.
    queues: list[str] = field(default_factory=list)
    parameters: dict[str, str] = field(default_factory=dict)

    def function_by_name(self, name: str) -> FunctionSpec | None:
        return self.functions.get(name)


def table_arguments(table: TableSpec) -> dict[str, Any]:
    """CreateTable arguments for a template table (keys, attributes, indexes)."""
    properties = table.properties
    arguments: dict[str, Any] = {
        "TableName": table.name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if "GlobalSecondaryIndexes" in properties:
        arguments["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    return arguments


def table_name_for(logical_id: str) -> str:
    return f"order-capture-{logical_id}"


class _Resolver:
    def __init__(self, resources: dict[str, Any], parameters: dict[str, str]) -> None:
        self.resources = resources
        self.parameters = parameters

    def ref(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        pseudo = {
            "AWS::Region": LOCAL_REGION,
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "order-capture",
            "AWS::StackId": f"arn:aws:cloudformation:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stack/"
            "order-capture/00000000-0000-0000-0000-000000000000",
        }
        if name in pseudo:
            return pseudo[name]
        if name == "AWS::Partition":
            return "aws"
        resource = self.resources.get(name)
        if resource is None:
            raise ValueError(f"!Ref {name}: no such parameter or resource")
        kind = resource["Type"]
        if kind == "AWS::DynamoDB::Table":
            return table_name_for(name)
        if kind == "AWS::Serverless::StateMachine":
            return f"arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stateMachine:{name}"
        return name

    def get_att(self, name: str, attribute: str) -> str:
        kind = self.resources[name]["Type"]
        if attribute == "Arn":
            if kind == "AWS::Serverless::Function":
                return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{name}"
            if kind == "AWS::DynamoDB::Table":
                return (
                    f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT}:table/{table_name_for(name)}"
                )
        # Resources the local runtime does not emulate (queues, topics, alarms) still get a
        # stable placeholder, so the rest of the template resolves.
        return f"arn:aws:local:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{name}/{attribute}"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, argument),) = value.items()
                if key == "Ref":
                    return self.ref(argument)
                if key == "Fn::GetAtt":
                    return self.get_att(*argument)
                if key == "Fn::Sub":
                    return self.sub(argument)
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    def sub(self, argument: str | list[Any]) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return re.sub(r"\$\{([\w:.]+)\}", replace, text)


def load_template(path: Path, parameter_overrides: dict[str, str] | None = None) -> Template:
    document = yaml.load(path.read_text(), Loader=_CfnLoader)
    root = path.parent
    parameters = {
        name: str(spec.get("Default", "")) for name, spec in document.get("Parameters", {}).items()
    } | (parameter_overrides or {})
    resources: dict[str, Any] = document["Resources"]
    resolver = _Resolver(resources, parameters)
    globals_function = document.get("Globals", {}).get("Function", {})
    template = Template(root=root, parameters=parameters)
    for logical_id, resource in resources.items():
        properties = resolver.resolve(resource.get("Properties", {}))
        kind = resource["Type"]
        if kind == "AWS::Serverless::Function":
            _add_function(template, logical_id, properties, resolver.resolve(globals_function))
        elif kind == "AWS::Serverless::StateMachine":
            _add_state_machine(template, logical_id, properties)
        elif kind == "AWS::DynamoDB::Table":
            template.tables[logical_id] = TableSpec(
                logical_id, table_name_for(logical_id), properties
            )
        elif kind == "AWS::SQS::Queue":
            template.queues.append(logical_id)
    return template


def _event_rules(logical_id: str, kind: str, properties: dict[str, Any]) -> list[RuleSpec]:
    return [
        RuleSpec(
            name=f"{logical_id}-{event_name}",
            target_logical_id=logical_id,
            target_kind=kind,
            pattern=event["Properties"]["Pattern"],
        )
        for event_name, event in properties.get("Events", {}).items()
        if event.get("Type") == "EventBridgeRule"
    ]


def _add_function(
    template: Template, logical_id: str, properties: dict[str, Any], globals_: dict[str, Any]
) -> None:
    environment = {
        **globals_.get("Environment", {}).get("Variables", {}),
        **properties.get("Environment", {}).get("Variables", {}),
    }
    template.functions[logical_id] = FunctionSpec(
        logical_id=logical_id,
        handler=properties.get("Handler") or globals_["Handler"],
        environment={key: str(value) for key, value in environment.items()},
        timeout=int(properties.get("Timeout", globals_.get("Timeout", 3))),
        memory_mb=int(properties.get("MemorySize", globals_.get("MemorySize", 128))),
        code_uri=str(properties.get("CodeUri", globals_.get("CodeUri", "."))),
    )
    template.rules.extend(_event_rules(logical_id, "function", properties))


def _add_state_machine(template: Template, logical_id: str, properties: dict[str, Any]) -> None:
    template.state_machines[logical_id] = StateMachineSpec(
        logical_id=logical_id,
        definition_path=template.root / properties["DefinitionUri"],
        substitutions={
            key: str(value) for key, value in properties.get("DefinitionSubstitutions", {}).items()
        },
        workflow_type=properties.get("Type", "STANDARD"),
    )
    template.rules.extend(_event_rules(logical_id, "statemachine", properties))


def pattern_json(rule: RuleSpec) -> str:
    return json.dumps(rule.pattern)
