"""STS errors with AWS's codes and texts."""

from __future__ import annotations

from postroom.protocol.errors import AWSError
from postroom.protocol.model import load_service_model


def access_denied(caller_arn: str, action: str, resource: str) -> AWSError:
    # Not a modelled shape: AWS answers an AssumeRole of a role it cannot use this way.
    return AWSError(
        "AccessDenied",
        f"User: {caller_arn} is not authorized to perform: sts:{action} on resource: {resource}",
        status=403,
    )


def validation_error(message: str) -> AWSError:
    return AWSError("ValidationError", message)


def invalid_identity_token() -> AWSError:
    return load_service_model("sts").error(
        "InvalidIdentityTokenException",
        "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)",
    )


def session_credentials_not_allowed() -> AWSError:
    return AWSError("AccessDenied", "Cannot call GetSessionToken with session credentials", status=403)


def invalid_parameter_value(message: str) -> AWSError:
    return AWSError("InvalidParameterValue", message)
