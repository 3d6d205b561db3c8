"""The local runtime's corrections of moto apply only to the moto they were written for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import boto3
import moto
import pytest
from botocore.exceptions import ClientError

from order_capture_local import moto_corrections


def test_the_corrections_refuse_a_moto_they_were_not_written_for() -> None:
    # Given a moto release other than the one the corrections were checked against
    with pytest.raises(RuntimeError, match=r"moto 5\.3\.0"):
        # Then applying them stops with the version to re-check
        moto_corrections.check_moto_version("5.3.0")


def test_the_installed_moto_is_the_one_corrected_and_every_correction_applies() -> None:
    # Given the installed moto
    patched: list[tuple[object, str]] = []

    # When the corrections are applied with a recording patch
    moto_corrections.apply(lambda owner, name, _replacement: patched.append((owner, name)))

    # Then each correction found the moto internal it replaces
    assert moto.__version__.startswith(moto_corrections.CORRECTED_MOTO)
    assert [name for _, name in patched] == [
        "send_task_failure",
        "_normalise_parameters",
        "notify",
        "_evaluate_with_timeout",
        "threading",
        "send_task_success",
        "_eval_body",
        "transact_write_items",
        "copy",
        "__init__",
        "_reflect_execution_status",
    ]
    assert all(hasattr(owner, name) for owner, name in patched)


class WrittenInOrder:
    """An execution that lists its attributes in the order they are written."""

    written: list[str]

    def __init__(self, env: Any) -> None:
        object.__setattr__(self, "written", [])
        object.__setattr__(self, "exec_worker", type("Worker", (), {"env": env})())

    def __setattr__(self, name: str, value: Any) -> None:
        self.written.append(name)
        object.__setattr__(self, name, value)


def test_an_ended_execution_has_its_output_before_it_reads_succeeded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    class Env:
        states = type("States", (), {"get_input": staticmethod(lambda: {"done": True})})()

        def program_state(self) -> Any:
            return ProgramEnded()

    def reflected(execution: Any) -> list[str]:
        communication = object.__new__(BaseExecutionWorkerCommunication)
        communication.execution = execution
        communication._reflect_execution_status()  # type: ignore[no-untyped-call]
        return [n for n in execution.written if n in {"exec_status", "output"}]

    # Given moto, which writes the status first (a reader between the two sees no output)
    assert reflected(WrittenInOrder(Env())) == ["exec_status", "output"]
    # When corrected, the output is there before the status says SUCCEEDED
    moto_corrections.set_an_executions_output_before_its_status(monkeypatch.setattr)
    assert reflected(WrittenInOrder(Env()))[:2] == ["output", "exec_status"]


def test_each_asl_parse_has_its_own_query_language_scopes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    # Given moto's Preprocessor, whose stack of scopes is one list shared by every parse
    # (two executions starting at once pushed and popped on it: IndexError, a hung execution)
    assert Preprocessor()._query_language_per_scope is Preprocessor()._query_language_per_scope
    # When corrected
    moto_corrections.parse_each_definition_with_its_own_scopes(monkeypatch.setattr)
    # Then each parse has its own (the definitions themselves parse in every workflow test)
    assert Preprocessor()._query_language_per_scope is not (
        Preprocessor()._query_language_per_scope
    )


TABLE = "corrections-ledger"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    """moto's DynamoDB with the transaction correction applied, and a table keyed PK/SK."""
    with ExitStack() as stack:
        stack.enter_context(moto.mock_aws())

        def patch(owner: object, name: str, replacement: object) -> None:
            stack.callback(setattr, owner, name, getattr(owner, name))
            setattr(owner, name, replacement)

        moto_corrections.roll_back_transactions_item_by_item(patch)
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _moto_table() -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends["123456789012"]["us-east-1"].tables[TABLE]


def _key(pk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": "ITEM"}}


def _items(client: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.scan(TableName=TABLE)["Items"]
    return sorted(items, key=lambda item: item["PK"]["S"])


def test_a_cancelled_transaction_leaves_every_item_as_it_was_without_copying_the_table(
    dynamodb: Any,
) -> None:
    # Given an item to update, one to delete, and a third whose condition will fail
    for pk, count in (("updated", 1), ("deleted", 2), ("guard", 3)):
        dynamodb.put_item(TableName=TABLE, Item={**_key(pk), "count": {"N": str(count)}})
    before = _items(dynamodb)
    table = _moto_table()

    # When one transaction puts a new item, updates one, deletes one, and fails a condition
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**_key("new"), "count": {"N": "9"}}}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": _key("updated"),
                        "UpdateExpression": "SET #c = #c + :one",
                        "ExpressionAttributeNames": {"#c": "count"},
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": _key("deleted")}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": _key("guard"),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
            ]
        )

    # Then the table holds exactly what it held, and it is the same table: not a copy of it
    assert _items(dynamodb) == before
    assert _moto_table() is table


def test_a_transaction_naming_one_item_twice_writes_nothing(dynamodb: Any) -> None:
    # Given an empty table
    # When a transaction puts one item and then writes the same key again
    with pytest.raises(ClientError, match="ValidationException"):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**_key("twice"), "n": {"N": "1"}}}},
                {"Put": {"TableName": TABLE, "Item": {**_key("twice"), "n": {"N": "2"}}}},
            ]
        )

    # Then neither write stays
    assert _items(dynamodb) == []


def test_a_transaction_that_succeeds_writes_every_item(dynamodb: Any) -> None:
    # Given an item to update
    dynamodb.put_item(TableName=TABLE, Item={**_key("kept"), "n": {"N": "1"}})

    # When a transaction puts one item and updates the other
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {**_key("added"), "n": {"N": "5"}}}},
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": _key("kept"),
                    "UpdateExpression": "SET n = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}},
                }
            },
        ]
    )

    # Then both writes are there
    assert [(item["PK"]["S"], item["n"]["N"]) for item in _items(dynamodb)] == [
        ("added", "5"),
        ("kept", "2"),
    ]
