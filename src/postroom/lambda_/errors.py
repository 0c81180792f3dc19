"""Lambda errors with AWS's codes (from the model's error shapes) and message texts."""

from __future__ import annotations

from postroom.protocol.errors import AWSError
from postroom.protocol.model import load_service_model

REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)


def error(shape: str, message: str) -> AWSError:
    return load_service_model("lambda").error(shape, message)


def invalid_parameter(message: str) -> AWSError:
    return error("InvalidParameterValueException", message)


def not_found(message: str) -> AWSError:
    return error("ResourceNotFoundException", message)


def function_not_found(arn: str) -> AWSError:
    return not_found(f"Function not found: {arn}")


def alias_not_found(arn: str) -> AWSError:
    return not_found(f"Cannot find alias arn: {arn}")


def resource_not_found() -> AWSError:
    return not_found("The resource you requested does not exist.")


def conflict(message: str) -> AWSError:
    return error("ResourceConflictException", message)


def precondition_failed(message: str = REVISION_MISMATCH) -> AWSError:
    return error("PreconditionFailedException", message)


def too_large(message: str) -> AWSError:
    return error("RequestTooLargeException", message)


def policy_too_long(message: str) -> AWSError:
    return error("PolicyLengthExceededException", message)


def unsupported(feature: str) -> AWSError:
    return invalid_parameter(f"{feature} is not supported by Postroom.")


def validation(message: str) -> AWSError:
    """AWS's front-end constraint check (not in the model: coral's ValidationException)."""
    return AWSError("ValidationException", message, type_name="ValidationException")


def constraint(value: object, path: str, rule: str) -> AWSError:
    return validation(
        f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: {rule}"
    )


def check_range(value: int | float | None, path: str, low: int, high: int) -> None:
    """ValidationException unless ``low <= value <= high`` (None passes)."""
    if value is None:
        return
    if value < low:
        raise constraint(value, path, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise constraint(value, path, f"Member must have value less than or equal to {high}")


def check_length(value: str | None, path: str, high: int, low: int = 0) -> None:
    if value is None:
        return
    if len(value) > high:
        raise constraint(value, path, f"Member must have length less than or equal to {high}")
    if len(value) < low:
        raise constraint(value, path, f"Member must have length greater than or equal to {low}")
