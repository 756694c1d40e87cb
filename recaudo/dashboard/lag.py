"""Consumer lag and throughput of recaudo's consumer groups.

Lag is the high watermark of each partition minus the group's committed
offset there; throughput is how fast the committed offsets advance between
two samples. Only groups of this deployment (named ``<prefix>.…``) count.
On the embedded broker the high watermarks are read from a fetch
(:mod:`recaudo.embedded.partition_end`): its ListOffsets reads them short.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from recaudo.embedded.partition_end import FetchedEnds, Partition
from recaudo.settings import Settings

log = logging.getLogger(__name__)

#: Groups that exist even when the broker cannot list groups: the workers
#: `recaudo up` runs (connectors add ``connector.<channel>``).
KNOWN_GROUPS = ("view", "kpis", "orchestrator")


@dataclass(slots=True)
class GroupLag:
    group: str
    lag: int
    committed: int
    partitions: int
    #: Committed offsets per second since the previous sample (None: first sample).
    rate: float | None = None


@dataclass(slots=True)
class LagReport:
    groups: list[GroupLag] = field(default_factory=list)
    error: str | None = None

    @property
    def total_lag(self) -> int:
        return sum(g.lag for g in self.groups)

    @property
    def total_rate(self) -> float | None:
        rates = [g.rate for g in self.groups if g.rate is not None]
        return sum(rates) if rates else None


class LagProbe:
    """Long-lived admin and consumer clients, sampled on demand (thread-safe)."""

    def __init__(self, settings: Settings, timeout_s: float = 5.0) -> None:
        self._settings = settings
        self._prefix = f"{settings.topic_prefix}."
        self._timeout = timeout_s
        self._lock = threading.Lock()
        self._admin: AdminClient | None = None
        self._consumer: Consumer | None = None
        self._ends = FetchedEnds(settings.kafka_config()) if settings.embedded_broker else None
        self._previous: dict[str, tuple[float, int]] = {}

    def _clients(self) -> tuple[AdminClient, Consumer]:
        if self._admin is None or self._consumer is None:
            conf = self._settings.kafka_config()
            self._admin = AdminClient(conf)
            # Reads watermarks only: never subscribes, never commits.
            self._consumer = Consumer(
                self._settings.consumer_config(f"{self._prefix}dashboard-{uuid.uuid4().hex[:6]}")
            )
        return self._admin, self._consumer

    def _group_names(self, admin: AdminClient) -> list[str]:
        names: set[str] = set()
        try:
            listed = admin.list_consumer_groups(request_timeout=self._timeout).result()
            names = {g.group_id for g in listed.valid if g.group_id.startswith(self._prefix)}
        except Exception as exc:  # a broker may not implement ListGroups: use the known names
            log.debug("listing consumer groups failed: %s", exc)
        if not names:
            names = {f"{self._prefix}{name}" for name in KNOWN_GROUPS}
        return sorted(names)

    def _committed(self, admin: AdminClient, group: str) -> list[TopicPartition]:
        futures = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group)], request_timeout=self._timeout
        )
        result: Any = futures[group].result()
        return [tp for tp in result.topic_partitions if tp.offset >= 0]

    def sample(self) -> LagReport:
        with self._lock:
            try:
                admin, consumer = self._clients()
                return self._sample(admin, consumer)
            except Exception as exc:  # the dashboard shows the rest without Kafka
                return LagReport(error=f"{type(exc).__name__}: {exc}")

    def _sample(self, admin: AdminClient, consumer: Consumer) -> LagReport:
        report = LagReport()
        now = time.monotonic()
        by_group: list[tuple[str, list[TopicPartition]]] = []
        for group in self._group_names(admin):
            try:
                committed = self._committed(admin, group)
            except KafkaException as exc:
                log.debug("offsets of %s: %s", group, exc)
                continue
            # quixstreams' internal topics (changelogs, repartitions) are the
            # processors' own business: lag is measured on the inputs.
            committed = [tp for tp in committed if tp.topic.startswith(self._prefix)]
            if committed:
                by_group.append((group, committed))
        ends: dict[Partition, int] = {}
        for _, committed in by_group:
            for tp in committed:
                if (tp.topic, tp.partition) not in ends:
                    _low, ends[(tp.topic, tp.partition)] = consumer.get_watermark_offsets(
                        TopicPartition(tp.topic, tp.partition), timeout=self._timeout, cached=False
                    )
        if self._ends is not None:
            ends = self._ends.ends(ends, self._timeout)
        for group, committed in by_group:
            lag = sum(max(ends[(tp.topic, tp.partition)] - tp.offset, 0) for tp in committed)
            position = sum(tp.offset for tp in committed)
            rate = None
            previous = self._previous.get(group)
            if previous is not None and now > previous[0]:
                rate = max(position - previous[1], 0) / (now - previous[0])
            self._previous[group] = (now, position)
            report.groups.append(
                GroupLag(group.removeprefix(self._prefix), lag, position, len(committed), rate)
            )
        return report

    def close(self) -> None:
        with self._lock:
            if self._consumer is not None:
                self._consumer.close()
            self._consumer = None
            if self._ends is not None:
                self._ends.close()
            self._admin = None
