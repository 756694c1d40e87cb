"""The model topic (``recaudo.learner-model``, compacted): the learner
service publishes each version under one key, and every orchestrator follows
it with a :class:`ModelFollower`, so a new version is used from the next
decision on, without a restart. The follower reads the learner's runtime
switch too (``recaudo.learner-switch``, ``recaudo learn switch off``): off,
every debtor gets the static strategy from its next decision."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from recaudo.contracts.records import LearnerModel, LearnerSwitch
from recaudo.kafka.dead_letters import DeadLetterWriter
from recaudo.kafka.librdkafka_codes import PARTITION_EOF
from recaudo.kafka.serde import DeadLetterError, DecodeError, Serde, read_record
from recaudo.learning.chooser import LearnedChooser, ModelSlot
from recaudo.learning.configuration import arm_plan, learner_config
from recaudo.process.lifecycle import Closeable
from recaudo.settings import Settings

log = logging.getLogger(__name__)

#: the one key every version is published under: compaction keeps the latest
MODEL_KEY = b"model"
#: the one key of the runtime switch
SWITCH_KEY = b"switch"


class ModelFollower(Closeable):
    """A thread reading the model and switch topics from their beginning (no
    group, no commits: every orchestrator reads every version) into ``slot``."""

    def __init__(
        self,
        settings: Settings,
        serde: Serde,
        slot: ModelSlot,
        *,
        on_load: Callable[[LearnerModel], None] | None = None,
    ) -> None:
        self._serde = serde
        self._slot = slot
        self._topic = serde.topics.learner_model
        self._switch_topic = serde.topics.learner_switch
        self._on_load = on_load
        # A group id is required by the client; it is never joined nor committed to.
        group = f"{settings.topic_prefix}.model-follower.{uuid.uuid4().hex[:12]}"
        self._consumer = Consumer(settings.consumer_config(group, **{"enable.partition.eof": True}))
        self._dead_letters = DeadLetterWriter(settings, serde, "recaudo.model-follower", group)
        self._stop = threading.Event()
        self._caught_up = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-follower", daemon=True)
        self.loaded = 0

    def start(self) -> ModelFollower:
        assigned = []
        for topic in (self._topic, self._switch_topic):
            metadata = self._consumer.list_topics(topic, timeout=10)
            for p in sorted(metadata.topics[topic].partitions):
                assigned.append(TopicPartition(topic, p, OFFSET_BEGINNING))
        self._pending_eof = {(tp.topic, tp.partition) for tp in assigned}
        self._consumer.assign(assigned)
        self._thread.start()
        return self

    @property
    def switched_on(self) -> bool:
        return self._slot.switched_on

    def wait_caught_up(self, timeout: float) -> bool:
        """True once every version published before :meth:`start` was read."""
        return self._caught_up.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._consumer.close()
        self._dead_letters.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self._consumer.poll(0.2)
            if message is not None:
                self._read(message)

    def _read(self, message: Message) -> None:
        err = message.error()
        if err is not None:
            if err.code() == PARTITION_EOF:
                self._pending_eof.discard((message.topic() or "", message.partition() or 0))
                if not self._pending_eof:
                    self._caught_up.set()
            else:
                log.warning("model topic: %s", err)
            return
        topic = message.topic() or ""
        try:
            read_record(message)
            record = self._serde.deserialize(topic, message.value())
            if not isinstance(record, LearnerModel | LearnerSwitch):
                raise DecodeError(f"not a learner model or switch: {type(record).__name__}")
        except DeadLetterError as exc:
            self._dead_letters.send(message, exc)
            return
        if isinstance(record, LearnerSwitch):
            if record.enabled != self._slot.switched_on:
                log.warning(
                    "learner switched %s (%s)", "on" if record.enabled else "off", record.reason
                )
            self._slot.switched_on = record.enabled
            return
        if record.vw_args != self._slot.config.vw_args():
            log.warning(
                "model %s was trained with %r, this orchestrator runs %r: give the learner "
                "service and the orchestrators the same RECAUDO_LEARNER_* settings",
                record.model_version,
                record.vw_args,
                self._slot.config.vw_args(),
            )
        try:
            changed = self._slot.load(record.model)
        except RuntimeError as exc:  # bytes VW cannot read: the model held stays
            self._dead_letters.send(
                message, DecodeError(f"model {record.model_version} unreadable: {exc}")
            )
            return
        if changed:
            self.loaded += 1
            log.info("learner model %s loaded", record.model_version)
            if self._on_load is not None:
                self._on_load(record)


def learned_chooser(settings: Settings, serde: Serde) -> tuple[LearnedChooser, ModelFollower]:
    """The orchestrator's learner from the ``RECAUDO_LEARNER_*`` settings, and
    the follower that keeps its model at the topic's latest version (start it)."""
    slot = ModelSlot(learner_config(settings))
    return LearnedChooser(arm_plan(settings), slot), ModelFollower(settings, serde, slot)
