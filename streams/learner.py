"""The online learner: ``recaudo streams run --name learner``.

It reads the contact decisions, channel responses and debt events; keeps
each dispatch the learner chose until its attribution window has closed (in
event time); learns it once with the reward
:func:`~recaudo.learning.rewards.join_rewards` gives it from the replies,
promises, payments and opt-outs that came meanwhile
(:class:`~recaudo.learning.online.RewardLedger`); and publishes versioned
model snapshots to the compacted model topic, which the orchestrators follow,
and to Postgres (``learner_model``).

A snapshot holds the model and the ledger together, and offsets are
committed only once a snapshot that includes everything read before them is
in Postgres: after a crash the learner resumes from the latest snapshot and
re-reads from the committed offsets, and a record read twice is known by its
event id, so nothing is learnt twice nor lost. A record it cannot read goes
to the dead-letter topic with the reason, and it goes on.

One model: run one replica (a second would learn half the records into a
model of its own).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Message

from recaudo.contracts.records import ChannelResponse, ContactDecision, DebtEvent, LearnerModel
from recaudo.db.learner_model_store import StoredModel, latest_model, write_model
from recaudo.db.sink_connection import SinkConnection
from recaudo.kafka.batch_consumer import BatchConsumer
from recaudo.kafka.cloudevents import ce_headers
from recaudo.kafka.group_commit import CommitOutcome
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import DecodeError, Serde
from recaudo.learning.bandit import Bandit
from recaudo.learning.configuration import learner_config, reward_config
from recaudo.learning.model_topic import MODEL_KEY
from recaudo.learning.online import RewardLedger, outcomes_of, teach
from recaudo.settings import Settings

log = logging.getLogger(__name__)

NAME = "learner"
SOURCE = "recaudo.learner"
INPUTS = ("contact-decisions", "channel-responses", "debt-events")
#: what the learner reads
Input = ContactDecision | ChannelResponse | DebtEvent


class LearnerService(BatchConsumer[Input]):
    """The one replica: :meth:`run` blocks until :meth:`stop`."""

    def __init__(
        self,
        settings: Settings,
        *,
        interval_s: float = 1.0,
        snapshot_interval_s: float = 30.0,
        batch_size: int = 1000,
        group: str | None = None,
        consumer_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        if settings.database_url is None:
            raise ValueError(
                "the learner keeps its model versions in Postgres: set DATABASE_URL "
                "(recaudo up sets it for its workers)"
            )
        serde = Serde(settings)
        super().__init__(
            settings,
            topics=[serde.topics.name(key) for key in INPUTS],
            group=group or f"{settings.topic_prefix}.{NAME}",
            source=SOURCE,
            serde=serde,
            batch_size=batch_size,
            commit_every_s=interval_s,
            consumer_overrides=consumer_overrides,
        )
        self.interval_s = interval_s
        self.snapshot_interval_s = snapshot_interval_s
        self.snapshot_every = settings.learner_snapshot_every
        self.config = learner_config(settings)
        self.rewards = reward_config(settings)
        self.model_topic = serde.topics.learner_model
        self._producer = RecaudoProducer(settings, serde)
        self._db = SinkConnection(settings.database_dsn())
        self.ledger = RewardLedger(self.rewards)
        #: an empty model until :meth:`run` resumes the latest one
        self.bandit = Bandit(self.config)
        #: the version last published, and decisions learnt in all versions
        self.version: str | None = None
        self.decisions_learned = 0
        self._learnt_since_snapshot = 0
        self._last_snapshot = time.monotonic()
        self.published = 0

    def metrics(self) -> dict[str, float]:
        return {
            "recaudo_learner_decisions_learned_total": float(self.decisions_learned),
            "recaudo_learner_decisions_pending": float(len(self.ledger.pending)),
            "recaudo_learner_versions_published_total": float(self.published),
            "recaudo_learner_dead_letters_total": float(self.dead_letters_written),
        }

    def open(self) -> None:
        self._db.open()
        self._resume()  # before the first assignment: ready means the model is loaded

    def close(self) -> None:
        self._producer.close()
        self.bandit.close()
        self._db.close()

    # --- reading --------------------------------------------------------------------

    def decode(self, message: Message) -> Input:
        event = super().decode(message)
        if not isinstance(event, ContactDecision | ChannelResponse | DebtEvent):
            raise DecodeError(f"not an input of the learner: {type(event).__name__}")
        return event

    def handle(
        self, batch: list[tuple[ContactDecision | ChannelResponse | DebtEvent, Message]]
    ) -> None:
        for event, _ in batch:
            if isinstance(event, ContactDecision):
                self.ledger.add_decision(event)
            else:
                for outcome in outcomes_of(event):
                    self.ledger.add_outcome(outcome)
                self.ledger.see(event.occurred_at)
            learnt = teach(self.bandit, self.ledger.mature())
            self.decisions_learned += learnt
            self._learnt_since_snapshot += learnt

    # --- snapshots ------------------------------------------------------------------

    def _resume(self) -> None:
        stored = self._db.write(latest_model)
        if stored is None:
            self._snapshot()  # the first version: orchestrators have a model to name
        else:
            self.bandit.close()
            self.bandit = Bandit(self.config, stored.model)
            self.ledger = RewardLedger.decode(stored.ledger, self.rewards)
            self.version = stored.model_version
            self.decisions_learned = stored.decisions_learned
            # Published again: a crash may have come between Postgres and the topic.
            self._publish(stored)
        log.info("learner at model %s (%d decisions learnt)", self.version, self.decisions_learned)

    def commit(self, *, force: bool = False) -> CommitOutcome | None:
        """Offsets are committed only with a snapshot, taken when enough was
        learnt or it is time (or at stop)."""
        due = self._learnt_since_snapshot >= self.snapshot_every or (
            time.monotonic() - self._last_snapshot >= self.snapshot_interval_s
        )
        if not (due or force):
            return None
        return super().commit(force=force)

    def flush(self) -> None:
        if self._uncommitted:
            self._snapshot()

    def _snapshot(self) -> None:
        model = self.bandit.to_bytes()
        version = self.bandit.version
        stored = StoredModel(
            model_version=version,
            previous_version=self.version if self.version != version else None,
            decisions_learned=self.decisions_learned,
            vw_args=self.config.vw_args(),
            model=model,
            ledger=self.ledger.encode(),
            created_at=datetime.now(UTC),
        )
        self._db.write(write_model, stored)
        if version != self.version:
            self._publish(stored)
            self.version = version
        self._learnt_since_snapshot = 0
        self._last_snapshot = time.monotonic()

    def _publish(self, stored: StoredModel) -> None:
        record = LearnerModel(
            event_id=uuid.uuid5(
                uuid.NAMESPACE_URL, f"recaudo:learner-model:{stored.model_version}"
            ),
            occurred_at=stored.created_at,
            source=SOURCE,
            model_version=stored.model_version,
            model=stored.model,
            vw_args=stored.vw_args,
            previous_version=stored.previous_version,
            decisions_learned=stored.decisions_learned,
        )
        self._producer.produce_raw(
            self.model_topic,
            MODEL_KEY,
            self.serde.serialize(self.model_topic, record),
            ce_headers(record),
        )
        self._producer.flush(30)  # raises DeliveryError: nothing is committed
        self.published += 1
        log.info("learner model %s published", stored.model_version)
