"""CloudWatch Logs error answers, with AWS's codes and texts."""

from __future__ import annotations

from postroom.protocol.errors import AWSError
from postroom.protocol.model import load_service_model


def _error(shape: str, message: str) -> AWSError:
    return load_service_model("logs").error(shape, message)


def invalid_parameter(message: str) -> AWSError:
    return _error("InvalidParameterException", message)


def validation(message: str) -> AWSError:
    return _error("ValidationException", message)


def invalid_operation(message: str) -> AWSError:
    return _error("InvalidOperationException", message)


def group_not_found() -> AWSError:
    return _error("ResourceNotFoundException", "The specified log group does not exist.")


def stream_not_found() -> AWSError:
    return _error("ResourceNotFoundException", "The specified log stream does not exist.")


def group_exists() -> AWSError:
    return _error("ResourceAlreadyExistsException", "The specified log group already exists")


def stream_exists() -> AWSError:
    return _error("ResourceAlreadyExistsException", "The specified log stream already exists")


def invalid_token() -> AWSError:
    return invalid_parameter("The specified nextToken is invalid.")


def too_many_tags(shape: str = "TooManyTagsException") -> AWSError:
    return _error(shape, "A resource can have no more than 50 tags.")
