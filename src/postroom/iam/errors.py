"""IAM errors with AWS's codes (from the model's error shapes) and message texts."""

from __future__ import annotations

from postroom.protocol.errors import AWSError
from postroom.protocol.model import load_service_model


def _error(shape: str, message: str) -> AWSError:
    return load_service_model("iam").error(shape, message)


def no_such_entity(message: str) -> AWSError:
    return _error("NoSuchEntityException", message)


def already_exists(message: str) -> AWSError:
    return _error("EntityAlreadyExistsException", message)


def delete_conflict(message: str) -> AWSError:
    return _error("DeleteConflictException", message)


def limit_exceeded(message: str) -> AWSError:
    return _error("LimitExceededException", message)


def malformed_policy(message: str) -> AWSError:
    return _error("MalformedPolicyDocumentException", message)


def invalid_input(message: str) -> AWSError:
    return _error("InvalidInputException", message)


def validation_error(message: str) -> AWSError:
    # Not a modelled shape: AWS answers constraint failures with this code.
    return AWSError("ValidationError", message)


def access_denied(caller_arn: str, action: str, resource: str) -> AWSError:
    return AWSError(
        "AccessDenied",
        f"User: {caller_arn} is not authorized to perform: iam:{action} on resource: {resource}",
        status=403,
    )


def role_not_found(name: str) -> AWSError:
    return no_such_entity(f"The role with name {name} cannot be found.")


def user_not_found(name: str) -> AWSError:
    return no_such_entity(f"The user with name {name} cannot be found.")


def policy_not_found(arn: str) -> AWSError:
    return no_such_entity(f"Policy {arn} was not found.")


def policy_not_attachable(arn: str) -> AWSError:
    return no_such_entity(f"Policy {arn} does not exist or is not attachable.")
