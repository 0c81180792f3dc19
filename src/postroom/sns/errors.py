"""SNS errors with AWS's codes (from the model's error shapes) and message styles."""

from __future__ import annotations

from postroom.protocol.errors import AWSError
from postroom.protocol.model import load_service_model


def _error(shape: str, message: str) -> AWSError:
    return load_service_model("sns").error(shape, message)


def invalid_parameter(message: str) -> AWSError:
    return _error("InvalidParameterException", f"Invalid parameter: {message}")


def invalid_parameter_bare(message: str) -> AWSError:
    """InvalidParameter with a message AWS sends without its "Invalid parameter: " prefix."""
    return _error("InvalidParameterException", message)


def invalid_topic_arn(arn: str) -> AWSError:
    """AWS counts an ARN's colon-separated elements before anything else."""
    elements = len(arn.split(":"))
    if elements < 6:
        return invalid_parameter(f"TopicArn Reason: An ARN must have at least 6 elements, not {elements}")
    return invalid_parameter("TopicArn")


def invalid_parameter_value(message: str) -> AWSError:
    return _error("InvalidParameterValueException", message)


def not_found(message: str) -> AWSError:
    return _error("NotFoundException", message)


def topic_not_found() -> AWSError:
    return not_found("Topic does not exist")


def subscription_not_found() -> AWSError:
    return not_found("Subscription does not exist")


def batch_error(shape: str, message: str) -> AWSError:
    return _error(shape, message)


def throttled() -> AWSError:
    """Too many publishes racing for one FIFO topic's sequence numbers: SDKs back off and retry."""
    return _error("ThrottledException", "Rate exceeded")
