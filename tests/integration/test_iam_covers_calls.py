"""The template's IAM policies allow every AWS call each function makes.

The local runtime attributes each AWS request to the function whose handler made it (as
Lambda's execution role would be asked). A tour of every trigger and path (events, the API in
its routes, asynchronous confirmation and refunds by webhook, declines, reconciliation, the
expiry sweep) collects them, and each call is checked against the function's policy statements
in template.yaml: the action, and for DynamoDB the table or the named index, and the partition
key of every item it reads or writes against the statement's ``dynamodb:LeadingKeys``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any

import pytest

from order_capture_local.runtime import AwsCall
from order_capture_local.template import _CfnLoader
from tests.factories import EXAMPLE_ORDER_TOTAL, items_canceled, order_placed, order_shipped
from tests.integration.api_support import (
    LocalApiUnderTest,
    Merchant,
    idempotency_key,
    order_detail,
)
from tests.integration.async_support import (
    capture_asynchronously,
    confirmation_execution,
    post_webhook,
    refund_statuses,
    signed_notification,
    signed_webhook_api,
    wait_for_capture,
    wait_for_status,
    webhook_merchant,
)
from tests.support import ROOT

#: botocore service name -> IAM service prefix.
IAM_PREFIX = {"dynamodb": "dynamodb", "stepfunctions": "states", "events": "events"}
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
#: SAM policy templates the functions use, as the actions they grant (on their resource).
SAM_POLICY_TEMPLATES = {"EventBridgePutEventsPolicy": ["events:PutEvents"]}


def required_permissions(call: AwsCall) -> list[tuple[str, str]]:
    """(IAM action, resource) pairs a call needs; resource is ``table``, ``index/<name>`` or
    ``any``."""
    if call.service != "dynamodb":
        prefix = IAM_PREFIX.get(call.service, call.service)
        return [(f"{prefix}:{call.operation}", "any")]
    if call.operation == "TransactWriteItems":
        return [
            (f"dynamodb:{TRANSACT_ACTIONS[next(iter(item))]}", "table")
            for item in call.params["TransactItems"]
        ]
    if call.operation == "Query" and "IndexName" in call.params:
        return [("dynamodb:Query", f"index/{call.params['IndexName']}")]
    return [(f"dynamodb:{call.operation}", "table")]


def leading_keys(call: AwsCall) -> list[tuple[str, str, str]]:
    """(IAM action, resource, partition key value) of each item a DynamoDB call names: the
    values IAM compares with ``dynamodb:LeadingKeys`` (for a Query, its key condition's
    partition key: the table's ``PK``, or the index's own)."""
    params = call.params
    if call.operation == "TransactWriteItems":
        return [
            (f"dynamodb:{TRANSACT_ACTIONS[kind]}", "table", _partition(write))
            for item in params["TransactItems"]
            for kind, write in item.items()
        ]
    if call.operation == "BatchGetItem":
        return [
            ("dynamodb:BatchGetItem", "table", _partition({"Key": key}))
            for request in params["RequestItems"].values()
            for key in request["Keys"]
        ]
    if call.operation == "Query":
        match = re.match(r"\s*#?\w+\s*=\s*(:\w+)", params["KeyConditionExpression"])
        assert match is not None, params["KeyConditionExpression"]
        value = str(params["ExpressionAttributeValues"][match.group(1)]["S"])
        index = params.get("IndexName")
        return [("dynamodb:Query", f"index/{index}" if index else "table", value)]
    return [(f"dynamodb:{call.operation}", "table", _partition(params))]


def _partition(params: dict[str, Any]) -> str:
    return str((params.get("Key") or params["Item"])["PK"]["S"])


def granted_permissions(function_id: str) -> list[tuple[list[str], str]]:
    """The function's policy statements as (actions, resource) with resource ``table``,
    ``index/<name>``, ``any`` (``*``) or ``other``."""
    return [(actions, resource) for actions, resource, _ in granted_statements(function_id)]


def granted_statements(function_id: str) -> list[tuple[list[str], str, list[str] | None]]:
    """As ``granted_permissions``, with each statement's ``dynamodb:LeadingKeys`` patterns
    (``ForAllValues:StringLike``; None: the statement has no such condition)."""
    template = yaml_template()
    statements: list[tuple[list[str], str, list[str] | None]] = []
    for policy in template["Resources"][function_id]["Properties"].get("Policies", []):
        for name, actions in SAM_POLICY_TEMPLATES.items():
            if name in policy:
                statements.append((actions, "other", None))
        for statement in policy.get("Statement", []):
            resources = statement["Resource"]
            condition = statement.get("Condition", {}).get("ForAllValues:StringLike", {})
            patterns = condition.get("dynamodb:LeadingKeys")
            for resource in resources if isinstance(resources, list) else [resources]:
                statements.append((statement["Action"], _resource_kind(resource), patterns))
    return statements


def keys_outside_grants(function_id: str, calls: list[AwsCall]) -> set[tuple[str, str, str]]:
    """(action, resource, partition key) of the items no statement granting the action on the
    resource lets the function touch, by its ``dynamodb:LeadingKeys`` patterns."""
    granted = granted_statements(function_id)
    return {
        (action, resource, key)
        for call in calls
        if call.service == "dynamodb"
        for action, resource, key in leading_keys(call)
        if not any(
            action in actions
            and grant == resource
            and (patterns is None or any(fnmatchcase(key, p) for p in patterns))
            for actions, grant, patterns in granted
        )
    }


def _resource_kind(resource: Any) -> str:
    if resource == "*":
        return "any"
    text = json.dumps(resource)
    if "/index/" in text:
        return "index/" + text.split("/index/", 1)[1].split('"', 1)[0]
    if "LedgerTable" in text:
        return "table"
    return "other"


def yaml_template() -> dict[str, Any]:
    import yaml

    return dict(yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader))


def missing_permissions(function_id: str, calls: list[AwsCall]) -> set[tuple[str, str]]:
    granted = granted_permissions(function_id)
    return {
        (action, resource)
        for call in calls
        for action, resource in required_permissions(call)
        if not any(
            action in actions
            and (grant in {resource, "any"} or (resource == "any" and grant == "other"))
            for actions, grant in granted
        )
    }


def test_the_checker_finds_a_missing_permission() -> None:
    transaction = AwsCall(
        "dynamodb",
        "TransactWriteItems",
        {"TransactItems": [{"ConditionCheck": {}}, {"Update": {}}]},
    )
    index_query = AwsCall("dynamodb", "Query", {"IndexName": "OpenCaptures"})
    # AwaitConfirmation may ConditionCheck and Update the table, but query no index
    assert missing_permissions("AwaitConfirmationFunction", [transaction]) == set()
    assert missing_permissions("AwaitConfirmationFunction", [index_query]) == {
        ("dynamodb:Query", "index/OpenCaptures")
    }
    # ComputeAmount may call nothing at all
    assert missing_permissions("ComputeAmountFunction", [transaction]) == {
        ("dynamodb:ConditionCheckItem", "table"),
        ("dynamodb:UpdateItem", "table"),
    }


def test_the_checker_finds_a_key_outside_the_leading_keys() -> None:
    api_key = AwsCall("dynamodb", "GetItem", {"Key": {"PK": {"S": "APIKEY#abc"}}})
    pointer = AwsCall(
        "dynamodb",
        "TransactWriteItems",
        {"TransactItems": [{"Update": {"Key": {"PK": {"S": "CAPTURE_REF#m-1#c-1"}}}}]},
    )
    # AwaitConfirmation may update CAPTURE_REF items, but read no API key
    assert keys_outside_grants("AwaitConfirmationFunction", [pointer]) == set()
    assert keys_outside_grants("AwaitConfirmationFunction", [api_key]) == {
        ("dynamodb:GetItem", "table", "APIKEY#abc")
    }


#: Where each function's table grant lets it read and write: the partition key prefixes of the
#: items it touches (docs/ledger.md). One role serves every merchant, so no grant can name one
#: merchant's partitions: the prefixes name the kinds of item.
LEADING_KEYS = {
    "ValidateFunction": ["ORDER#*"],
    "CaptureFunction": ["ORDER#*", "CAPTURE_REF#*"],
    "RecordFunction": ["ORDER#*", "CAPTURE_REF#*", "RELEASE_REF#*"],
    "RecordFailureFunction": ["ORDER#*", "CAPTURE_REF#*", "EXECUTION#*"],
    "AwaitConfirmationFunction": ["ORDER#*", "CAPTURE_REF#*"],
    "OrderEventsFunction": ["ORDER#*", "CAPTURE_REF#*", "RELEASE_REF#*", "idempotency#*"],
    "ApiAuthorizerFunction": ["APIKEY#*"],
    "ApiFunction": [
        "ORDER#*",
        "CAPTURE_REF#*",
        "REFUND_REF#*",
        "RELEASE_REF#*",
        "APIKEY#*",
        "idempotency#*",
    ],
    "ReconcileFunction": ["ORDER#*", "CAPTURE_REF#*", "REFUND_REF#*", "RELEASE_REF#*"],
    "ExpirySweepFunction": ["ORDER#*", "SWEEP#expiry"],
}


def test_defect_11_every_ledger_table_grant_is_limited_by_leading_keys() -> None:
    template = yaml_template()
    functions = [
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and any(kind != "other" and kind != "any" for _, kind in granted_permissions(name))
    ]
    assert sorted(functions) == sorted(LEADING_KEYS)
    for function_id in functions:
        on_the_table: list[str] = []
        for granted, resource, patterns in granted_statements(function_id):
            actions = [granted] if isinstance(granted, str) else list(granted)  # one, or a list
            if not any(action.startswith("dynamodb:") for action in actions):
                continue
            if resource == "table":
                # Each statement limited (its own actions for its own keys: API keys read
                # only, idempotency records deletable), all of them the function's keys.
                assert patterns and "*" not in patterns, function_id
                on_the_table += patterns
            else:  # a named index, for Query only (its grant is by index name)
                assert resource.startswith("index/") and actions == ["dynamodb:Query"]
        assert sorted(set(on_the_table)) == sorted(LEADING_KEYS[function_id]), function_id


@pytest.mark.parametrize("function_id", ["ApiFunction", "OrderEventsFunction"])
def test_powertools_idempotency_records_are_within_the_leading_keys(
    function_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Powertools' own client is not one the local runtime attributes, so the tour does not see
    # these writes: the partition key is Powertools' as the two functions configure it
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", f"order-capture-{function_id}-A1b2C3")
    layer = DynamoDBPersistenceLayer(table_name="ledger", key_attr="PK", sort_key_attr="SK")
    record = {"PK": {"S": layer.static_pk_value}, "SK": {"S": "hash"}}
    writes = [
        AwsCall("dynamodb", operation, {"Key" if operation != "PutItem" else "Item": record})
        for operation in ("PutItem", "GetItem", "UpdateItem", "DeleteItem")
    ]
    assert layer.static_pk_value.startswith("idempotency#")
    assert keys_outside_grants(function_id, writes) == set()


@pytest.fixture(scope="module")
def toured() -> Iterator[LocalApiUnderTest]:
    """Every trigger and path once, on one runtime."""
    with signed_webhook_api(retry_time_scale=0.02) as api:
        tour(api, webhook_merchant(api))
        yield api


def tour(api: LocalApiUnderTest, merchant: Merchant) -> None:
    runtime = api.runtime
    sandbox = runtime.sandbox
    assert sandbox is not None
    # Events: register, ship (captured), cancel, and a declined shipment
    runtime.put_events([order_placed("order-a"), order_placed("order-b")])
    runtime.put_events([order_shipped("s-1", order_id="order-a")])
    runtime.put_events([items_canceled([{"item_id": "line-1", "quantity": 1}], order_id="order-b")])
    sandbox.add_fault("decline")
    runtime.put_events([order_shipped("s-2", order_id="order-b")])
    # The API: register, capture, read, refund
    order_id, capture = capture_asynchronously(api, merchant, "latency", delay_seconds=0)
    with merchant.client() as client:
        for path in (f"/orders/{order_id}", f"/orders/{order_id}/captures"):
            assert client.get(path).status_code == 200
        refunded = client.post(
            f"/orders/{order_id}/captures/{capture['id']}/refunds",
            json={"amount": 1000},
            headers=idempotency_key(),
        )
        assert refunded.status_code == 200, refunded.text
        # A refund left pending for reconciliation
        sandbox.add_fault("unavailable", operation="refund")
        client.post(
            f"/orders/{order_id}/captures/{capture['id']}/refunds",
            json={"amount": 500},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    # Asynchronous confirmation and refunds, by webhook
    async_order, async_capture = capture_asynchronously(api, merchant, "async")
    wait_for_status(merchant, async_order, async_capture["id"], "captured")
    assert confirmation_execution(api, async_capture["id"]).status == "SUCCEEDED"
    sandbox.add_fault("async", delay_seconds=0.2, operation="refund")
    with merchant.client() as client:
        client.post(
            f"/orders/{async_order}/captures/{async_capture['id']}/refunds",
            json={"amount": 300},
            headers=idempotency_key(),
        )
    wait_for_capture(
        merchant, async_order, async_capture["id"], lambda c: refund_statuses(c) == ["refunded"]
    )
    # A reversal after the wait completed: its token refused, the webhook reads the wait's
    # execution history (GetExecutionHistory) before announcing the reversal itself
    reversed_order, reversed_capture = capture_asynchronously(api, merchant, "async")
    wait_for_status(merchant, reversed_order, reversed_capture["id"], "captured")
    assert confirmation_execution(api, reversed_capture["id"]).status == "SUCCEEDED"
    reversal = signed_notification(reversed_capture["id"], "CAPTURE_FAILED", "true")
    assert post_webhook(api, merchant.merchant_id, reversal).status_code == 202
    # Orders closed while a capture is in flight (its webhook held): Record (the rest captured
    # by amount) and OrderEvents (the rest canceled) store the release waiting and note the
    # capture in flight (a Query)
    sandbox.hold_webhooks()
    try:
        closed_by_record, first = capture_in_flight(api, merchant, amount=5000)
        with merchant.client() as client:
            rest = client.post(
                f"/orders/{closed_by_record}/captures",
                json={"amount": EXAMPLE_ORDER_TOTAL - 5000},
                headers=idempotency_key(),
            )
            assert rest.status_code == 200, rest.text
        line_1_and_shipping = 3 * 1999 - 500 + 1154 + 495
        closed_by_cancel, second = capture_in_flight(api, merchant, amount=line_1_and_shipping)
        canceled = items_canceled(
            [{"item_id": "line-2", "quantity": 2}],
            order_id=closed_by_cancel,
            merchant_id=merchant.merchant_id,
        )
        canceled["id"] = uuid.uuid4().hex  # not the earlier cancellation's event id
        for delivery in runtime.put_events([canceled]):
            assert not any(invocation.failed for invocation in delivery.invocations), delivery
    finally:
        sandbox.release_webhooks()
    wait_for_status(merchant, closed_by_record, first["id"], "captured")
    wait_for_status(merchant, closed_by_cancel, second["id"], "captured")
    # The schedules
    for function_id, event in (
        ("ReconcileFunction", {"grace_seconds": 0}),
        ("ExpirySweepFunction", {}),
    ):
        invocation = runtime.invoke(function_id, event)
        assert not invocation.failed, invocation.payload


def capture_in_flight(
    api: LocalApiUnderTest, merchant: Merchant, amount: int
) -> tuple[str, dict[str, Any]]:
    """A new order of EXAMPLE_ORDER_TOTAL authorized for more, with a capture of ``amount``
    through the API that the sandbox received and decides by webhook (held by the caller)."""
    detail = order_detail(merchant.merchant_id, payment={"authorized_amount": AUTHORIZED})
    assert merchant.put_order(detail).status_code == 200
    assert api.runtime.sandbox is not None
    api.runtime.sandbox.add_fault("async", delay_seconds=0)
    with merchant.client() as client:
        response = client.post(
            f"/orders/{detail['order_id']}/captures",
            json={"amount": amount},
            headers=idempotency_key(),
        )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "pending", response.text
    return detail["order_id"], response.json()


#: More than the order's total, so that a closed order has a remainder to release.
AUTHORIZED = EXAMPLE_ORDER_TOTAL + 1829


def test_the_tour_reaches_every_function_that_calls_aws(toured: LocalApiUnderTest) -> None:
    called = set(toured.runtime.calls_by_function)
    assert called >= {
        "ValidateFunction",
        "CaptureFunction",
        "RecordFunction",
        "RecordFailureFunction",
        "AwaitConfirmationFunction",
        "OrderEventsFunction",
        "ApiFunction",
        "ApiAuthorizerFunction",
        "ReconcileFunction",
        "ExpirySweepFunction",
    }
    assert "ComputeAmountFunction" not in called  # pure: it has no permissions at all
    operations = {call.operation for calls in called_calls(toured) for call in calls}
    assert {
        "SendTaskSuccess",
        "GetExecutionHistory",
        "TransactWriteItems",
        "Query",
        "BatchGetItem",
    } <= operations


def called_calls(api: LocalApiUnderTest) -> list[list[AwsCall]]:
    return list(api.runtime.calls_by_function.values())


def test_every_call_of_every_function_is_allowed_by_its_policy(toured: LocalApiUnderTest) -> None:
    missing = {
        function_id: sorted(missing_permissions(function_id, calls))
        for function_id, calls in toured.runtime.calls_by_function.items()
    }
    assert {name: gaps for name, gaps in missing.items() if gaps} == {}


def test_every_item_each_function_touches_is_within_its_leading_keys(
    toured: LocalApiUnderTest,
) -> None:
    outside = {
        function_id: sorted(keys_outside_grants(function_id, calls))
        for function_id, calls in toured.runtime.calls_by_function.items()
    }
    assert {name: keys for name, keys in outside.items() if keys} == {}


def test_breaker_11_record_and_order_events_query_the_table_when_a_release_waits(
    toured: LocalApiUnderTest,
) -> None:
    # The Query both are granted for (the captures in flight of an order they close) is made
    # on the tour, so the policy check above covers it, and the grant is not dead weight
    for function_id in ("RecordFunction", "OrderEventsFunction"):
        queries = [
            call
            for call in toured.runtime.calls_by_function[function_id]
            if call.operation == "Query"
        ]
        assert queries, function_id
        assert all("IndexName" not in call.params for call in queries), function_id
        assert ("dynamodb:Query", "table") in {
            permission for call in queries for permission in required_permissions(call)
        }
