"""The 360-degree debtor view and the contact orchestrator, kept by one
quixstreams processor.

Inputs, all keyed by ``debtor_id`` and co-partitioned: debt events, profiles,
contact decisions, channel responses and timer wake-ups. Per debtor, the compact state of
:mod:`recaudo.view` lives in RocksDB (with its changelog topic, so a restarted
or moved worker recovers it). Each event is folded in by the pure reducer;
derived events (bucket changes, broken promises, cures) go back to the
debt-events topic; and each debtor that changed, once its burst is over, is
handed on once (a burst of events makes one snapshot): as its compact state to
the debtor-states topic, for the view publisher (:mod:`streams.view_publisher`)
to snapshot to the compacted debtor-view topic and to Postgres, or snapshotted
here (``Settings.view_snapshots`` ``inline``).

The orchestrator (:mod:`recaudo.orchestration`) runs in the same step, on the
same key, with its own state beside the view's: no extra hop between knowing
and deciding. Its dispatches and decisions are produced at once (they are the
latency that matters), and acknowledged before the checkpoint commits the
input. Each debtor's next due time goes to the timers topic, and the
:class:`~streams.timers.TimerService` this worker runs sends it back as a
wake-up when it comes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, cast

from opentelemetry.context import Context
from opentelemetry.trace import SpanKind
from quixstreams import message_context
from quixstreams.sinks.base import BaseSink
from quixstreams.state import State

from recaudo.contracts.records import (
    AgentTask,
    ChannelResponse,
    ContactDecision,
    DebtEvent,
    DebtorProfile,
    Event,
    Timer,
)
from recaudo.conversation.state import ConversationState
from recaudo.conversation.step import (
    agent_answer,
    conversation_due,
    converse,
    task_closed,
)
from recaudo.conversation.step import wake as wake_conversation
from recaudo.db.sink_connection import SinkConnection
from recaudo.kafka.cloudevents import ce_headers
from recaudo.kafka.producer import RecaudoProducer, is_backfill
from recaudo.kafka.serde import Serde
from recaudo.observability import telemetry
from recaudo.observability.instruments import DecisionCounts
from recaudo.orchestration import (
    Clock,
    OrchestrationState,
    Orchestrator,
    Outputs,
    Templates,
    load_strategy,
)
from recaudo.orchestration.channel_choice import ContactLearner
from recaudo.orchestration.clock import clock_from_settings
from recaudo.settings import Settings, ViewSnapshots
from recaudo.view import DebtorState, apply, tick
from recaudo.view.coalesce import Coalescer
from recaudo.view.derived import SOURCE as DERIVED_SOURCE
from recaudo.view.outcomes import Send, awaiting_outcome
from recaudo.view.timebase import from_ms, to_ms
from streams import quixstreams_internals
from streams.processor import Skipped, StreamProcessor
from streams.timers import TimerService
from streams.view_publisher import SnapshotWriter

log = logging.getLogger(__name__)

NAME = "view"
INPUTS = ("debt-events", "debtor-profiles", "contact-decisions", "channel-responses")
WAKEUPS = "wakeups"
STATE_KEY = "view"
ORCH_KEY = "orch"
TIMER_KEY = "timer"
#: the responses heard while other sends of the debtor await their outcome
HEARD_KEY = "heard"
#: the debtor's conversation (:class:`~recaudo.conversation.ConversationState`)
CONV_KEY = "conv"
#: read back so that a task a person closed lets automatic replies resume
AGENT_TASKS = "agent-tasks"
#: How long a send's missing outcome holds back the orchestrator's hearing of
#: the debtor's other responses (clock time): long enough for any connector
#: that is up to answer, short enough that one that is down delays little.
OUTCOME_WAIT_MS: Final = 120_000
_NO_TIMER = b""


@dataclass(slots=True)
class Processed:
    """What one input did for one debtor."""

    state: DebtorState
    #: the view changed (a snapshot is due)
    changed: bool
    derived: list[DebtEvent] = field(default_factory=list)
    outputs: Outputs | None = None
    #: the debtor's next due time to publish: ms, None for "nothing", or
    #: absent (``timer_changed`` False) when the published one still holds
    timer: int | None = None
    timer_changed: bool = False
    #: Traced runs only: the ``process`` span of the input (derived events'
    #: parent) and each decision's span (its outputs' parent), by position.
    trace: Context | None = None
    decision_traces: list[Context] | None = None
    #: what a debtor's message caused in the conversation: debt events and
    #: channel responses (folded when they come back), and an agent task
    caused: list[DebtEvent | ChannelResponse] = field(default_factory=list)
    tasks: list[AgentTask] = field(default_factory=list)

    @property
    def publishes(self) -> bool:
        return (
            self.changed
            or bool(self.outputs)
            or self.timer_changed
            or bool(self.caused)
            or bool(self.tasks)
        )


#: Snapshots built between two messages at most: each costs up to a
#: millisecond, the wait it adds to the next message.
SNAPSHOTS_PER_MESSAGE = 4
#: A debtor unchanged this long has had its burst (an event, the derived
#: events and decisions it caused, read back within tens of milliseconds).
COALESCE_S = 0.25


class DebtorViewSink(BaseSink):
    """Everything the view publishes.

    Contact decisions, dispatches and timers are produced as they come (they
    are the latency that matters). Between checkpoints it keeps the derived
    events and the latest state of each changed debtor; once a debtor has
    been quiet for ``COALESCE_S`` (:mod:`recaudo.view.coalesce`), a few between
    messages, its state is written to the store (``write_one``, so the
    checkpoint does not stop processing to do it all) and handed on: with
    ``snapshots="publisher"`` its encoded state is produced to the
    debtor-states topic (the view publisher builds the snapshot), with
    ``"inline"`` its snapshot is built here (:class:`SnapshotWriter`). On flush
    it hands on the rest, produces the derived events, waits for every
    acknowledgement and, inline, upserts the snapshots into Postgres. The
    checkpoint commits the input offsets only after this returns, so a crash
    re-delivers and re-writes (idempotently: deterministic ids,
    version-guarded upserts) rather than losing anything.

    ``publish_views`` False hands on nothing to the topics (a rebuild writes
    Postgres only); ``dsn`` is the Postgres that inline snapshots go to.
    """

    def __init__(
        self,
        settings: Settings,
        serde: Serde,
        *,
        snapshots: ViewSnapshots = "inline",
        publish_views: bool,
        publish_derived: bool,
        dsn: str | None,
        write_back: Callable[[], None] | None = None,
        write_one: Callable[[str, DebtorState], bytes | None] | None = None,
    ) -> None:
        super().__init__()
        self._write_back = write_back
        self._write_one = write_one
        self._serde = serde
        self._events_topic = serde.topics.debt_events
        self._publish_derived = publish_derived
        # A short linger: a dispatch leaves within milliseconds of its
        # decision, and bursts still share requests.
        linger: dict[str, Any] = {"linger.ms": 2}
        self._out = RecaudoProducer(settings, serde, **linger)
        self._decisions_topic = serde.topics.contact_decisions
        self._timers_topic = serde.topics.timers
        self._states_topic = serde.topics.debtor_states
        self._db: SinkConnection | None = None
        self._snapshots: SnapshotWriter | None = None
        #: debtor-states: nobody waits for them, so they wait to share requests
        self._states: RecaudoProducer | None = None
        if snapshots == "inline":
            self._db = SinkConnection(dsn) if dsn is not None else None
            self._snapshots = SnapshotWriter(serde, self._out if publish_views else None, self._db)
        elif publish_views:
            self._states = RecaudoProducer(settings, serde, traced=False, **{"linger.ms": 50})
        self._changed: Coalescer[str, DebtorState] = Coalescer(COALESCE_S)
        self._derived: list[tuple[DebtEvent, list[tuple[str, bytes]], Context | None]] = []
        self.states_written = 0
        self.derived_written = 0
        self.dispatches_written = 0
        self.decisions_written = 0
        self.decisions = DecisionCounts()

    @property
    def snapshots_written(self) -> int:
        """Snapshots built here (inline); the publisher counts its own."""
        return 0 if self._snapshots is None else self._snapshots.written

    def setup(self) -> None:
        if self._db is not None:
            self._db.open()

    def add(
        self,
        value: Any,
        key: Any,
        timestamp: int,
        headers: Any,
        topic: str,
        partition: int,
        offset: int,
    ) -> None:
        result: Processed = value
        # The trace of the input carries over: as is, or (traced) through the
        # spans of this step. The CloudEvents identity is each output's own.
        trace = telemetry.trace_headers(headers)
        now = time.monotonic()
        if result.changed:
            # A snapshot built before this change is rebuilt before it is published.
            self._changed.mark(key, result.state, now)
        if result.derived and self._publish_derived:
            self._derived.extend((event, trace, result.trace) for event in result.derived)
        if result.outputs:
            decisions = result.outputs.decisions
            parents: list[Context | None] = (
                list(result.decision_traces) if result.decision_traces else [None] * len(decisions)
            )
            by_dispatch = {
                d.dispatch_id: p
                for d, p in zip(decisions, parents, strict=True)
                if d.outcome == "DISPATCHED"
            }
            # At once, not at the checkpoint: this is the decision-to-dispatch
            # latency. The checkpoint's flush still waits for their acks.
            for command in result.outputs.dispatches:
                topic = self._serde.topics.dispatch(command.channel)
                self._send(
                    topic,
                    key,
                    self._serde.serialize(topic, command),
                    ce_headers(command),
                    trace,
                    by_dispatch.get(command.dispatch_id),
                    str(command.event_id),
                )
            for decision, parent in zip(decisions, parents, strict=True):
                self._send(
                    self._decisions_topic,
                    key,
                    self._serde.serialize(self._decisions_topic, decision),
                    ce_headers(decision),
                    trace,
                    parent,
                    str(decision.event_id),
                )
                self.decisions.add(decision)
            self.dispatches_written += len(result.outputs.dispatches)
            self.decisions_written += len(result.outputs.decisions)
        for caused in result.caused:
            topic = (
                self._events_topic
                if isinstance(caused, DebtEvent)
                else self._serde.topics.channel_responses
            )
            self._send(
                topic,
                key,
                self._serde.serialize(topic, caused),
                ce_headers(caused),
                trace,
                result.trace,
                str(caused.event_id),
            )
        for task in result.tasks:
            topic = self._serde.topics.agent_tasks
            self._send(
                topic,
                key,
                self._serde.serialize(topic, task),
                ce_headers(task),
                trace,
                result.trace,
                str(task.event_id),
            )
        if result.timer_changed:
            timer = Timer(
                occurred_at=from_ms(timestamp),
                source="recaudo.view",
                debtor_id=key,
                due_at=None if result.timer is None else from_ms(result.timer),
            )
            self._produce(
                self._timers_topic,
                key,
                self._serde.serialize(self._timers_topic, timer),
                ce_headers(timer),
            )
        if self._changed:
            self._hand_on(self._changed.settled(now, SNAPSHOTS_PER_MESSAGE))

    def _hand_on(self, settled: list[tuple[str, DebtorState]]) -> None:
        """Settled debtors: their state into the store (now rather than in the
        checkpoint's pause), then to the publisher or snapshotted here."""
        for debtor_id, state in settled:
            if self._write_one is None:
                encoded: bytes | None = None
            else:
                encoded = self._write_one(debtor_id, state)
                if encoded is None:
                    continue  # its partition went to another worker meanwhile
            if self._snapshots is not None:
                self._snapshots.build(debtor_id, state)
            elif self._states is not None:
                if encoded is None:
                    encoded = state.encode()
                self._states.produce_raw(self._states_topic, debtor_id.encode(), encoded, [])
                self.states_written += 1

    def _produce(
        self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        self._out.produce_raw(topic, key.encode(), value, headers)

    def _send(
        self,
        topic: str,
        key: str,
        value: bytes,
        headers: list[tuple[str, bytes]],
        inherited: list[tuple[str, bytes]],
        parent: Context | None,
        message_id: str,
    ) -> None:
        """One output: in its own ``send`` span under ``parent`` when traced,
        else carrying the input's trace headers as they came."""
        if parent is None:
            self._produce(topic, key, value, [*headers, *inherited])
        else:
            self._out.produce_traced(topic, key, value, headers, message_id, parent)

    def flush(self) -> None:
        if self._write_back is not None:
            # First: quixstreams writes the state's changelog after the sinks flush.
            self._write_back()
        for event, trace, parent in self._derived:
            self._send(
                self._events_topic,
                event.debtor_id,
                self._serde.serialize(self._events_topic, event),
                ce_headers(event),
                trace,
                parent,
                str(event.event_id),
            )
        self.derived_written += len(self._derived)
        self._derived.clear()
        self._hand_on(self._changed.drain())
        # Each raises DeliveryError: the checkpoint fails, nothing is committed.
        if self._states is not None:
            self._states.flush(30)
        if self._snapshots is not None:
            self._snapshots.publish()  # flushes self._out too, before Postgres
        else:
            self._out.flush(30)

    def close(self) -> None:
        self._out.close()
        if self._states is not None:
            self._states.close()
        if self._db is not None:
            self._db.close()


_UNREAD: Final = object()


@dataclass(slots=True)
class Held:
    """One debtor's view state, decoded once and kept across checkpoints."""

    state: DebtorState | None
    #: the debtor's store (bound to the current checkpoint's transaction:
    #: rebound at every message)
    store: State[Any, Any]
    #: the store partition it was read from (see :func:`_partition_of`)
    partition: object
    #: the stored bytes of ``state`` before ``applied`` (None: new to the store)
    raw: bytes | None
    #: what was folded in since ``raw``, in order: events, and the ``now`` of
    #: wake-ups; redone from ``raw`` should a later step fail halfway
    applied: list[Event | datetime] = field(default_factory=list)
    #: the store's orchestration and timer values as last read or written
    #: (:data:`_UNREAD` until the first read): set in the store at once,
    #: so a failed step leaves them as the store holds them
    orch_raw: object = _UNREAD
    timer_raw: object = _UNREAD
    heard_raw: object = _UNREAD


def _partition_of(state: State[Any, Any]) -> object:
    """The store partition behind a key's ``State``. quixstreams opens a new
    partition object each time it assigns the partition (a rebalance, a
    recovery from the changelog): a held debtor read from another one may
    be stale, another worker having changed it meanwhile."""
    return quixstreams_internals.state_partition(state)


#: Debtors held decoded at most unless told: the ``Settings.view_held_debtors``
#: default. Least recently used dropped first, written back if changed.
MAX_HELD: Final[int] = Settings.model_fields["view_held_debtors"].default
#: Steps folded into a held debtor before it is written back early (bounds
#: the redo list).
MAX_APPLIED = 32
_NOTHING = Processed(DebtorState(), False)


class Folder:
    """The per-message step: fold into the view, orchestrate, schedule.

    ``orchestrator`` None keeps the view only; ``timers`` False publishes no
    timers (a rebuild, or a test that wants the view of its events only).

    The view's state is write-back: a debtor's state is decoded once, folded
    in place by the events that follow, and encoded into the store once its
    burst is over (:meth:`write_one`, when the sink has built its snapshot)
    or at the latest by :meth:`write_back`, which the sink calls at the start
    of each checkpoint (before quixstreams writes the changelog and commits
    the offsets): reading, decoding, encoding and writing it per event took
    about an eighth of the processor's time, and writing every changed
    debtor at the checkpoint a quarter of its pause. Held debtors stay
    decoded across checkpoints (up to ``max_held``, least recently used
    dropped first): this worker is the only writer of its partitions'
    stores, so what it holds is what they hold, until quixstreams reopens a
    partition (a rebalance: see :func:`_partition_of`) or the processor
    stops (:meth:`forget`). A step that fails halfway (it is dead-lettered) leaves
    the debtor as it was before it. The orchestration state and the
    published timer are written to the store at each change, and read from
    it once.
    """

    def __init__(
        self,
        orchestrator: Orchestrator | None,
        clock: Clock,
        *,
        timers: bool,
        group: str | None = None,
        max_held: int = MAX_HELD,
        is_assigned: Callable[[object], bool] | None = None,
        conversations: bool = False,
    ) -> None:
        if max_held < 1:
            raise ValueError(f"max_held must be at least 1, got {max_held}")
        self.max_held = max_held
        self.orchestrator = orchestrator
        self.clock = clock
        self.timers = timers
        self.group = group
        #: whether a held debtor's store partition is still this worker's
        #: (None: always, for a store no rebalance takes away)
        self.is_assigned = is_assigned
        #: replies answered by the conversation (needs an orchestrator built
        #: with ``conversations=True``)
        self.conversations = conversations and orchestrator is not None
        self._tracer = telemetry.tracer()
        #: least recently used first
        self._held: dict[str, Held] = {}
        #: held debtors with steps not yet written to the store
        self._dirty: dict[str, Held] = {}

    def traced(
        self, event: Event | Skipped, key: str, timestamp: int, headers: Any, state: State[Any, Any]
    ) -> Processed:
        """:meth:`__call__` inside a ``process`` span that continues the
        producer's trace, with a span per contact decision under it."""
        if isinstance(event, Skipped):
            return _NOTHING
        ctx = message_context()
        started = time.time_ns()
        with self._tracer.start_as_current_span(
            f"process {ctx.topic}",
            context=telemetry.extract(headers),
            kind=SpanKind.CONSUMER,
            attributes=telemetry.process_attributes(
                ctx.topic, ctx.partition, ctx.offset, key, str(event.event_id), self.group
            ),
        ) as span:
            out = self(event, key, timestamp, headers, state)
            out.trace = telemetry.context_of(span)
            if out.outputs:
                # Decided within this step (the orchestrator is pure and
                # untimed): each decision's span covers the step so far.
                out.decision_traces = [
                    self._decision_span(decision, started) for decision in out.outputs.decisions
                ]
            return out

    def _decision_span(self, decision: ContactDecision, started_ns: int) -> Context:
        attributes: dict[str, Any] = {
            "recaudo.debtor_id": decision.debtor_id,
            "recaudo.decision.outcome": decision.outcome,
            "recaudo.decision.trigger": decision.trigger,
            "recaudo.decision.step": decision.step,
            "recaudo.decision.reasons": [hit.reason_code for hit in decision.rules_fired],
            "recaudo.decision.rules": [hit.rule_id for hit in decision.rules_fired],
        }
        optional = {
            "recaudo.channel": decision.channel,
            "recaudo.dispatch_id": decision.dispatch_id,
            "recaudo.strategy": decision.strategy,
            "recaudo.strategy.arm": decision.arm,
        }
        attributes.update({k: v for k, v in optional.items() if v is not None})
        span = self._tracer.start_span(
            "contact decision", attributes=attributes, start_time=started_ns
        )
        span.end()
        return telemetry.context_of(span)

    def __call__(
        self, event: Event | Skipped, key: str, timestamp: int, headers: Any, state: State[Any, Any]
    ) -> Processed:
        if isinstance(event, Skipped):
            return _NOTHING  # the view's own derived events, read back
        if isinstance(event, AgentTask):
            return self._task(event, key, state)
        held = self._held.pop(key, None)
        partition = _partition_of(state)
        if held is None or held.partition is not partition:
            self._dirty.pop(key, None)  # a partition since lost: not ours to write
            raw = state.get(STATE_KEY)
            held = Held(DebtorState.decode(raw) if raw is not None else None, state, partition, raw)
            if len(self._held) >= self.max_held:
                oldest = next(iter(self._held))
                evicted = self._held.pop(oldest)
                # Only a dirty debtor has steps to write (a clean one's are
                # in the store already).
                if self._dirty.pop(oldest, None) is not None and self._still_ours(oldest, evicted):
                    self._write(evicted)
        else:
            held.store = state
        self._held[key] = held  # last: the most recently used
        try:
            return self._step(key, held, event, is_backfill(headers))
        except Exception:
            self._redo(held)
            raise

    def _task(self, task: AgentTask, key: str, store: State[Any, Any]) -> Processed:
        """An agent task read back: a person's reply on it is answered
        (:func:`agent_answer`); a CLOSED one ends the debtor's handoff."""
        out = Processed(DebtorState(task.debtor_id), False)
        if self.conversations and task.agent_reply is not None:
            self._agent_answer(task, key, store, out)
        if self.conversations and task.status == "CLOSED":
            raw = store.get(CONV_KEY)
            current = ConversationState.from_bytes(raw) if raw is not None else None
            closed = task_closed(current, task)
            if closed is not None:
                store.set(CONV_KEY, closed.to_bytes())
        # Its own result: a traced run sets the trace on it.
        return out

    def _agent_answer(
        self, task: AgentTask, key: str, store: State[Any, Any], out: Processed
    ) -> None:
        """A person's reply through the orchestrator, on the debtor as held
        (steps not yet in the store included) or as stored; held for the
        timer when the hours defer it, like any answer."""
        if self.orchestrator is None:
            return
        held = self._held.get(key)
        if held is None or held.partition is not _partition_of(store) or held.state is None:
            raw = store.get(STATE_KEY)
            if raw is None:
                return  # no view of the debtor: nothing to answer on
            # Not held: one read here, written straight to the store.
            held = Held(DebtorState.decode(raw), store, _partition_of(store), raw)
        held.store = store  # this checkpoint's
        view_state = cast(DebtorState, held.state)
        if held.orch_raw is _UNREAD:
            held.orch_raw = store.get(ORCH_KEY)
        orch_raw = cast(bytes | None, held.orch_raw)
        orch = OrchestrationState.decode(orch_raw) if orch_raw is not None else OrchestrationState()
        raw_conv = store.get(CONV_KEY)
        current = ConversationState.from_bytes(raw_conv) if raw_conv is not None else None
        outputs, conversation = agent_answer(
            self.orchestrator, orch, view_state, current, task, self.clock.now()
        )
        if conversation is not None and (encoded_conv := conversation.to_bytes()) != raw_conv:
            store.set(CONV_KEY, encoded_conv)
        encoded = orch.encode()
        if encoded != orch_raw:
            store.set(ORCH_KEY, encoded)
            held.orch_raw = encoded
        if outputs:
            out.outputs = outputs
        self._timer_no_later(held, conversation_due(conversation), out)

    def _converse(
        self, held: Held, state: DebtorState, message: ChannelResponse, out: Processed
    ) -> int | None:
        """A debtor's message through the conversation: its answer, what it
        caused and any agent task go out in this step. Returns when the
        conversation next needs the timer (UTC ms)."""
        if self.orchestrator is None:
            return None
        store = held.store
        now = self.clock.now()
        if held.orch_raw is _UNREAD:
            held.orch_raw = store.get(ORCH_KEY)
        orch_raw = cast(bytes | None, held.orch_raw)
        orch = OrchestrationState.decode(orch_raw) if orch_raw is not None else OrchestrationState()
        raw = store.get(CONV_KEY)
        current = ConversationState.from_bytes(raw) if raw is not None else None
        step = converse(self.orchestrator, orch, state, current, message, now)
        encoded_conv = step.state.to_bytes()
        if encoded_conv != raw:
            store.set(CONV_KEY, encoded_conv)
        encoded = orch.encode()
        if encoded != orch_raw:
            store.set(ORCH_KEY, encoded)
            held.orch_raw = encoded
        if step.outputs:
            out.outputs = step.outputs
        out.caused.extend(step.events)
        if step.task is not None:
            out.tasks.append(step.task)
        return conversation_due(step.state)

    def _wake_conversation(
        self, held: Held, state: DebtorState, now: datetime, out: Processed
    ) -> int | None:
        """The timer woke the debtor: a held answer due now is sent (or
        dropped, moot), and silence acts. Returns the conversation's next due."""
        store = held.store
        raw = store.get(CONV_KEY)
        if self.orchestrator is None or raw is None:
            return None
        current = ConversationState.from_bytes(raw)
        if held.orch_raw is _UNREAD:
            held.orch_raw = store.get(ORCH_KEY)
        orch_raw = cast(bytes | None, held.orch_raw)
        orch = OrchestrationState.decode(orch_raw) if orch_raw is not None else OrchestrationState()
        woke = wake_conversation(self.orchestrator, orch, state, current, now)
        if woke is None:
            return conversation_due(current)
        outputs, conversation = woke
        encoded_conv = conversation.to_bytes()
        if encoded_conv != raw:
            store.set(CONV_KEY, encoded_conv)
        encoded = orch.encode()
        if encoded != orch_raw:
            store.set(ORCH_KEY, encoded)
            held.orch_raw = encoded
        if outputs:
            out.outputs = outputs
        return conversation_due(conversation)

    def write_back(self) -> None:
        """Encode every held debtor that changed since the last checkpoint
        into its store (they stay held); those whose partition was revoked or
        lost meanwhile are dropped instead (:meth:`_still_ours`)."""
        for key, held in self._dirty.items():
            if self._still_ours(key, held):
                self._write(held)
        self._dirty.clear()

    def write_one(self, key: str, state: DebtorState) -> bytes | None:
        """Encode one held debtor into its store if it changed since (its
        burst is over: the sink hands it on); returns the debtor's stored
        bytes (``state`` encoded if it is no longer held: evicted, so
        written), or None if its partition is no longer this worker's: the
        new owner hands it on."""
        held = self._dirty.pop(key, None)
        if held is not None:
            if not self._still_ours(key, held):
                return None
            self._write(held)
            return held.raw
        held = self._held.get(key)
        if held is None or held.raw is None:
            return state.encode()
        return held.raw

    def _still_ours(self, key: str, held: Held) -> bool:
        """False, and the debtor dropped, once its partition has gone to
        another worker: written now, its steps would land in the changelog of
        a partition that worker owns, and it will fold the same events again
        from the last committed offsets anyway."""
        if self.is_assigned is None or self.is_assigned(held.partition):
            return True
        if self._held.get(key) is held:
            del self._held[key]
        return False

    @property
    def held(self) -> Mapping[str, Held]:
        """The debtors held decoded now, least recently used first (read-only)."""
        return MappingProxyType(self._held)

    def forget(self) -> None:
        """Drop every held debtor (the processor stopped: its stores may
        change before it runs again)."""
        self._held.clear()
        self._dirty.clear()

    @staticmethod
    def _write(held: Held) -> None:
        if held.applied and held.state is not None:
            held.raw = held.state.encode()
            held.store.set(STATE_KEY, held.raw)
            held.applied.clear()

    @staticmethod
    def _redo(held: Held) -> None:
        """Back to the state before the failed step: the stored bytes with
        every step since folded in again, in the same object (the sink may
        hold it for a snapshot)."""
        state = DebtorState.decode(held.raw) if held.raw is not None else None
        for step in held.applied:
            if isinstance(step, datetime):
                state = tick(state, step).state if state is not None else None
            else:
                state = apply(state, step).state
        if held.state is not None and state is not None:
            held.state.assign(state)
        else:
            held.state = state

    def _step(self, key: str, held: Held, event: Event, backfill: bool = False) -> Processed:
        current, store = held.state, held.store
        wake = isinstance(event, Timer)
        # The clock is read only when something needs it: never for a duplicate.
        now: datetime | None = None
        if wake:
            if current is None:
                return Processed(DebtorState(event.debtor_id), False)
            now = self.clock.now()
            result = tick(current, now)
        else:
            result = apply(current, event)
        if result.changed or wake:
            held.state = result.state
            held.applied.append(now if now is not None else event)
            self._dirty[key] = held
            if len(held.applied) >= MAX_APPLIED:
                self._write(held)
        out = Processed(result.state, result.changed, result.derived)
        conv_due: int | None = None
        if (
            self.conversations
            and not backfill
            and isinstance(event, ChannelResponse)
            and event.status == "REPLIED"
        ):
            # Before the duplicate check: a second message on one dispatch
            # changes no counter of the view, yet is a message to answer (a
            # redelivery the conversation recognises by its event id).
            conv_due = self._converse(held, result.state, event, out)
            if not result.changed:
                self._timer_no_later(held, conv_due, out)
        elif self.conversations and wake and now is not None:
            conv_due = self._wake_conversation(held, result.state, now, out)
        elif self.conversations and result.changed:
            raw_conv = store.get(CONV_KEY)
            conv_due = conversation_due(
                ConversationState.from_bytes(raw_conv) if raw_conv is not None else None
            )
        if not (result.changed or wake):
            return out  # a duplicate: nothing to decide, nothing to schedule
        next_due: int | None = None
        if self.orchestrator is not None:
            now = now or self.clock.now()
            if held.orch_raw is _UNREAD:
                held.orch_raw = store.get(ORCH_KEY)
            orch_raw = cast(bytes | None, held.orch_raw)
            orch = (
                OrchestrationState.decode(orch_raw)
                if orch_raw is not None
                else OrchestrationState()
            )
            decided, heard_until = self._orchestrate(
                self.orchestrator, held, orch, result.state, now, event, result.derived, backfill
            )
            if out.outputs:
                _merge(out.outputs, decided)
            else:
                out.outputs = decided
            if orch_raw is not None or not orch.is_empty():
                encoded = orch.encode()
                if encoded != orch_raw:
                    store.set(ORCH_KEY, encoded)
                    held.orch_raw = encoded
            next_due = orch.next_due()
            if heard_until is not None:
                next_due = heard_until if next_due is None else min(next_due, heard_until)
        if self.timers:
            view_wake = result.state.next_wakeup
            for ms in (to_ms(view_wake) if view_wake is not None else None, conv_due):
                if ms is not None:
                    next_due = ms if next_due is None else min(next_due, ms)
            if held.timer_raw is _UNREAD:
                held.timer_raw = store.get(TIMER_KEY)
            published = cast(bytes | None, held.timer_raw)
            encoded_due = _NO_TIMER if next_due is None else str(next_due).encode()
            # After a wake-up the timer service has forgotten this debtor:
            # always tell it again.
            if wake or encoded_due != (published if published is not None else _NO_TIMER):
                store.set(TIMER_KEY, encoded_due)
                held.timer_raw = encoded_due
                out.timer, out.timer_changed = next_due, True
        return out

    def _timer_no_later(self, held: Held, due: int | None, out: Processed) -> None:
        """A step that decides nothing else still needs the timer by ``due``
        (a conversation's held answer): published if earlier than the one
        standing; a wake-up then recomputes the debtor's every due time."""
        if not self.timers or due is None:
            return
        if held.timer_raw is _UNREAD:
            held.timer_raw = held.store.get(TIMER_KEY)
        published = cast(bytes | None, held.timer_raw)
        if published is not None and published != _NO_TIMER and int(published) <= due:
            return
        encoded_due = str(due).encode()
        held.store.set(TIMER_KEY, encoded_due)
        held.timer_raw = encoded_due
        out.timer, out.timer_changed = due, True

    def _orchestrate(
        self,
        orchestrator: Orchestrator,
        held: Held,
        orch: OrchestrationState,
        state: DebtorState,
        now: datetime,
        event: Event,
        derived: list[DebtEvent],
        backfill: bool,
    ) -> tuple[Outputs, int | None]:
        """The orchestrator's step for one input, and until when responses are
        held back (ms; None when none are).

        The orchestrator hears a debtor's responses only once none of the
        debtor's sends awaits its outcome (or has for ``OUTCOME_WAIT_MS``),
        then all of them, in order of time and id: the connectors of two
        channels answer in whatever order they happen to, and a step that
        falls back on one failure must see the other's (a bounced address,
        a contact that counts against a cap) in every run alike. Heard in
        arrival order instead, two runs of one input decided differently
        (tests/integration/streams/test_determinism.py). The view folds every
        response at once: only the decisions wait.
        """
        handle = orchestrator.handle
        wake = isinstance(event, Timer)
        is_response = isinstance(event, ChannelResponse)
        heard = self._heard(held)
        awaiting: list[Send] = []
        if is_response or heard:
            # Only then: it decodes the channels of every recent contact.
            sends = [Send(c.at, c.channel, c.dispatch_id) for c in orch.contacts]
            awaiting = awaiting_outcome(state, sends, after=to_ms(now) - OUTCOME_WAIT_MS)
        out = Outputs()
        if is_response:
            heard.append(cast(ChannelResponse, event))
            if derived:
                _merge(out, handle(orch, state, now, None, derived))
            if awaiting:
                self._hold(held, heard)
                return out, min(s.at for s in awaiting) + OUTCOME_WAIT_MS
            self._hold(held, [])
            for response in sorted(heard, key=_heard_order):
                _merge(out, handle(orch, state, now, response))
            return out, None
        # An input of the debtor's own (a debt event, a profile) does not wait
        # for outcomes: what was heard so far goes first.
        if heard and (not awaiting or isinstance(event, DebtEvent | DebtorProfile)):
            self._hold(held, [])
            for response in sorted(heard, key=_heard_order):
                _merge(out, handle(orch, state, now, response))
            heard = []
        _merge(out, handle(orch, state, now, None if wake else event, derived, backfill=backfill))
        if heard:
            return out, min(s.at for s in awaiting) + OUTCOME_WAIT_MS
        return out, None

    @staticmethod
    def _heard(held: Held) -> list[ChannelResponse]:
        if held.heard_raw is _UNREAD:
            held.heard_raw = held.store.get(HEARD_KEY)
        raw = cast(bytes | None, held.heard_raw)
        if not raw:
            return []
        return [ChannelResponse.model_validate_json(line) for line in raw.splitlines()]

    @staticmethod
    def _hold(held: Held, heard: list[ChannelResponse]) -> None:
        """Store the responses held back (set at once, like the
        orchestration state, so a failed step leaves them as stored)."""
        encoded = b"\n".join(r.model_dump_json().encode() for r in heard)
        stored = held.heard_raw if isinstance(held.heard_raw, bytes) else b""
        if encoded != stored:
            held.store.set(HEARD_KEY, encoded)
            held.heard_raw = encoded


def _heard_order(response: ChannelResponse) -> tuple[datetime, str]:
    return response.occurred_at, str(response.event_id)


def _merge(into: Outputs, more: Outputs) -> None:
    into.decisions.extend(more.decisions)
    into.dispatches.extend(more.dispatches)


class DebtorViewProcessor:
    """The view (and orchestration) processor: build once, then :meth:`run`
    (blocking) or :meth:`stop`.

    ``orchestrate`` defaults to ``Settings.orchestrate``; ``timers`` runs the
    timer service and consumes its wake-ups (off for a rebuild, which must
    reproduce the view of the events alone); ``snapshots`` defaults to
    ``Settings.view_snapshots`` (``publisher``: a
    :class:`~streams.view_publisher.ViewPublisher` must run too for the
    debtor-view topic and Postgres to follow).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        publish_derived: bool = True,
        publish_views: bool = True,
        snapshots: ViewSnapshots | None = None,
        orchestrate: bool | None = None,
        timers: bool | None = None,
        clock: Clock | None = None,
        group: str | None = None,
        # Each checkpoint builds and writes the snapshots of every debtor that
        # changed since the last: at 1 s the pause stays short (p95 event to
        # dispatch halved against 5 s) for no measurable throughput cost.
        commit_interval: float = 1.0,
        traced: bool | None = None,
        on_processed: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.running = False
        self.processor = StreamProcessor(
            settings,
            NAME,
            group=group,
            commit_interval=commit_interval,
            low_latency=True,  # its input to dispatch is the latency that matters
            on_processed=on_processed,
        )
        self.clock = clock or clock_from_settings(settings)
        orchestrate = settings.orchestrate if orchestrate is None else orchestrate
        timers = settings.timers if timers is None else timers
        self.conversations = orchestrate and settings.conversations
        learner, self.model_follower = None, None
        if orchestrate and settings.learner_enabled:
            from recaudo.learning.model_topic import learned_chooser

            learner, self.model_follower = learned_chooser(settings, self.processor.serde)
        self.folder = Folder(
            build_orchestrator(settings, conversations=self.conversations, learner=learner)
            if orchestrate
            else None,
            self.clock,
            timers=timers,
            group=self.processor.group,
            max_held=settings.view_held_debtors,
            is_assigned=self.processor.is_assigned,
            conversations=self.conversations,
        )
        self.snapshots: ViewSnapshots = snapshots or settings.view_snapshots
        dsn = settings.database_dsn() if settings.database_url is not None else None
        self.sink = DebtorViewSink(
            settings,
            self.processor.serde,
            snapshots=self.snapshots,
            publish_views=publish_views,
            publish_derived=publish_derived,
            dsn=dsn,
            write_back=self.folder.write_back,
            write_one=self.folder.write_one,
        )
        self.timer_service = (
            TimerService(settings, self.processor.serde, self.clock) if timers else None
        )
        app = self.processor.app
        inputs = (*INPUTS, WAKEUPS) if timers else INPUTS
        if self.conversations:
            inputs = (*inputs, AGENT_TASKS)
        # The derived events this view publishes come back on debt-events:
        # read past them undecoded (the reducer would ignore them anyway).
        frames = [
            app.dataframe(
                self.processor.topic(
                    key, skip_source=DERIVED_SOURCE if key == "debt-events" else None
                )
            )
            for key in inputs
        ]
        # Concatenated, quixstreams reads the inputs time-aligned (by message
        # timestamp within a partition number). The view would not need it,
        # being the same in any order, but the orchestrator decides on the
        # view as it stands: on a backlog an earlier profile change or opt-out
        # on another input must be read before a later trigger. (Read in
        # arrival order instead, two runs of one portfolio decided differently
        # for some debtors: tests/integration/embedded/test_scale_out.py.)
        sdf = frames[0]
        for other in frames[1:]:
            sdf = sdf.concat(other)
        # One chain, no branches: quixstreams deep-copies a value for each
        # branch, which would copy every debtor state. The sink publishes.
        # A span per event costs a few µs: only when traces go somewhere.
        traced = telemetry.tracing(settings) if traced is None else traced
        results = sdf.apply(
            self.folder.traced if traced else self.folder, stateful=True, metadata=True
        )
        results.filter(lambda r: r.publishes).sink(self.sink)

    def run(self) -> None:
        self.running = True
        if self.conversations:
            from recaudo.understanding.understand import warm_up

            warm_up()  # no debtor's message waits for the model's training
        if self.timer_service is not None:
            self.timer_service.start()
        if self.model_follower is not None:
            # Decisions name the latest model version from the first one on.
            self.model_follower.start().wait_caught_up(30)
        try:
            self.processor.run()
        finally:
            self.running = False
            if self.model_follower is not None:
                self.model_follower.close()
            self.folder.forget()
            if self.timer_service is not None:
                self.timer_service.stop()
            self.sink.close()

    def stop(self) -> None:
        self.processor.stop()

    def metrics(self) -> dict[str, float]:
        out = {
            "recaudo_view_snapshots_written_total": float(self.sink.snapshots_written),
            "recaudo_view_states_written_total": float(self.sink.states_written),
            "recaudo_view_derived_events_total": float(self.sink.derived_written),
            "recaudo_view_dead_letters_total": float(self.processor.dead_letters.written),
            "recaudo_dispatches_total": float(self.sink.dispatches_written),
        }
        # Decisions by outcome and reason: the OpenTelemetry counter
        # ``recaudo.decisions`` (recaudo.observability.instruments), on the same page.
        if self.timer_service is not None:
            out["recaudo_timer_wakeups_total"] = float(self.timer_service.wakeups_sent)
            out["recaudo_timers_pending"] = float(self.timer_service.pending())
        return out


def build_orchestrator(
    settings: Settings, *, conversations: bool = False, learner: ContactLearner | None = None
) -> Orchestrator:
    """The orchestrator the settings describe: strategy, templates, rule sets;
    ``conversations``: replies are answered by the conversation; ``learner``:
    chooses for debtors on the learner arm."""
    from recaudo.policy import PRESETS, load_registry
    from recaudo.portal.link import portal_links

    rulesets = PRESETS if settings.policy_file is None else load_registry([settings.policy_file])
    orchestrator = Orchestrator(
        load_strategy(settings.strategy_file),
        Templates.load(settings.templates_file),
        rulesets=rulesets,
        conversations=conversations,
        learner=learner,
    )
    orchestrator.links = portal_links(settings)
    return orchestrator
