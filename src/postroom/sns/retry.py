"""The HTTP/S delivery retry schedule of a DeliveryPolicy (AWS's four phases)."""

from __future__ import annotations

from typing import Any

import orjson

from postroom.sns import limits


def healthy_retry_policy(topic_policy: str | None, subscription_policy: str | None) -> dict[str, Any]:
    """The policy in force: the subscription's unless the topic disables overrides."""
    topic = orjson.loads(topic_policy).get("http", {}) if topic_policy else {}
    policy = {**limits.DEFAULT_HEALTHY_RETRY_POLICY, **topic.get("defaultHealthyRetryPolicy", {})}
    throttle = topic.get("defaultThrottlePolicy")
    if subscription_policy and not topic.get("disableSubscriptionOverrides"):
        sub = orjson.loads(subscription_policy)
        policy.update(sub.get("healthyRetryPolicy", {}))
        throttle = sub.get("throttlePolicy", throttle)
    policy["maxReceivesPerSecond"] = (throttle or {}).get("maxReceivesPerSecond")
    return policy


def _curve(kind: str, fraction: float) -> float:
    # AWS does not publish its curves; these rise from 0 to 1 with the documented shapes.
    if kind == "arithmetic":
        return fraction * (fraction + 1) / 2
    if kind == "geometric":
        return fraction**2
    if kind == "exponential":
        return (2 ** (6 * fraction) - 1) / (2**6 - 1)
    return fraction  # linear


def retry_delay(policy: dict[str, Any], retry: int) -> float | None:
    """Seconds to wait before retry number ``retry`` (1-based), or None when exhausted."""
    total = int(policy["numRetries"])
    if retry > total:
        return None
    no_delay, at_min, at_max = (int(policy[k]) for k in ("numNoDelayRetries", "numMinDelayRetries", "numMaxDelayRetries"))
    low, high = float(policy["minDelayTarget"]), float(policy["maxDelayTarget"])
    backoff = max(total - no_delay - at_min - at_max, 0)
    if retry <= no_delay:
        return 0.0
    if retry <= no_delay + at_min:
        return low
    if retry <= no_delay + at_min + backoff:
        step = retry - no_delay - at_min
        return low + (high - low) * _curve(str(policy["backoffFunction"]), step / backoff)
    return high
