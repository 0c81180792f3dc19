"""``GET /metrics``: Prometheus text built at scrape time from the services' own counters.

Nothing here runs on the request path. Services keep plain integers and histograms; a
scrape reads them through the typed APIs (one storage read for every queue's depth) and
renders them with ``prometheus-client`` into a registry made for that scrape.

Label sets are bounded by what exists: per queue ``{account, region, queue}`` (one series
per live queue and metric), per function ``{account, region, function}``, SNS by
``protocol`` (at most nine values). Deleted queues and functions drop their series.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from postroom.metrics.histogram import Histogram

if TYPE_CHECKING:
    from postroom.lambda_.api import FunctionStats
    from postroom.leases import Leases
    from postroom.services import Apis
    from postroom.sns.api import SnsStats
    from postroom.sqs.api import QueueStats
    from postroom.storage.sql.store import SqlStore

QUEUE_LABELS = ["account", "region", "queue"]
FUNCTION_LABELS = ["account", "region", "function"]


class MetricsExporter:
    def __init__(self, apis: Apis, store: SqlStore, leases: Leases | None = None) -> None:
        self._apis = apis
        self._store = store
        self._leases = leases

    async def route(self, query: str) -> tuple[int, bytes, bytes]:
        """The raw GET route for ``/metrics``."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Snapshot(await self._families()))
        ProcessCollector(registry=registry)
        return 200, CONTENT_TYPE_LATEST.encode(), generate_latest(registry)

    async def _families(self) -> list[Metric]:
        families: list[Metric] = []
        if self._apis.sqs is not None:
            families += _queue_families(await self._apis.sqs.queue_stats())
        if self._apis.sns is not None:
            families += _sns_families(self._apis.sns.stats())
        if self._apis.lambda_ is not None:
            families += _function_families(self._apis.lambda_.stats())
        if self._leases is not None:
            work = GaugeMetricFamily(
                "postroom_background_work", "1 while this node holds the lease of this background work "
                "(it runs here), 0 while another node does or none can.", labels=["name"],
            )
            for name, held in self._leases.status().items():
                work.add_metric([name], 1 if held else 0)
            families.append(work)
        seconds, group = self._store.commit_histograms
        families.append(_histogram(
            "postroom_storage_commit_seconds", "Time to run and commit one storage transaction.", seconds
        ))
        families.append(_histogram(
            "postroom_storage_commit_operations", "Operations grouped into one storage transaction.", group
        ))
        return families


class _Snapshot(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def _queue_families(stats: list[QueueStats]) -> list[Metric]:
    gauges = [
        ("postroom_sqs_messages_visible", "Messages available for retrieval (ApproximateNumberOfMessages).", "visible"),
        ("postroom_sqs_messages_in_flight", "Messages received and not yet deleted or visible again.", "in_flight"),
        ("postroom_sqs_messages_delayed", "Messages not yet visible because of a delay.", "delayed"),
    ]
    counters = [
        ("postroom_sqs_messages_sent", "Messages added to the queue (sends, SNS copies, DLQ copies).", "sent"),
        ("postroom_sqs_messages_received", "Messages handed out by ReceiveMessage.", "received"),
        ("postroom_sqs_messages_deleted", "Successful DeleteMessage entries.", "deleted"),
        ("postroom_sqs_messages_moved_to_dlq", "Messages moved to the dead-letter queue on receive.", "moved_to_dlq"),
    ]
    out: list[Metric] = []
    for name, doc, field in gauges:
        family = GaugeMetricFamily(name, doc, labels=QUEUE_LABELS)
        for s in stats:
            family.add_metric([s.account, s.region, s.name], getattr(s, field))
        out.append(family)
    age = GaugeMetricFamily(
        "postroom_sqs_oldest_message_age_seconds", "Age of the oldest message in the queue (0 when empty).",
        labels=QUEUE_LABELS,
    )
    for s in stats:
        age.add_metric([s.account, s.region, s.name], s.oldest_age_s or 0.0)
    out.append(age)
    for name, doc, field in counters:
        counter = CounterMetricFamily(name, doc, labels=QUEUE_LABELS)
        for s in stats:
            counter.add_metric([s.account, s.region, s.name], getattr(s, field))
        out.append(counter)
    return out


def _sns_families(stats: SnsStats) -> list[Metric]:
    published = CounterMetricFamily("postroom_sns_messages_published", "Messages published (Publish, PublishBatch entries).")
    published.add_metric([], stats.published)
    delivered = CounterMetricFamily(
        "postroom_sns_deliveries", "Copies delivered, by subscription protocol.", labels=["protocol"]
    )
    for protocol, n in sorted(stats.delivered.items()):
        delivered.add_metric([protocol], n)
    failed = CounterMetricFamily(
        "postroom_sns_delivery_failures", "Failed delivery attempts, by subscription protocol.", labels=["protocol"]
    )
    for protocol, n in sorted(stats.failed.items()):
        failed.add_metric([protocol], n)
    return [published, delivered, failed]


def _function_families(stats: list[FunctionStats]) -> list[Metric]:
    invocations = CounterMetricFamily("postroom_lambda_invocations", "Function runs.", labels=FUNCTION_LABELS)
    errors = CounterMetricFamily("postroom_lambda_errors", "Function runs that ended in a function error.", labels=FUNCTION_LABELS)
    throttles = CounterMetricFamily("postroom_lambda_throttles", "Invocations refused for lack of concurrency.", labels=FUNCTION_LABELS)
    duration = HistogramMetricFamily(
        "postroom_lambda_duration_seconds", "Function run time.", labels=FUNCTION_LABELS
    )
    for s in stats:
        labels = _function_labels(s.function_arn)
        invocations.add_metric(labels, s.invocations)
        errors.add_metric(labels, s.errors)
        throttles.add_metric(labels, s.throttles)
        duration.add_metric(labels, s.duration_buckets, s.duration_sum_s)
    return [invocations, errors, throttles, duration]


def _function_labels(arn: str) -> list[str]:
    # arn:aws:lambda:<region>:<account>:function:<name>
    parts = arn.split(":")
    return [parts[4], parts[3], parts[6]] if len(parts) >= 7 else ["", "", arn]


def _histogram(name: str, doc: str, histogram: Histogram) -> Metric:
    family = HistogramMetricFamily(name, doc)
    family.add_metric([], histogram.cumulative(), histogram.sum)
    return family
