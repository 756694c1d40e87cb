"""KPI counters and the rates derived from them.

Counters only ever add up, so a window, a running total and a sum over
partitions are all the same operation; rates are derived at read time and
never stored (a rate of rates is wrong, a ratio of summed counters is not).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

#: The plain integer counters, in the order the schema and the table list them.
COUNTER_NAMES: tuple[str, ...] = (
    "contacts",
    "calls",
    "delivered",
    "failed",
    "replied",
    "right_party",
    "deferred",
    "suppressed",
    "promises",
    "promises_kept",
    "promises_broken",
    "payments",
    "cures",
    "episodes",
    "contacted_cures",
    "contacts_to_cure",
    "messages_read",
    "messages_understood",
    "conversations",
    "conversations_resolved",
    "conversation_promises",
    "conversation_plans",
    "handoffs",
)

#: The counters that are maps (a key and a count each), in schema order.
MAP_NAMES: tuple[str, ...] = (
    "recovered_minor",
    "suppressions",
    "handoff_reasons",
    "answer_latency_ms",
)


@dataclass(slots=True)
class Counters:
    """What happened in one window for one dimension member.

    - ``contacts``: dispatched decisions (``calls``: those on the voice channel);
    - ``delivered`` / ``failed`` / ``replied`` / ``right_party``: dispatches that
      reached that status, each dispatch counted once however often it is reported;
    - ``deferred`` / ``suppressed``: decisions with that outcome, and
      ``suppressions``: suppressed decisions by reason code;
    - ``promises`` made, ``promises_kept`` and ``promises_broken`` (resolved);
    - ``payments`` and ``recovered_minor``: amounts received per currency
      (minor units: currencies never mix);
    - ``episodes``: debtors contacted for the first time since they were last
      cured; ``contacted_cures``: cures of debtors contacted in the episode,
      ``contacts_to_cure``: the contacts those episodes took; ``cures``: every
      cure, self-cures included;
    - conversations (``recaudo.kpis.conversations`` says how each is seen):
      ``messages_read`` inbound messages read by the intent model and
      ``messages_understood`` those with a confident intent;
      ``conversations`` opened and ``conversations_resolved`` those that ended
      in a promise, plan, opt-out, payment or acknowledgement with no agent
      task; ``conversation_promises`` and ``conversation_plans`` agreed in a
      conversation; ``handoffs`` agent tasks opened and ``handoff_reasons``
      the same by reason; ``answer_latency_ms``: answered messages by how
      long their first answer took (a histogram: upper bound in ms -> count).
    """

    contacts: int = 0
    calls: int = 0
    delivered: int = 0
    failed: int = 0
    replied: int = 0
    right_party: int = 0
    deferred: int = 0
    suppressed: int = 0
    promises: int = 0
    promises_kept: int = 0
    promises_broken: int = 0
    payments: int = 0
    cures: int = 0
    episodes: int = 0
    contacted_cures: int = 0
    contacts_to_cure: int = 0
    messages_read: int = 0
    messages_understood: int = 0
    conversations: int = 0
    conversations_resolved: int = 0
    conversation_promises: int = 0
    conversation_plans: int = 0
    handoffs: int = 0
    recovered_minor: dict[str, int] = field(default_factory=dict)
    suppressions: dict[str, int] = field(default_factory=dict)
    handoff_reasons: dict[str, int] = field(default_factory=dict)
    answer_latency_ms: dict[str, int] = field(default_factory=dict)

    def add(self, other: Counters) -> None:
        for name in COUNTER_NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in MAP_NAMES:
            _add_map(getattr(self, name), getattr(other, name))

    def is_empty(self) -> bool:
        return not any(getattr(self, n) for n in COUNTER_NAMES) and not any(
            getattr(self, n) for n in MAP_NAMES
        )

    def to_dict(self, sparse: bool = False) -> dict[str, Any]:
        """Plain data (JSON-ready); ``sparse`` leaves out zeros and empty maps."""
        data: dict[str, Any] = {n: getattr(self, n) for n in COUNTER_NAMES}
        for name in MAP_NAMES:
            data[name] = dict(getattr(self, name))
        if sparse:
            data = {k: v for k, v in data.items() if v}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Counters:
        """The inverse of :meth:`to_dict` (sparse or not; unknown keys ignored)."""
        out = cls()
        for name in MAP_NAMES:
            setattr(out, name, dict(data.get(name) or {}))
        for name in COUNTER_NAMES:
            if name in data:
                setattr(out, name, int(data[name]))
        return out

    def rates(self) -> Rates:
        return Rates.of(self)


def _add_map(into: dict[str, int], more: dict[str, int]) -> None:
    for key, value in more.items():
        into[key] = into.get(key, 0) + value


def ratio(numerator: int, denominator: int) -> float | None:
    """None, not 0, when nothing could have happened: 'no data' is not 'zero'."""
    return numerator / denominator if denominator > 0 else None


@dataclass(frozen=True, slots=True)
class Rates:
    """The KPI rates, each with the denominator that makes it meaningful."""

    #: delivered / contacts
    delivery_rate: float | None
    #: right-party contacts / calls (voice only)
    right_party_rate: float | None
    #: replies / messages (contacts on the messaging channels)
    reply_rate: float | None
    #: promises / contacts
    promise_rate: float | None
    #: kept / (kept + broken): of the promises that came due
    promise_kept_rate: float | None
    #: cured contacted debtors / debtors contacted (episodes)
    cure_rate: float | None
    #: contacts per cured (contacted) debtor
    contacts_per_cure: float | None
    #: messages with a confident intent / messages read
    understood_rate: float | None = None
    #: conversations resolved without a person / conversations
    resolved_rate: float | None = None

    @classmethod
    def of(cls, c: Counters) -> Rates:
        return cls(
            delivery_rate=ratio(c.delivered, c.contacts),
            right_party_rate=ratio(c.right_party, c.calls),
            reply_rate=ratio(c.replied, c.contacts - c.calls),
            promise_rate=ratio(c.promises, c.contacts),
            promise_kept_rate=ratio(c.promises_kept, c.promises_kept + c.promises_broken),
            cure_rate=ratio(c.contacted_cures, c.episodes),
            contacts_per_cure=ratio(c.contacts_to_cure, c.contacted_cures),
            understood_rate=ratio(c.messages_understood, c.messages_read),
            resolved_rate=ratio(c.conversations_resolved, c.conversations),
        )

    def to_dict(self) -> dict[str, float | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
