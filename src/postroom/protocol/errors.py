"""The one exception type services raise; each protocol encodes it in its own format."""

from __future__ import annotations

from typing import Any


class AWSError(Exception):
    """An error answer: AWS ``code`` (the query-protocol code), message and HTTP status.

    ``type_name`` is the error shape's name in the service model, used as the JSON
    protocol's ``__type`` and the rest-json ``x-amzn-ErrorType``; it defaults to the code.
    ``query_message`` is the text AWS sends instead in the query protocol, where it differs
    (e.g. SQS's older wording).
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        sender: bool = True,
        type_name: str | None = None,
        fields: dict[str, Any] | None = None,
        query_message: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender = sender
        self.type_name = type_name or code
        # Extra members of the error shape for JSON bodies ("header:<name>" keys go to headers).
        self.fields = fields
        self.query_message = query_message or message

    @property
    def fault(self) -> str:
        return "Sender" if self.sender else "Receiver"


def missing_parameter(name: str) -> AWSError:
    return AWSError("MissingParameter", f"The request must contain the parameter {name}.")


def invalid_parameter_value(message: str) -> AWSError:
    return AWSError("InvalidParameterValue", message)


def internal_error() -> AWSError:
    return AWSError(
        "InternalFailure",
        "The request processing has failed because of an unknown error, exception or failure.",
        status=500,
        sender=False,
    )
