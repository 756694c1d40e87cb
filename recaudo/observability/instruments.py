"""The metrics every recaudo service reports, as OpenTelemetry instruments.

- ``recaudo.events.processed`` (Prometheus ``recaudo_events_processed_total``):
  messages handled, by group and topic;
- ``recaudo.consumer.lag`` (``recaudo_consumer_lag``): by group, topic, partition;
- ``recaudo.decisions`` (``recaudo_decisions_total``): contact decisions by
  outcome and reason;
- ``recaudo.provider.send.duration`` (``recaudo_provider_send_duration_seconds``,
  a histogram): calls to a channel provider, by channel, provider and outcome.

Counts on hot paths stay plain integers owned by the code that counts (a
dict increment per event) and observable instruments read them when metrics
are collected, so processing an event makes no SDK call. Each source
registers itself here for as long as it lives.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Histogram, Observation

from recaudo.contracts.records import ContactDecision
from recaudo.observability import telemetry

log = logging.getLogger(__name__)

#: How often librdkafka reports a consumer's statistics (its lag among them).
STATS_INTERVAL_MS = 5000
#: Provider round trips: from tens of milliseconds (SMS APIs) to seconds (voice, SMTP).
SEND_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class EventCounts:
    """Messages a consumer group handled, per topic. Called as quixstreams'
    ``on_message_processed(topic, partition, offset)`` hook, or :meth:`add`."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.by_topic: dict[str, int] = {}
        _register(_events, self)

    def __call__(self, topic: str, _partition: int, _offset: int) -> None:
        self.by_topic[topic] = self.by_topic.get(topic, 0) + 1

    def add(self, topic: str, count: int = 1) -> None:
        self.by_topic[topic] = self.by_topic.get(topic, 0) + count

    def observations(self) -> Iterable[Observation]:
        for topic, count in dict(self.by_topic).items():
            yield Observation(count, {"group": self.group, "topic": topic})


class DecisionCounts:
    """Contact decisions by outcome and reason code. A decision counts once
    under each distinct reason of the rules that fired (as the KPI stream
    counts suppressions); one with none counts under ``NONE``."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        _register(_decisions, self)

    def add(self, decision: ContactDecision) -> None:
        reasons = {hit.reason_code for hit in decision.rules_fired} or {"NONE"}
        for reason in reasons:
            key = (decision.outcome, reason)
            self.counts[key] = self.counts.get(key, 0) + 1

    def by_outcome(self) -> dict[str, int]:
        """Decisions per outcome, each counted once."""
        out: dict[str, int] = {}
        for (outcome, _), count in dict(self.counts).items():
            out[outcome] = out.get(outcome, 0) + count
        return out

    def observations(self) -> Iterable[Observation]:
        for (outcome, reason), count in dict(self.counts).items():
            yield Observation(count, {"outcome": outcome, "reason": reason})


class ConsumerLag:
    """A consumer's lag per partition, from librdkafka's statistics: pass
    :meth:`config` into the consumer's configuration. The figure is the
    partition's high watermark minus the consumer's position, as librdkafka
    last saw them (at most ``STATS_INTERVAL_MS`` old)."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.lag: dict[tuple[str, int], int] = {}
        _register(_lags, self)

    def config(self) -> dict[str, Any]:
        return {"statistics.interval.ms": STATS_INTERVAL_MS, "stats_cb": self.on_stats}

    def on_stats(self, stats_json: str) -> None:
        try:
            stats = json.loads(stats_json)
        except ValueError:
            log.debug("unreadable consumer statistics", exc_info=True)
            return
        lag: dict[tuple[str, int], int] = {}
        for topic, info in (stats.get("topics") or {}).items():
            for pid, part in (info.get("partitions") or {}).items():
                partition = int(pid)
                # -1 is librdkafka's "unassigned" pseudo-partition; a negative
                # lag means "not known yet".
                if partition < 0 or part.get("fetch_state") in (None, "none", "stopped"):
                    continue
                value = part.get("consumer_lag", -1)
                if isinstance(value, int) and value >= 0:
                    lag[(topic, partition)] = value
        self.lag = lag  # swapped whole: a scrape never sees it half-built

    def observations(self) -> Iterable[Observation]:
        for (topic, partition), value in self.lag.items():
            yield Observation(
                value, {"group": self.group, "topic": topic, "partition": str(partition)}
            )


# --- the process-wide instruments ---------------------------------------------------

_events: weakref.WeakSet[EventCounts] = weakref.WeakSet()
_decisions: weakref.WeakSet[DecisionCounts] = weakref.WeakSet()
_lags: weakref.WeakSet[ConsumerLag] = weakref.WeakSet()
_lock = threading.Lock()
_created = False
_send_duration: Histogram | None = None


def _observe(sources: weakref.WeakSet[Any]) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(_options: CallbackOptions) -> Iterable[Observation]:
        out: list[Observation] = []
        for source in list(sources):
            out.extend(source.observations())
        return out

    return callback


def _create() -> None:
    """Create the instruments once per process (on first use: a service that
    counts nothing shows nothing)."""
    global _created, _send_duration
    with _lock:
        if _created:
            return
        meter = telemetry.meter()
        meter.create_observable_counter(
            "recaudo.events.processed",
            callbacks=[_observe(_events)],
            unit="{event}",
            description="Messages handled, per consumer group and topic.",
        )
        meter.create_observable_gauge(
            "recaudo.consumer.lag",
            callbacks=[_observe(_lags)],
            unit="{message}",
            description="High watermark minus the consumer's position, per partition.",
        )
        meter.create_observable_counter(
            "recaudo.decisions",
            callbacks=[_observe(_decisions)],
            unit="{decision}",
            description="Contact decisions by outcome and reason code.",
        )
        _send_duration = meter.create_histogram(
            "recaudo.provider.send.duration",
            unit="s",
            description="One call to a channel provider (each retry counts apart).",
            explicit_bucket_boundaries_advisory=SEND_BUCKETS_S,
        )
        _created = True


def _register(sources: weakref.WeakSet[Any], source: object) -> None:
    _create()
    sources.add(source)


def provider_send_duration() -> Histogram:
    _create()
    assert _send_duration is not None
    return _send_duration
