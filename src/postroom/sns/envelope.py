"""The JSON documents SNS delivers: notifications and subscription confirmations."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson


def iso_timestamp(ms: int) -> str:
    """AWS's envelope timestamp: ISO 8601, milliseconds, UTC."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclass
class Publication:
    """One published message, validated."""

    message_id: str
    message: str
    subject: str | None
    per_protocol: dict[str, str] | None  # MessageStructure=json: protocol -> message
    attributes: dict[str, dict[str, str]]  # SNS wire form: name -> {"Type", "Value"}
    group_id: str | None
    dedup_id: str | None
    timestamp_ms: int
    sequence_number: str | None = None
    trace_header: str | None = None  # the publish request's X-Amzn-Trace-Id, forwarded to SQS
    signatures: dict[tuple[str, str], str] = field(default_factory=dict)

    def message_for(self, protocol: str) -> str:
        if self.per_protocol is None:
            return self.message
        return self.per_protocol.get(protocol, self.per_protocol["default"])


def unsubscribe_url(base_url: str, subscription_arn: str) -> str:
    # AWS leaves the ARN's colons unescaped.
    return f"{base_url}/?Action=Unsubscribe&SubscriptionArn={quote(subscription_arn, safe=':')}"


def notification(
    pub: Publication, topic_arn: str, subscription_arn: str, protocol: str, base_url: str,
    signature_version: str, sign: Any, cert_path: str,
) -> dict[str, Any]:
    """The Notification envelope for one subscription (signed once per text and version).

    FIFO topics' envelopes carry a SequenceNumber and, as AWS sends them, no signature."""
    doc: dict[str, Any] = {"Type": "Notification", "MessageId": pub.message_id}
    if pub.sequence_number is not None:
        doc["SequenceNumber"] = pub.sequence_number
    doc["TopicArn"] = topic_arn
    if pub.subject is not None:
        doc["Subject"] = pub.subject
    doc["Message"] = pub.message_for(protocol)
    doc["Timestamp"] = iso_timestamp(pub.timestamp_ms)
    if pub.sequence_number is None:
        doc["SignatureVersion"] = signature_version
        key = (doc["Message"], signature_version)
        if key not in pub.signatures:
            pub.signatures[key] = sign(doc, signature_version)
        doc["Signature"] = pub.signatures[key]
        doc["SigningCertURL"] = base_url + cert_path
    doc["UnsubscribeURL"] = unsubscribe_url(base_url, subscription_arn)
    if pub.attributes:
        doc["MessageAttributes"] = pub.attributes
    return doc


def dumps(doc: dict[str, Any]) -> str:
    return orjson.dumps(doc).decode()
