"""The typed internal API other services use to publish to topics (function destinations
and dead-letter topics). It runs the public Publish code, so every rule applies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from postroom.ids import new_id
from postroom.protocol.context import RequestContext
from postroom.sns import publish
from postroom.sns.names import parse_topic_arn
from postroom.sns.stats import DeliveryFailure


@dataclass(frozen=True, slots=True)
class SnsStats:
    published: int
    delivered: dict[str, int]  # by protocol
    failed: dict[str, int]  # by protocol


if TYPE_CHECKING:
    from postroom.sns.service import SnsService


class SnsApi:
    def __init__(self, svc: SnsService) -> None:
        self._svc = svc

    def topic_exists(self, arn: str) -> bool:
        return arn in self._svc.topics.topics

    def stats(self) -> SnsStats:
        """Publishes, and deliveries and failures by protocol, since the server started."""
        counters = self._svc.counters
        return SnsStats(counters.published, dict(counters.delivered), dict(counters.failed))

    def recent_failures(self, topic_arn: str | None = None, limit: int = 50) -> list[DeliveryFailure]:
        """The latest delivery failures (newest first), of one topic or of all."""
        found = [
            f for f in reversed(self._svc.counters.recent_failures)
            if topic_arn is None or f.topic_arn == topic_arn
        ]
        return found[:limit]

    async def publish(
        self, topic_arn: str, message: str, *, subject: str | None = None,
        attributes: dict[str, dict[str, Any]] | None = None, group_id: str | None = None,
        dedup_id: str | None = None,
    ) -> str:
        """Publish to ``topic_arn``; the message id. ``attributes`` in SNS form
        (``{"DataType": ..., "StringValue" | "BinaryValue": ...}``). Raises AWSError."""
        params: dict[str, Any] = {"TopicArn": topic_arn, "Message": message}
        if subject is not None:
            params["Subject"] = subject
        if attributes:
            params["MessageAttributes"] = attributes
        if group_id is not None:
            params["MessageGroupId"] = group_id
        if dedup_id is not None:
            params["MessageDeduplicationId"] = dedup_id
        parsed = parse_topic_arn(topic_arn)
        region, account = (parsed[0], parsed[1]) if parsed else ("us-east-1", "000000000000")
        ctx = RequestContext(account, region, "AIDAPOSTROOM", "http://localhost", new_id())
        answer = await publish.publish(self._svc, params, ctx)
        assert answer is not None
        return str(answer["MessageId"])
