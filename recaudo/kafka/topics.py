"""The topic catalogue: the one source of truth for names, partitioning,
cleanup policy, retention and the record each topic carries.

Deployment manifests (``recaudo deploy topics``) and ``recaudo topics create``
are generated from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from recaudo.contracts.records import CHANNELS, Channel
from recaudo.settings import Settings

CleanupPolicy = Literal["delete", "compact"]

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic as the catalogue defines it, before a prefix is applied."""

    key: str
    #: The Avro record every value is (its schema in ``schemas/``: the contract
    #: with producers and readers in any language); None for a topic only
    #: recaudo reads, in a compact format of its own (never registered).
    record: str | None
    description: str
    cleanup_policy: CleanupPolicy = "delete"
    retention_ms: int = 30 * DAY_MS
    #: None: the deployment's ``topic_partitions`` (every debtor-keyed topic
    #: must share it so their partitions line up).
    partitions: int | None = None


CATALOGUE: tuple[TopicSpec, ...] = (
    TopicSpec(
        "debt-events",
        "DebtEvent",
        "What happens to each debt, from banks and derived.",
        retention_ms=365 * DAY_MS,
    ),
    TopicSpec(
        "debtor-profiles",
        "DebtorProfile",
        "Who each debtor is and how to reach them.",
        retention_ms=365 * DAY_MS,
    ),
    TopicSpec(
        "contact-decisions",
        "ContactDecision",
        "Every orchestration decision, with the rules that fired (audit).",
    ),
    *(
        TopicSpec(
            f"dispatch.{channel}",
            "DispatchCommand",
            f"Contacts for the {channel} connectors to send.",
            retention_ms=7 * DAY_MS,
        )
        for channel in CHANNELS
    ),
    TopicSpec(
        "channel-responses",
        "ChannelResponse",
        "Delivery receipts, reads, replies and call outcomes from the connectors.",
        retention_ms=365 * DAY_MS,
    ),
    TopicSpec(
        "debtor-view",
        "DebtorView",
        "The 360-degree view of each debtor (latest per key).",
        cleanup_policy="compact",
        retention_ms=-1,
    ),
    TopicSpec(
        "debtor-states",
        None,
        "Each debtor's view state once its burst is over, for the view publisher "
        "(internal: recaudo's compact state format, latest per key).",
        cleanup_policy="compact",
        retention_ms=-1,
    ),
    TopicSpec(
        "timers",
        "Timer",
        "When each debtor next needs the stream processor (latest per key).",
        cleanup_policy="compact",
        retention_ms=-1,
    ),
    TopicSpec(
        "wakeups",
        "Timer",
        "Timers that came due, back to the stream processor.",
        retention_ms=7 * DAY_MS,
    ),
    TopicSpec(
        "kpis",
        "KpiWindow",
        "Collection KPIs per hour and running totals, per channel, bucket and arm.",
        retention_ms=365 * DAY_MS,
    ),
    TopicSpec(
        "dlq",
        "DeadLetter",
        "Messages a consumer could not decode or validate.",
        retention_ms=90 * DAY_MS,
    ),
    # Appended: the in-process registry numbers schemas in catalogue order.
    TopicSpec(
        "agent-tasks",
        "AgentTask",
        "Conversations handed to a person, opened and closed (latest record per task_id).",
        retention_ms=365 * DAY_MS,
    ),
    TopicSpec(
        "learner-model",
        "LearnerModel",
        "Versions of the learned contact choice's model (latest per key: what orchestrators load).",
        cleanup_policy="compact",
        retention_ms=-1,
    ),
    TopicSpec(
        "learner-switch",
        "LearnerSwitch",
        "The learner's runtime switch (latest per key: on or off for every orchestrator).",
        cleanup_policy="compact",
        retention_ms=-1,
    ),
)


@dataclass(frozen=True, slots=True)
class Topic:
    """A concrete topic of one deployment."""

    name: str
    spec: TopicSpec
    partitions: int
    replication_factor: int

    @property
    def config(self) -> dict[str, str]:
        """Explicit topic configs: always passed, never left to broker defaults."""
        conf = {
            "cleanup.policy": self.spec.cleanup_policy,
            "retention.ms": str(self.spec.retention_ms),
        }
        if self.spec.cleanup_policy == "compact":
            conf["min.cleanable.dirty.ratio"] = "0.1"
            conf["segment.ms"] = str(DAY_MS)
        return conf


class Topics:
    """The catalogue resolved for one deployment (prefix, partitions, replicas)."""

    def __init__(self, prefix: str = "recaudo", partitions: int = 6, replication_factor: int = 1):
        self.prefix = prefix
        self._topics = {
            spec.key: Topic(
                name=f"{prefix}.{spec.key}",
                spec=spec,
                partitions=spec.partitions or partitions,
                replication_factor=replication_factor,
            )
            for spec in CATALOGUE
        }
        self._by_name = {t.name: t for t in self._topics.values()}

    @classmethod
    def from_settings(cls, settings: Settings) -> Topics:
        return cls(
            settings.topic_prefix, settings.topic_partitions, settings.topic_replication_factor
        )

    def __iter__(self) -> Iterator[Topic]:
        return iter(self._topics.values())

    def all(self) -> list[Topic]:
        return list(self._topics.values())

    def avro(self) -> list[Topic]:
        """The topics whose values are Avro records of ``schemas/``."""
        return [t for t in self._topics.values() if t.spec.record is not None]

    def get(self, key: str) -> Topic:
        try:
            return self._topics[key]
        except KeyError:
            raise KeyError(
                f"no topic {key!r} in the catalogue; known: {sorted(self._topics)}"
            ) from None

    def by_name(self, name: str) -> Topic:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a recaudo topic of prefix {self.prefix!r}") from None

    def name(self, key: str) -> str:
        return self.get(key).name

    def dispatch(self, channel: Channel) -> str:
        return self.name(f"dispatch.{channel}")

    @property
    def debt_events(self) -> str:
        return self.name("debt-events")

    @property
    def debtor_profiles(self) -> str:
        return self.name("debtor-profiles")

    @property
    def contact_decisions(self) -> str:
        return self.name("contact-decisions")

    @property
    def channel_responses(self) -> str:
        return self.name("channel-responses")

    @property
    def debtor_view(self) -> str:
        return self.name("debtor-view")

    @property
    def debtor_states(self) -> str:
        return self.name("debtor-states")

    @property
    def timers(self) -> str:
        return self.name("timers")

    @property
    def wakeups(self) -> str:
        return self.name("wakeups")

    @property
    def kpis(self) -> str:
        return self.name("kpis")

    @property
    def dlq(self) -> str:
        return self.name("dlq")

    @property
    def agent_tasks(self) -> str:
        return self.name("agent-tasks")

    @property
    def learner_model(self) -> str:
        return self.name("learner-model")

    @property
    def learner_switch(self) -> str:
        return self.name("learner-switch")
