"""SQS errors with AWS's codes, statuses and messages (codes from the model's error shapes)."""

from __future__ import annotations

from postroom.protocol.errors import AWSError, invalid_parameter_value
from postroom.protocol.model import load_service_model


def _error(shape: str, message: str) -> AWSError:
    return load_service_model("sqs").error(shape, message)


def queue_does_not_exist() -> AWSError:
    error = _error("QueueDoesNotExist", "The specified queue does not exist.")
    error.query_message = "The specified queue does not exist for this wsdl version."
    return error


def queue_name_exists(attribute: str) -> AWSError:
    return _error(
        "QueueNameExists",
        f"A queue already exists with the same name and a different value for attribute {attribute}",
    )


def queue_deleted_recently() -> AWSError:
    return _error(
        "QueueDeletedRecently",
        "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
    )


def invalid_attribute_name(name: str) -> AWSError:
    return _error("InvalidAttributeName", f"Unknown Attribute {name}.")


def invalid_attribute_name_message(message: str) -> AWSError:
    return _error("InvalidAttributeName", message)


def invalid_attribute_value_message(message: str) -> AWSError:
    return _error("InvalidAttributeValue", message)


def invalid_attribute_value(name: str, reason: str | None = None) -> AWSError:
    message = f"Invalid value for the parameter {name}."
    if reason:
        message = f"Value for parameter {name} is invalid. Reason: {reason}"
    return _error("InvalidAttributeValue", message)


def invalid_message_contents(char: str) -> AWSError:
    return _error(
        "InvalidMessageContents",
        f"Invalid binary character '#x{ord(char):X}' was found in the message body, the set of "
        "allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
    )


def receipt_handle_is_invalid(handle: str) -> AWSError:
    return _error("ReceiptHandleIsInvalid", f'The input receipt handle "{handle}" is not a valid receipt handle.')


def message_not_inflight() -> AWSError:
    return _error("MessageNotInflight", "Message not inflight.")


def purge_in_progress(queue_name: str) -> AWSError:
    return _error(
        "PurgeQueueInProgress", f"Only one PurgeQueue operation on {queue_name} is allowed every 60 seconds."
    )


def empty_batch(entry_kind: str) -> AWSError:
    return _error("EmptyBatchRequest", f"There should be at least one {entry_kind} in the request.")


def too_many_entries(count: int) -> AWSError:
    return _error(
        "TooManyEntriesInBatchRequest", f"Maximum number of entries per request are 10. You have sent {count}."
    )


def batch_ids_not_distinct(entry_id: str) -> AWSError:
    return _error("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")


def invalid_batch_entry_id() -> AWSError:
    return _error(
        "InvalidBatchEntryId",
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
        "It can be at most 80 letters long.",
    )


def batch_too_long(size: int, limit: int) -> AWSError:
    return _error(
        "BatchRequestTooLong", f"Batch requests cannot be longer than {limit} bytes. You have sent {size} bytes."
    )


def over_limit(limit: int) -> AWSError:
    return _error(
        "OverLimit", f"Too many messages in flight: the queue already has {limit} in-flight messages."
    )


def resource_not_found(message: str) -> AWSError:
    return _error("ResourceNotFoundException", message)


def unsupported_operation(message: str) -> AWSError:
    return _error("UnsupportedOperation", message)


def parameter_out_of_range(name: str, value: object, reason: str) -> AWSError:
    return invalid_parameter_value(f"Value {value} for parameter {name} is invalid. Reason: {reason}")
