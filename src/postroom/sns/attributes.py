"""Topic and subscription attributes: validation, defaults and the computed ones."""

from __future__ import annotations

from typing import Any

import orjson

from postroom.sns import limits
from postroom.sns.errors import invalid_parameter

TOPIC_SETTABLE = frozenset({
    "DisplayName", "Policy", "DeliveryPolicy", "KmsMasterKeyId", "SignatureVersion", "TracingConfig",
    "ContentBasedDeduplication", "ArchivePolicy", "DataProtectionPolicy", "FifoThroughputScope",
    "HTTPSuccessFeedbackRoleArn", "HTTPFailureFeedbackRoleArn", "HTTPSuccessFeedbackSampleRate",
    "SQSSuccessFeedbackRoleArn", "SQSFailureFeedbackRoleArn", "SQSSuccessFeedbackSampleRate",
    "LambdaSuccessFeedbackRoleArn", "LambdaFailureFeedbackRoleArn", "LambdaSuccessFeedbackSampleRate",
    "FirehoseSuccessFeedbackRoleArn", "FirehoseFailureFeedbackRoleArn", "FirehoseSuccessFeedbackSampleRate",
    "ApplicationSuccessFeedbackRoleArn", "ApplicationFailureFeedbackRoleArn",
    "ApplicationSuccessFeedbackSampleRate",
})
TOPIC_CREATE_ONLY = frozenset({"FifoTopic"})
SUBSCRIPTION_SETTABLE = frozenset({
    "DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy",
    "SubscriptionRoleArn", "ReplayPolicy",
})
_BOOLEAN = frozenset({"RawMessageDelivery", "ContentBasedDeduplication", "FifoTopic"})
_JSON = frozenset({"Policy", "DeliveryPolicy", "RedrivePolicy", "ArchivePolicy", "DataProtectionPolicy", "ReplayPolicy"})


MAP_REASON = "Attributes Reason: "  # how AWS words errors in an Attributes map (Subscribe, CreateTopic)


def check_value(name: str, value: Any, reason: str = MAP_REASON) -> str:
    """Validate one attribute value by its kind; return it as stored. ``reason`` starts
    each message: AWS adds "Attributes Reason: " for a map, nothing for Set*Attributes."""
    if not isinstance(value, str):
        raise invalid_parameter(f"{reason}{name} must be a string")
    if name in _BOOLEAN:
        if value.lower() not in ("true", "false"):
            raise invalid_parameter(f"{reason}{name}: Invalid value [{value}]. Must be true or false.")
        return value.lower()
    if name in _JSON and value != "":
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise invalid_parameter(f"{reason}{name}: failed to parse JSON") from None
        if not isinstance(doc, dict):
            raise invalid_parameter(f"{reason}{name}: must be a JSON object")
        if name == "DeliveryPolicy":
            check_delivery_policy(doc)
    if name == "SignatureVersion" and value not in limits.SIGNATURE_VERSIONS:
        raise invalid_parameter(f"{reason}SignatureVersion must be 1 or 2")
    if name == "FilterPolicyScope" and value not in ("MessageAttributes", "MessageBody"):
        raise invalid_parameter(f"{reason}FilterPolicyScope: Invalid value [{value}]")
    if name == "TracingConfig" and value not in ("PassThrough", "Active"):
        raise invalid_parameter(f"{reason}TracingConfig must be PassThrough or Active")
    if name == "DisplayName" and len(value) > 100:
        raise invalid_parameter(f"{reason}DisplayName must be at most 100 characters")
    return value


def check_delivery_policy(doc: dict[str, Any]) -> None:
    """Validate an HTTP/S delivery policy (the topic form nests it under "http")."""
    policy = doc.get("http", doc)
    retry = policy.get("defaultHealthyRetryPolicy", policy.get("healthyRetryPolicy"))
    if retry is None:
        return
    if not isinstance(retry, dict):
        raise invalid_parameter("DeliveryPolicy: healthyRetryPolicy must be an object")
    merged = {**limits.DEFAULT_HEALTHY_RETRY_POLICY, **retry}
    try:
        numbers = {k: int(merged[k]) for k in (
            "minDelayTarget", "maxDelayTarget", "numRetries", "numMaxDelayRetries",
            "numNoDelayRetries", "numMinDelayRetries",
        )}
    except (TypeError, ValueError):
        raise invalid_parameter("DeliveryPolicy: retry values must be integers") from None
    if merged["backoffFunction"] not in ("linear", "arithmetic", "geometric", "exponential"):
        raise invalid_parameter("DeliveryPolicy: backoffFunction must be linear, arithmetic, geometric or exponential")
    if not 0 <= numbers["numRetries"] <= 100:
        raise invalid_parameter("DeliveryPolicy: numRetries must be between 0 and 100")
    if not 1 <= numbers["minDelayTarget"] <= numbers["maxDelayTarget"] <= limits.MAX_RETRY_WINDOW_S:
        raise invalid_parameter("DeliveryPolicy: minDelayTarget must be <= maxDelayTarget and within 1..3600")
    phases = numbers["numNoDelayRetries"] + numbers["numMinDelayRetries"] + numbers["numMaxDelayRetries"]
    if phases > numbers["numRetries"]:
        raise invalid_parameter("DeliveryPolicy: the retry phases add up to more than numRetries")
    throttle = policy.get("defaultThrottlePolicy", policy.get("throttlePolicy"))
    if throttle is not None:
        rate = throttle.get("maxReceivesPerSecond") if isinstance(throttle, dict) else None
        if not isinstance(rate, int) or rate < 1:
            raise invalid_parameter("DeliveryPolicy: maxReceivesPerSecond must be a positive integer")


def default_topic_policy(arn: str, account: str) -> str:
    return orjson.dumps({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic", "SNS:Publish",
            ],
            "Resource": arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
        }],
    }).decode()


def effective_delivery_policy(topic_policy: str | None) -> str:
    doc = orjson.loads(topic_policy) if topic_policy else {}
    http = doc.get("http", {})
    return orjson.dumps({
        "http": {
            "defaultHealthyRetryPolicy": {
                **limits.DEFAULT_HEALTHY_RETRY_POLICY, **http.get("defaultHealthyRetryPolicy", {})
            },
            "disableSubscriptionOverrides": http.get("disableSubscriptionOverrides", False),
            **({"defaultThrottlePolicy": http["defaultThrottlePolicy"]} if "defaultThrottlePolicy" in http else {}),
            "defaultRequestPolicy": http.get("defaultRequestPolicy", {"headerContentType": "text/plain; charset=UTF-8"}),
        }
    }).decode()
