"""Per-debtor attribution: what each event adds to which KPI dimension members.

Runs keyed by ``debtor_id`` (one partition owns a debtor), so it can remember,
per debtor, what the events themselves do not carry: which channel and strategy
arm a dispatch went out on (responses name only the dispatch), the debtor's
current bucket (decisions do not carry it), the recent contacts with their
event times, pending promises (to see them kept) and the contacts of the
current collection episode (contacts per cure).

A promise, payment or cure is credited to the latest contact at or before it
in event time (last-touch attribution), whatever order they arrive in: a
history loaded after the contacts, or a payment reported late, is never
credited to a contact that came after it.

Exactly-once effects come from ids, not from delivery: an event id seen
recently is ignored, a dispatch counts as one contact and each of its statuses
once, however often they are reported.

Conversations (:mod:`recaudo.kpis.conversations`) are followed per debtor too:
the open conversation and the contact it is credited to, and the messages
waiting for their answer; counted only when a reader of intents is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, get_args

import orjson

from recaudo.contracts.records import (
    CHANNELS,
    AgentTask,
    BucketChanged,
    ChannelResponse,
    ContactDecision,
    DaysPastDueUpdated,
    DebtCured,
    DebtEvent,
    DebtOpened,
    Envelope,
    PaymentPlanAgreed,
    PaymentReceived,
    PromiseBroken,
    PromiseToPay,
)
from recaudo.kpis.conversations import (
    ACKNOWLEDGEMENT,
    ANSWER_TRIGGER,
    AWAITING_ANSWERS,
    CONVERSATION_IDLE_MS,
    CONVERSATION_SOURCE,
    Reader,
    latency_bucket,
)
from recaudo.kpis.counters import Counters
from recaudo.view.buckets import bucket_for, worst

Dimension = Literal["ALL", "CHANNEL", "BUCKET", "ARM"]
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)
ALL_MEMBER = "all"

#: Statuses that prove a dispatch reached the debtor's device or line.
DELIVERED = frozenset(
    {
        "DELIVERED",
        "READ",
        "CLICKED",
        "REPLIED",
        "CALL_ANSWERED",
        "CALL_RIGHT_PARTY",
        "CALL_VOICEMAIL",
    }
)
FAILED = frozenset({"FAILED", "BOUNCED", "EXPIRED"})

# Per-dispatch status bits: each counted once per dispatch.
_DISPATCHED, _DELIVERED, _FAILED, _REPLIED, _RIGHT_PARTY = 1, 2, 4, 8, 16

#: Bounds on what a debtor's state remembers: enough for any realistic
#: cadence, small enough that state stays a few hundred bytes.
RECENT_EVENTS = 64
RECENT_DISPATCHES = 32
PENDING_PROMISES = 16
RECENT_TOUCHES = 32


@dataclass(slots=True)
class Touch:
    """Where a contact went: its channel, bucket and strategy arm."""

    channel: str | None
    bucket: str | None
    arm: str | None

    def members(self) -> list[tuple[Dimension, str]]:
        found: list[tuple[Dimension, str]] = [("ALL", ALL_MEMBER)]
        if self.channel:
            found.append(("CHANNEL", self.channel))
        if self.bucket:
            found.append(("BUCKET", self.bucket))
        if self.arm:
            found.append(("ARM", self.arm))
        return found

    def to_list(self) -> list[str | None]:
        return [self.channel, self.bucket, self.arm]

    @classmethod
    def from_list(cls, data: list[Any]) -> Touch:
        return cls(data[0], data[1], data[2])


@dataclass(slots=True)
class Attribution:
    """One event's contribution: ``counters`` added to every member of ``touch``."""

    at_ms: int
    touch: Touch
    counters: Counters


@dataclass(slots=True)
class DebtorKpiState:
    """What the attribution remembers about one debtor (see the module doc)."""

    buckets: dict[str, str] = field(default_factory=dict)  # account -> bucket
    #: recent contacts as (event time ms, channel, bucket, arm), oldest first
    touches: list[list[Any]] = field(default_factory=list)
    episode_contacts: int = 0
    #: dispatch id -> (channel, bucket, arm, status bits)
    dispatches: dict[str, list[Any]] = field(default_factory=dict)
    #: promise id -> (account, amount, promised date, paid so far, channel,
    #: bucket, arm, when made (ms; absent in states written before))
    promises: dict[str, list[Any]] = field(default_factory=dict)
    recent: list[str] = field(default_factory=list)
    #: the open conversation: (opened ms, last inbound ms, channel, bucket,
    #: arm, handed off 0/1); None when none is open
    conversation: list[Any] | None = None
    #: inbound message id -> (event time ms, channel, bucket, arm), until answered
    awaiting: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def bucket(self) -> str | None:
        return worst(list(self.buckets.values())) if self.buckets else None  # type: ignore[arg-type]

    @property
    def last_touch(self) -> Touch | None:
        """The latest contact in event time."""
        return Touch.from_list(self.touches[-1][1:]) if self.touches else None

    def touch_at(self, at_ms: int) -> Touch | None:
        """The latest contact at or before ``at_ms`` (event time)."""
        for touch in reversed(self.touches):
            if touch[0] <= at_ms:
                return Touch.from_list(touch[1:])
        return None

    def add_touch(self, at_ms: int, touch: Touch) -> None:
        entry = [at_ms, *touch.to_list()]
        index = len(self.touches)
        while index and self.touches[index - 1][0] > at_ms:
            index -= 1
        self.touches.insert(index, entry)
        del self.touches[:-RECENT_TOUCHES]

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "b": self.buckets,
                "w": self.touches,
                "n": self.episode_contacts,
                "d": self.dispatches,
                "p": self.promises,
                "e": self.recent,
                "c": self.conversation,
                "q": self.awaiting,
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> DebtorKpiState:
        raw = orjson.loads(data)
        # A state written before contacts had times: its last touch, undated.
        touches = raw["w"] if "w" in raw else ([[0, *raw["t"]]] if raw.get("t") else [])
        return cls(
            buckets=raw["b"],
            touches=touches,
            episode_contacts=raw["n"],
            dispatches=raw["d"],
            promises=raw["p"],
            recent=raw["e"],
            # States written before conversations were counted have neither.
            conversation=raw.get("c"),
            awaiting=raw.get("q") or {},
        )


def arm_label(strategy: str | None, arm: str | None, learning: str | None = None) -> str | None:
    """``strategy/arm``: arms of different strategies never share a row; with
    the learner switched on, ``strategy/arm/learning-arm`` (static, learner,
    holdout), so its arms are reported side by side."""
    label = strategy if arm is None else (f"{strategy}/{arm}" if strategy else arm)
    if learning is None:
        return label
    return f"{label}/{learning}" if label else learning


def _ms(event: Envelope) -> int:
    return int(event.occurred_at.timestamp() * 1000)


def _trim(mapping: dict[str, Any], bound: int) -> None:
    # Insertion order is age: the oldest go first.
    while len(mapping) > bound:
        del mapping[next(iter(mapping))]


def observe(
    state: DebtorKpiState, event: Envelope, read: Reader | None = None
) -> list[Attribution]:
    """Fold ``event`` into ``state``; what it adds to the KPIs (often nothing).

    ``read`` gives an inbound message's intent; without it (conversations
    off) messages and conversations are not counted."""
    event_id = str(event.event_id)
    if event_id in state.recent:
        return []
    state.recent.append(event_id)
    del state.recent[:-RECENT_EVENTS]
    if isinstance(event, ContactDecision):
        return _decision(state, event)
    if isinstance(event, ChannelResponse):
        out = _response(state, event)
        if event.status == "REPLIED" and read is not None:
            out.extend(_message(state, event, read))
        elif event.status == "OPTED_OUT" and event.source == CONVERSATION_SOURCE:
            out.extend(_resolve(state, _ms(event)))
        return out
    if isinstance(event, DebtEvent):
        return _debt_event(state, event)
    if isinstance(event, AgentTask):
        return _agent_task(state, event)
    return []


def _decision(state: DebtorKpiState, event: ContactDecision) -> list[Attribution]:
    learning = event.learning.arm if event.learning is not None else None
    touch = Touch(event.channel, state.bucket, arm_label(event.strategy, event.arm, learning))
    counters = Counters()
    if event.outcome == "DISPATCHED":
        key = event.dispatch_id or str(event.event_id)
        known = state.dispatches.get(key)
        if known is not None and known[3] & _DISPATCHED:
            return []  # the same dispatch decided twice (a replay): one contact
        state.dispatches[key] = [*touch.to_list(), _DISPATCHED | (known[3] if known else 0)]
        _trim(state.dispatches, RECENT_DISPATCHES)
        counters.contacts = 1
        counters.calls = int(event.channel == "voice")
        if state.episode_contacts == 0:
            counters.episodes = 1
        state.episode_contacts += 1
        state.add_touch(_ms(event), touch)
        out = [Attribution(_ms(event), touch, counters)]
        if event.trigger == ANSWER_TRIGGER and event.trigger_event_id is not None:
            out.extend(_answered(state, str(event.trigger_event_id), _ms(event)))
        return out
    elif event.outcome == "DEFERRED":
        counters.deferred = 1
    else:
        counters.suppressed = 1
        reasons = sorted({hit.reason_code for hit in event.rules_fired}) or ["UNSPECIFIED"]
        counters.suppressions = dict.fromkeys(reasons, 1)
    return [Attribution(_ms(event), touch, counters)]


def _response(state: DebtorKpiState, event: ChannelResponse) -> list[Attribution]:
    key = event.dispatch_id
    known = state.dispatches.get(key) if key is not None else None
    if known is None:
        # A response to a dispatch this debtor's state no longer (or never)
        # held: its channel is known, its arm is not. An inbound message that
        # answers no dispatch is counted as itself (its event id dedups it).
        known = [event.channel, state.bucket, None, 0]
        if key is not None:
            state.dispatches[key] = known
            _trim(state.dispatches, RECENT_DISPATCHES)
    bits = known[3]
    counters = Counters()
    if event.status in DELIVERED and not bits & _DELIVERED:
        counters.delivered, bits = 1, bits | _DELIVERED
    if event.status in FAILED and not bits & (_FAILED | _DELIVERED):
        counters.failed, bits = 1, bits | _FAILED
    if event.status == "REPLIED" and not bits & _REPLIED:
        counters.replied, bits = 1, bits | _REPLIED
    if event.status == "CALL_RIGHT_PARTY" and not bits & _RIGHT_PARTY:
        counters.right_party, bits = 1, bits | _RIGHT_PARTY
    known[3] = bits
    if counters.is_empty():
        return []
    return [Attribution(_ms(event), Touch.from_list(known[:3]), counters)]


def _message(state: DebtorKpiState, event: ChannelResponse, read: Reader) -> list[Attribution]:
    """An inbound message: read, and opening a conversation when none is open."""
    at = _ms(event)
    held = state.dispatches.get(event.dispatch_id) if event.dispatch_id is not None else None
    touch = (
        Touch(event.channel, held[1], held[2]) if held else Touch(event.channel, state.bucket, None)
    )
    intent, confident = read(event.text or "")
    counters = Counters(messages_read=1, messages_understood=int(confident))
    conversation = state.conversation
    if conversation is None or at - conversation[1] > CONVERSATION_IDLE_MS:
        state.conversation = [at, at, *touch.to_list(), 0]
        counters.conversations = 1
    else:
        conversation[1] = max(conversation[1], at)
    out = [Attribution(at, touch, counters)]
    early = state.awaiting.pop(str(event.event_id), None)
    if early is not None and early[0] == _ANSWERED:
        out.append(_latency(at, early[1], touch))
    else:
        state.awaiting[str(event.event_id)] = [at, *touch.to_list()]
        _trim(state.awaiting, AWAITING_ANSWERS)
    if confident and intent == ACKNOWLEDGEMENT:
        out.extend(_resolve(state, at))
    return out


#: An ``awaiting`` entry for an answer read before its message (the two come
#: from different topics): the answer's time, for when the message comes.
_ANSWERED = "answered"


def _answered(state: DebtorKpiState, message_id: str, at: int) -> list[Attribution]:
    """The answer to ``message_id`` was dispatched at ``at``: its first answer's time."""
    waiting = state.awaiting.pop(message_id, None)
    if waiting is None:
        state.awaiting[message_id] = [_ANSWERED, at]
        _trim(state.awaiting, AWAITING_ANSWERS)
        return []
    if waiting[0] == _ANSWERED:
        state.awaiting[message_id] = waiting  # a second answer: the first one counts
        return []
    return [_latency(waiting[0], at, Touch.from_list(waiting[1:4]))]


def _latency(message_at: int, answer_at: int, touch: Touch) -> Attribution:
    """How long the answer took, credited where the message was."""
    took = Counters(answer_latency_ms={latency_bucket(answer_at - message_at): 1})
    return Attribution(answer_at, touch, took)


def _resolve(state: DebtorKpiState, at: int) -> list[Attribution]:
    """The open conversation ended in an outcome: resolved unless handed off."""
    conversation = state.conversation
    if conversation is None:
        return []
    state.conversation = None
    if conversation[5]:
        return []
    return [Attribution(at, Touch.from_list(conversation[2:5]), Counters(conversations_resolved=1))]


def _agent_task(state: DebtorKpiState, event: AgentTask) -> list[Attribution]:
    """An agent task opened: a handoff, and the open conversation's end."""
    if event.status != "OPEN":
        return []
    at = _ms(event)
    conversation = state.conversation
    if conversation is not None:
        touch = Touch.from_list(conversation[2:5])
        state.conversation = None
    else:
        last = state.last_touch
        touch = Touch(last.channel if last else None, state.bucket, last.arm if last else None)
    counters = Counters(handoffs=1, handoff_reasons={event.reason: 1})
    return [Attribution(at, touch, counters)]


def _after_touch(state: DebtorKpiState, at_ms: int, bucket: str | None = None) -> Touch:
    """What an outcome at ``at_ms`` is credited to: the latest contact before it."""
    last = state.touch_at(at_ms)
    return Touch(last.channel if last else None, bucket or state.bucket, last.arm if last else None)


def _debt_event(state: DebtorKpiState, event: DebtEvent) -> list[Attribution]:
    payload = event.payload
    at = _ms(event)
    if isinstance(payload, DebtOpened | DaysPastDueUpdated):
        state.buckets[event.account_id] = bucket_for(payload.days_past_due)
    elif isinstance(payload, BucketChanged):
        state.buckets[event.account_id] = payload.to_bucket
    elif isinstance(payload, PromiseToPay):
        touch = _after_touch(state, at)
        if payload.channel in CHANNELS:
            touch.channel = payload.channel
        state.promises[payload.promise_id] = [
            event.account_id,
            payload.amount_minor,
            payload.promised_date.isoformat(),
            0,
            *touch.to_list(),
            at,
        ]
        _trim(state.promises, PENDING_PROMISES)
        made = Counters(promises=1)
        if event.source == CONVERSATION_SOURCE:
            made.conversation_promises = 1
            return [Attribution(at, touch, made), *_resolve(state, at)]
        return [Attribution(at, touch, made)]
    elif isinstance(payload, PaymentPlanAgreed):
        if event.source != CONVERSATION_SOURCE:
            return []
        touch = _after_touch(state, at)
        if payload.channel in CHANNELS:
            touch.channel = payload.channel
        return [Attribution(at, touch, Counters(conversation_plans=1)), *_resolve(state, at)]
    elif isinstance(payload, PromiseBroken):
        held = state.promises.pop(payload.promise_id, None)
        touch = Touch.from_list(held[4:7]) if held else _after_touch(state, at)
        return [Attribution(at, touch, Counters(promises_broken=1))]
    elif isinstance(payload, PaymentReceived):
        touch = _after_touch(state, at)
        out = [
            Attribution(
                at,
                touch,
                Counters(payments=1, recovered_minor={payload.currency: payload.amount_minor}),
            )
        ]
        out.extend(_keep_promises(state, event.account_id, payload.amount_minor, event, at))
        out.extend(_resolve(state, at))
        return out
    elif isinstance(payload, DebtCured):
        touch = _after_touch(state, at, payload.previous_bucket)
        state.buckets[event.account_id] = "CURRENT"
        # Contacts after the cure (event time) belong to the next episode.
        later = sum(1 for t in state.touches if t[0] > at)
        before = max(0, state.episode_contacts - later)
        counters = Counters(
            cures=1,
            contacted_cures=int(before > 0),
            contacts_to_cure=before,
            # those later contacts open an episode their dispatches did not count
            episodes=int(later > 0 and state.episode_contacts == later + before),
        )
        state.episode_contacts -= before
        return [Attribution(at, touch, counters)]
    return []


def _keep_promises(
    state: DebtorKpiState, account_id: str, amount: int, event: DebtEvent, at: int
) -> list[Attribution]:
    """A promise is kept when the account's payments from when it was made up
    to its promised date reach its amount (the view's rule); oldest first."""
    paid_on = event.occurred_at.date()
    out: list[Attribution] = []
    for promise_id, held in list(state.promises.items()):
        if amount <= 0:
            break
        if held[0] != account_id or paid_on > date.fromisoformat(held[2]):
            continue
        if len(held) > 7 and at < held[7]:
            continue  # paid before the promise was made: it does not keep it
        used = min(amount, held[1] - held[3])
        held[3] += used
        amount -= used
        if held[3] >= held[1]:
            del state.promises[promise_id]
            out.append(Attribution(at, Touch.from_list(held[4:7]), Counters(promises_kept=1)))
    return out
