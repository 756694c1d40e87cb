"""The per-debtor state behind the 360-degree view: facts, not running totals.

Every event is stored as the fact it states, under the key that makes it
unique: a payment under its ``payment_id``, a missed instalment under its
number, a promise under its id, a days-past-due snapshot or a profile as the
latest by event time (ties broken by a hash of the event id), a channel
outcome under (dispatch, status). Applying an event twice therefore changes
nothing, and the order events arrive in does not matter: the view is computed
from the facts, sorted by event time. Memory stays bounded because the
natural keys are bounded (instalments, payments and promises of a debt;
outcomes per dispatch), and the list of recent contacts is capped.

Encoded as compact JSON (orjson): arrays instead of objects, times as epoch
milliseconds, dates as ordinals, identifiers hashed where only equality matters.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson

# Positions in the fact arrays (JSON arrays, so names cost nothing on disk).
AT = 0

#: Recent dispatched contacts kept for caps and cooldowns (the newest win).
MAX_CONTACTS = 32
#: Conversations (replies, right-party calls) kept for cooldowns.
MAX_CONVERSATIONS = 8
#: Outcome keys kept per channel and status before older ones fold into a count.
MAX_KEYS = 64


def ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def day(value: date) -> int:
    return value.toordinal()


def from_day(value: int) -> date:
    return date.fromordinal(value)


def tag(text: str) -> int:
    """A stable 32-bit hash (crc32) of an identifier, for equality and tie-breaks."""
    return zlib.crc32(text.encode())


def newer(candidate: list[Any] | None, held: list[Any] | None, tie: int) -> bool:
    """Last-writer-wins by event time; the event-id hash at position -1 breaks ties."""
    if held is None:
        return True
    assert candidate is not None
    return (candidate[AT], tie) > (held[AT], held[-1])


@dataclass(slots=True)
class AccountFacts:
    currency: str = ""
    #: DEBT_OPENED: [at, principal, balance, product, dpd, instalment|None, next_due|None, tie]
    opened: list[Any] | None = None
    #: DAYS_PAST_DUE_UPDATED (latest): [at, dpd, balance, tie]
    snapshot: list[Any] | None = None
    #: INSTALMENT_DUE (latest): [at, number, amount, due_day, tie]
    due: list[Any] | None = None
    #: PAYMENT_MISSED by instalment number: [at, amount, due_day]
    missed: dict[str, list[int]] = field(default_factory=dict)
    #: PAYMENT_RECEIVED by payment id: [at, amount]
    payments: dict[str, list[int]] = field(default_factory=dict)
    #: PROMISE_TO_PAY by promise id: [at, amount, promised_day]
    promises: dict[str, list[int]] = field(default_factory=dict)
    #: disputes by id: [opened_at|None, resolved_at|None, outcome|None]
    disputes: dict[str, list[Any]] = field(default_factory=dict)
    #: DEBT_SETTLED: [at, amount, tie]; DEBT_WRITTEN_OFF: [at, balance, tie]
    settled: list[Any] | None = None
    written_off: list[Any] | None = None

    def to_json(self) -> list[Any]:
        return [
            self.currency,
            self.opened,
            self.snapshot,
            self.due,
            self.missed,
            self.payments,
            self.promises,
            self.disputes,
            self.settled,
            self.written_off,
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> AccountFacts:
        return cls(*data)


@dataclass(slots=True)
class ChannelFacts:
    #: status code -> hashes of the outcomes seen (dispatch, status[, reply]).
    keys: dict[str, list[int]] = field(default_factory=dict)
    #: status code -> outcomes folded out of ``keys`` when it grew past MAX_KEYS.
    folded: dict[str, int] = field(default_factory=dict)
    last_contact: int | None = None
    last_response: int | None = None
    #: when an outcome marked the address invalid / the debtor opted out.
    invalid_at: int | None = None
    opted_out_at: int | None = None
    #: replies per six-hour block of the UTC day (engagement by time of day).
    reply_blocks: list[int] = field(default_factory=lambda: [0, 0, 0, 0])

    def to_json(self) -> list[Any]:
        return [
            self.keys,
            self.folded,
            self.last_contact,
            self.last_response,
            self.invalid_at,
            self.opted_out_at,
            self.reply_blocks,
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> ChannelFacts:
        return cls(*data)

    def count(self, code: str) -> int:
        return len(self.keys.get(code, ())) + self.folded.get(code, 0)


@dataclass(slots=True)
class DebtorState:
    #: latest DebtorProfile: [at, language, tz, country, subdivision, jurisdiction,
    #: preferred_channel, risk, flags(4 bools), contact points [[channel, address,
    #: consent, valid]...], tie]
    profile: list[Any] | None = None
    accounts: dict[str, AccountFacts] = field(default_factory=dict)
    channels: dict[str, ChannelFacts] = field(default_factory=dict)
    #: recent DISPATCHED decisions: [at, channel, account|None, tag(dispatch_id)]
    contacts: list[list[Any]] = field(default_factory=list)
    #: recent conversations: [at, channel, tag]
    conversations: list[list[Any]] = field(default_factory=list)
    #: latest event time seen (the view's "as of")
    as_of: int = 0

    @property
    def version(self) -> int:
        """How many facts are known: never decreases, whatever order events
        arrive in, and ends equal for the same events. Together with ``as_of``
        it orders snapshots of one debtor even across a crash and a replay,
        which a count of processed messages would not."""
        count = 1 if self.profile is not None else 0
        for a in self.accounts.values():
            slots = (a.opened, a.snapshot, a.due, a.settled, a.written_off)
            count += sum(f is not None for f in slots)
            count += len(a.missed) + len(a.payments) + len(a.promises)
            count += sum((d[0] is not None) + (d[1] is not None) for d in a.disputes.values())
        for c in self.channels.values():
            count += sum(len(k) for k in c.keys.values()) + sum(c.folded.values())
            times = (c.last_contact, c.last_response, c.invalid_at, c.opted_out_at)
            count += sum(t is not None for t in times)
        return count + len(self.contacts) + len(self.conversations)

    def encode(self) -> bytes:
        return orjson.dumps(
            [
                1,  # layout version
                self.profile,
                {k: a.to_json() for k, a in self.accounts.items()},
                {k: c.to_json() for k, c in self.channels.items()},
                self.contacts,
                self.conversations,
                self.as_of,
            ]
        )

    @classmethod
    def decode(cls, data: bytes) -> DebtorState:
        layout, profile, accounts, channels, contacts, conversations, as_of = orjson.loads(data)
        if layout != 1:
            raise ValueError(f"debtor state layout {layout} is newer than this recaudo")
        return cls(
            profile=profile,
            accounts={k: AccountFacts.from_json(v) for k, v in accounts.items()},
            channels={k: ChannelFacts.from_json(v) for k, v in channels.items()},
            contacts=contacts,
            conversations=conversations,
            as_of=as_of,
        )
