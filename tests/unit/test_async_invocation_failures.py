"""Nothing an asynchronously invoked function fails on is dropped: after Lambda's own retries
the event goes to an SQS failure destination, and both the failures and the queue alarm.

A rule's (or a schedule's) dead-letter queue covers only delivery to Lambda: an event Lambda
accepted and the function then failed on twice more is gone unless the function has an
on-failure destination."""

from __future__ import annotations

from typing import Any

from tests.template_support import alarms_on, resources_of_type

#: Event sources that invoke a function asynchronously (Lambda retries, then the on-failure
#: destination). API and Step Functions invocations are synchronous: their caller sees the
#: error.
ASYNC_EVENT_TYPES = frozenset(
    {"EventBridgeRule", "CloudWatchEvent", "Schedule", "ScheduleV2", "SNS", "S3", "IoTRule"}
)


def asynchronously_invoked() -> dict[str, dict[str, Any]]:
    return {
        logical_id: function["Properties"]
        for logical_id, function in resources_of_type("AWS::Serverless::Function").items()
        if any(
            event["Type"] in ASYNC_EVENT_TYPES
            for event in function["Properties"].get("Events", {}).values()
        )
    }


def queue_depth_alarmed(queue_id: str) -> bool:
    return any(
        alarm["Namespace"] == "AWS/SQS"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
        in alarm["Dimensions"]
        for alarm in alarms_on("ApproximateNumberOfMessagesVisible")
    )


def test_defect_7_the_template_has_asynchronously_invoked_functions() -> None:
    # The check below must not pass by finding none
    assert {"OrderEventsFunction", "ReconcileFunction", "ExpirySweepFunction"} <= set(
        asynchronously_invoked()
    )


def test_defect_7_every_asynchronously_invoked_function_has_an_sqs_failure_destination() -> None:
    queues = resources_of_type("AWS::SQS::Queue")
    for logical_id, properties in asynchronously_invoked().items():
        on_failure = (
            properties.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure")
        )
        assert on_failure is not None, f"{logical_id} has no on-failure destination"
        assert on_failure["Type"] == "SQS", logical_id
        (queue_id, attribute) = on_failure["Destination"]["Fn::GetAtt"]
        assert (queue_id in queues, attribute) == (True, "Arn"), logical_id
        assert queue_depth_alarmed(queue_id), f"{logical_id}'s failure queue is not alarmed"
        # Kept long enough for a person to see and replay
        assert queues[queue_id]["Properties"]["MessageRetentionPeriod"] >= 4 * 86400


def test_defect_7_every_asynchronously_invoked_function_has_an_errors_alarm() -> None:
    for logical_id in asynchronously_invoked():
        assert any(
            alarm["Namespace"] == "AWS/Lambda"
            and {"Name": "FunctionName", "Value": {"Ref": logical_id}} in alarm["Dimensions"]
            and alarm["Threshold"] == 0
            and alarm["ComparisonOperator"] == "GreaterThanThreshold"
            for alarm in alarms_on("Errors")
        ), f"{logical_id} has no Errors alarm"
