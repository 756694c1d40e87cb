"""The sections of a debtor state as bytes: fixed binary layouts (struct),
little-endian.

Fixed layouts rather than Avro or JSON, for the cost of encoding a state at
every step (docs/performance.md, "Speed layers"). A state is framed in sections
(:mod:`recaudo.view.state`): the profile, each account, each channel, so an
event touching one account or one channel decodes and re-encodes only that
section and copies the others' bytes through.

Sections (layout 1):

* profile: (event time, tie) first, so the newest-wins check needs no
  decoding; flags, preferred channel, strings, contact points;
* account: currency, a flag byte for the optional parts (opening, instalment
  due, floor), the facts as fixed 29-byte records, promises and disputes
  sorted by id, then payment plans sorted by id when there are any (a flag
  bit: a state without plans encodes as before plans existed);
* channel: latest-of times, optional folded counters, dispatch records
  sorted by (time, key), replies sorted by key.

Every collection is written in a canonical order, so the same facts always
encode to the same bytes, whatever order they arrived in.
"""

from __future__ import annotations

from struct import Struct
from typing import cast

from recaudo.contracts.records import CHANNELS, DisputeOutcome
from recaudo.view.facts import (
    AccountFacts,
    ChannelFacts,
    ContactPoint,
    Dispute,
    Due,
    Fact,
    Opening,
    Plan,
    Profile,
    Promise,
)

_NONE = -(2**31)  # an absent int32 (a day, a channel, an outcome)
_NONE_TEXT = 0xFFFF
OUTCOMES: tuple[DisputeOutcome, ...] = ("UPHELD", "REJECTED", "WITHDRAWN")

TEXT = Struct("<H")
PROFILE_KEY = Struct("<qQ")
_PROFILE = Struct("<qQBiB")
_POINT = Struct("<iBBq")
_ACCOUNT = Struct("<BIHBB")
_OPENING = Struct("<qQqqi")
_DUE = Struct("<qQiqi")
FACT = Struct("<qBQqi")
_PROMISE = Struct("<qqi")
_DISPUTE = Struct("<qqi")
_PLAN = Struct("<qqqHiB")
_CHANNEL = Struct("<BqqqqqIHB")
_FOLDED = Struct("<6I")
_RECORD = Struct("<qQH")
_REPLY = Struct("<Qq")

_HAS_OPENING, _HAS_DUE, _HAS_FLOOR, _HAS_FOLDED, _HAS_PLANS = 1, 2, 4, 8, 16


def text(value: str | None) -> bytes:
    if value is None:
        return TEXT.pack(_NONE_TEXT)
    raw = value.encode()
    return TEXT.pack(len(raw)) + raw


class Reader:
    """Reads consecutive fields of one buffer."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, s: Struct) -> tuple[int, ...]:
        values = s.unpack_from(self.data, self.pos)
        self.pos += s.size
        return values

    def many(self, s: Struct, n: int) -> list[tuple[int, ...]]:
        end = self.pos + s.size * n
        values = list(s.iter_unpack(self.data[self.pos : end]))
        self.pos = end
        return values

    def bytes(self, n: int) -> bytes:
        raw = self.data[self.pos : self.pos + n]
        self.pos += n
        return raw

    def text(self) -> str | None:
        (n,) = TEXT.unpack_from(self.data, self.pos)
        self.pos += 2
        if n == _NONE_TEXT:
            return None
        raw = self.data[self.pos : self.pos + n]
        self.pos += n
        return raw.decode()

    def str(self) -> str:
        value = self.text()
        if value is None:
            raise ValueError("debtor state: a required string is missing")
        return value

    def done(self) -> None:
        if self.pos != len(self.data):
            raise ValueError("debtor state: trailing bytes in a section")


def _or(value: int | None, none: int) -> int:
    return none if value is None else value


def _opt(value: int, none: int) -> int | None:
    return None if value == none else value


# --- profile -------------------------------------------------------------------------


def encode_profile(p: Profile) -> bytes:
    pref = CHANNELS.index(p.preferred_channel) if p.preferred_channel else _NONE
    out = [_PROFILE.pack(p.at, p.tie, p.flags, pref, len(p.points))]
    out += [text(t) for t in (p.language, p.time_zone, p.country, p.jurisdiction, p.risk_segment)]
    for point in p.points:
        channel = CHANNELS.index(point.channel)
        out.append(_POINT.pack(channel, point.consent, point.valid, _or(point.consent_at, -1)))
        out.append(text(point.address))
    return b"".join(out)


def decode_profile(data: bytes) -> Profile:
    r = Reader(data)
    at, tie, flags, pref, n_points = r.take(_PROFILE)
    language, time_zone, country, jurisdiction = r.str(), r.str(), r.str(), r.str()
    risk = r.text()
    points = []
    for _ in range(n_points):
        channel, consent, valid, consent_at = r.take(_POINT)
        points.append(
            ContactPoint(
                CHANNELS[channel], r.str(), bool(consent), _opt(consent_at, -1), bool(valid)
            )
        )
    r.done()
    preferred = None if pref == _NONE else CHANNELS[pref]
    return Profile(
        at, tie, language, time_zone, country, jurisdiction, preferred, risk, flags, tuple(points)
    )


# --- account -------------------------------------------------------------------------


def encode_account(a: AccountFacts) -> bytes:
    flags = (
        (_HAS_OPENING if a.opening else 0)
        | (_HAS_DUE if a.due else 0)
        | (_HAS_FLOOR if a.floor else 0)
        | (_HAS_PLANS if a.plans else 0)
    )
    out = [
        text(a.currency),
        _ACCOUNT.pack(flags, a.retired, len(a.facts), len(a.promises), len(a.disputes)),
    ]
    if a.opening is not None:
        o = a.opening
        out.append(text(o.product))
        out.append(
            _OPENING.pack(
                o.at, o.tie, o.principal, _or(o.instalment, -1), _or(o.next_due_day, _NONE)
            )
        )
    if a.due is not None:
        out.append(_DUE.pack(*a.due))
    if a.floor is not None:
        out.append(FACT.pack(*a.floor))
    out += [FACT.pack(*f) for f in a.facts]
    for promise_id in sorted(a.promises):
        out.append(text(promise_id))
        out.append(_PROMISE.pack(*a.promises[promise_id]))
    for dispute_id in sorted(a.disputes):
        d = a.disputes[dispute_id]
        outcome = _NONE if d.outcome is None else OUTCOMES.index(d.outcome)
        out.append(text(dispute_id))
        out.append(_DISPUTE.pack(_or(d.opened_at, -1), _or(d.resolved_at, -1), outcome))
    if a.plans:
        out.append(TEXT.pack(len(a.plans)))
        for plan_id in sorted(a.plans):
            out.append(text(plan_id))
            out.append(_PLAN.pack(*a.plans[plan_id]))
    return b"".join(out)


def decode_account(data: bytes, wake_at: int) -> AccountFacts:
    r = Reader(data)
    a = AccountFacts(currency=r.str(), wake_at=wake_at)
    flags, a.retired, n_facts, n_promises, n_disputes = r.take(_ACCOUNT)
    if flags & _HAS_OPENING:
        product = r.str()
        at, tie, principal, instalment, next_due = r.take(_OPENING)
        a.opening = Opening(
            at, tie, product, principal, _opt(instalment, -1), _opt(next_due, _NONE)
        )
    if flags & _HAS_DUE:
        a.due = Due(*r.take(_DUE))
    if flags & _HAS_FLOOR:
        a.floor = cast(Fact, r.take(FACT))
    a.facts = cast(list[Fact], r.many(FACT, n_facts))
    for _ in range(n_promises):
        promise_id = r.str()
        a.promises[promise_id] = Promise(*r.take(_PROMISE))
    for _ in range(n_disputes):
        dispute_id = r.str()
        opened, resolved, outcome = r.take(_DISPUTE)
        a.disputes[dispute_id] = Dispute(
            _opt(opened, -1), _opt(resolved, -1), None if outcome == _NONE else OUTCOMES[outcome]
        )
    if flags & _HAS_PLANS:
        (n_plans,) = r.take(TEXT)
        for _ in range(n_plans):
            plan_id = r.str()
            a.plans[plan_id] = Plan(*r.take(_PLAN))
    r.done()
    return a


# --- channel -------------------------------------------------------------------------


def encode_channel(c: ChannelFacts) -> bytes:
    flags = _HAS_FOLDED if c.folded else 0
    out = [
        _CHANNEL.pack(
            flags,
            c.last_attempt,
            c.last_contact,
            c.last_response,
            c.invalid_at,
            c.opted_out_at,
            c.retired,
            len(c.records),
            len(c.replies),
        )
    ]
    if c.folded:
        out.append(_FOLDED.pack(*c.folded))
    records = sorted([(first, key, bits) for key, (first, bits) in c.records.items()])
    out += [_RECORD.pack(*record) for record in records]
    out += [_REPLY.pack(key, c.replies[key]) for key in sorted(c.replies)]
    return b"".join(out)


def decode_channel(data: bytes) -> ChannelFacts:
    r = Reader(data)
    flags, *times, retired, n_records, n_replies = r.take(_CHANNEL)
    c = ChannelFacts(retired=retired)
    c.last_attempt, c.last_contact, c.last_response, c.invalid_at, c.opted_out_at = times
    if flags & _HAS_FOLDED:
        c.folded = r.take(_FOLDED)
    c.records = {key: (first, bits) for first, key, bits in r.many(_RECORD, n_records)}
    c.replies = dict(cast(list[tuple[int, int]], r.many(_REPLY, n_replies)))
    r.done()
    return c
