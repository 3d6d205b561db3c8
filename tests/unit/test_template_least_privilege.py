"""Least privilege and safe defaults in template.yaml, read statically (a security review's
findings: each failed before its fix)."""

from __future__ import annotations

from typing import Any

from tests.template_support import cfn_template, resources_of_type

#: Actions that change or remove a ledger item.
WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}


def _ledger_statements(function: dict[str, Any]) -> list[tuple[set[str], list[str]]]:
    """(actions, LeadingKeys) of every statement of a function on the ledger table itself."""
    found = []
    for policy in function["Properties"].get("Policies") or []:
        if not isinstance(policy, dict) or "Statement" not in policy:
            continue
        for statement in policy["Statement"]:
            actions = statement["Action"]
            actions = {actions} if isinstance(actions, str) else set(actions)
            if statement.get("Resource") != {"Fn::GetAtt": ["LedgerTable", "Arn"]}:
                continue
            condition = statement.get("Condition") or {}
            keys = condition.get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys", ["*"])
            found.append((actions, list(keys)))
    return found


def test_review_no_function_may_write_or_delete_api_key_items() -> None:
    # Keys are made by an operator (`order-capture keys create`), never by a function:
    # ApiFunction only reads one. Put/Update/Delete on APIKEY#* let it mint a key for any
    # merchant, point a key at another merchant, or delete every key.
    offenders = {
        name: sorted(actions & WRITE_ACTIONS)
        for name, function in resources_of_type("AWS::Serverless::Function").items()
        for actions, keys in _ledger_statements(function)
        if actions & WRITE_ACTIONS and any(key.startswith("APIKEY#") or key == "*" for key in keys)
    }
    assert offenders == {}


def test_review_delete_item_is_granted_only_on_idempotency_records() -> None:
    # No ledger item is ever deleted by the service; DeleteItem is Powertools Idempotency
    # removing its own records.
    offenders = {
        name: sorted(key for key in keys if not key.startswith("idempotency#"))
        for name, function in resources_of_type("AWS::Serverless::Function").items()
        for actions, keys in _ledger_statements(function)
        if "dynamodb:DeleteItem" in actions
        and any(not key.startswith("idempotency#") for key in keys)
    }
    assert offenders == {}


def test_review_cloudwatch_alarms_can_publish_to_the_alarm_topic() -> None:
    # A topic encrypted with the AWS managed alias/aws/sns key takes no alarm's message.
    resources = cfn_template()["Resources"]
    key = resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"]
    assert key == {"Ref": "AlarmTopicKey"}
    statements = resources["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    (cloudwatch,) = [
        s for s in statements if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_review_dead_letter_queue_policy_is_limited_to_this_accounts_rules() -> None:
    # Without aws:SourceArn / aws:SourceAccount any EventBridge rule may send to the DLQs;
    # `order-capture dlq redrive` puts what it finds there on the bus as real events.
    policy = cfn_template()["Resources"]["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    for statement in policy["Statement"]:
        conditions = statement.get("Condition") or {}
        keys = {key for operator in conditions.values() for key in operator}
        assert {"aws:SourceArn", "aws:SourceAccount"} <= keys, statement
