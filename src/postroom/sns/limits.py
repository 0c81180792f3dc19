"""Every SNS limit and default in one place (AWS documentation, botocore's SNS model)."""

from __future__ import annotations

MAX_MESSAGE_BYTES = 262_144  # message + attributes
MAX_SUBJECT = 100
MAX_TOPIC_NAME = 256
MAX_BATCH_ENTRIES = 10
LIST_PAGE = 100  # ListTopics / ListSubscriptions page size
MAX_TAGS = 50
DEDUPLICATION_WINDOW_MS = 300_000
SIGNATURE_VERSIONS = ("1", "2")

PROTOCOLS = ("http", "https", "email", "email-json", "sms", "sqs", "application", "lambda", "firehose")
CONFIRMED_AT_ONCE = frozenset({"sqs", "lambda", "firehose", "application", "sms"})
RAW_DELIVERY_PROTOCOLS = frozenset({"sqs", "http", "https", "firehose"})

DEFAULT_HEALTHY_RETRY_POLICY = {
    "minDelayTarget": 20,
    "maxDelayTarget": 20,
    "numRetries": 3,
    "numMaxDelayRetries": 0,
    "numNoDelayRetries": 0,
    "numMinDelayRetries": 0,
    "backoffFunction": "linear",
}
MAX_RETRY_WINDOW_S = 3_600
TOKEN_BYTES = 144  # AWS's confirmation tokens are 288 hex digits
