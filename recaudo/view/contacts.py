"""Contacts and their outcomes, per channel: what was sent, what came back.

Source of truth for "sent": the channel connectors' ACCEPTED / SENT responses,
one per dispatch (``dispatch_id``) however many times each is reported. A
DISPATCHED decision only says the orchestrator asked; it counts as an
*attempt* in the engagement record, not as sent. Every counter counts
dispatches, not messages: a dispatch delivered twice is delivered once.

Counters (over the outcomes of each dispatch):

* sent: ACCEPTED, SENT;
* delivered: DELIVERED, CALL_ANSWERED, CALL_RIGHT_PARTY (a call answered is
  the voice channel's delivery);
* read: READ, CLICKED;
* replied: REPLIED, CALL_RIGHT_PARTY (talking to the debtor is a reply);
* failed: FAILED, BOUNCED, EXPIRED.

Channel state:

* valid: the profile's contact point says so, and no invalidating outcome is
  newer than that profile. BOUNCED invalidates (an e-mail address); FAILED
  with an ``error_code`` invalidates the phone channels (sms, whatsapp,
  voice), where providers report unreachable numbers that way;
* opted_out: an OPTED_OUT outcome, or a reply that is an opt-out keyword
  (:data:`OPT_OUT_WORDS`), newer than the contact point's consent
  (``consent_at``, else the profile's event time). A profile republished
  with an older consent never undoes an opt-out;
* last_contact_at: the latest ACCEPTED/SENT; last_response_at: the latest
  delivery, read, reply, call outcome or opt-out.

Engagement by time of day counts each dispatch's first reply (or right-party
call) in the local six-hour block (00-06, 06-12, 12-18, 18-24) of the
profile's time zone (UTC until a profile says otherwise), over the dispatches
still held (the newest :data:`~recaudo.view.facts.MAX_RECORDS` per channel).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from recaudo.contracts.records import (
    CHANNELS,
    Channel,
    ChannelResponse,
    ChannelView,
    ContactDecision,
    ResponseStatus,
)
from recaudo.view.facts import MAX_RECORDS, ChannelFacts, ContactPoint, Profile
from recaudo.view.state import DebtorState
from recaudo.view.timebase import from_ms, key64, local_hour, tie64

DISPATCHED_BIT: Final = 1
_STATUSES: tuple[ResponseStatus, ...] = (
    "ACCEPTED",
    "SENT",
    "DELIVERED",
    "FAILED",
    "BOUNCED",
    "EXPIRED",
    "READ",
    "CLICKED",
    "REPLIED",
    "CALL_ANSWERED",
    "CALL_NO_ANSWER",
    "CALL_VOICEMAIL",
    "CALL_RIGHT_PARTY",
    "OPTED_OUT",
    # Appended: a status's bit is stored in the state, so positions never move.
    "OUTCOME_UNKNOWN",
)
STATUS_BIT: dict[ResponseStatus, int] = {s: 1 << (i + 1) for i, s in enumerate(_STATUSES)}


def _mask(*statuses: ResponseStatus) -> int:
    bits = 0
    for status in statuses:
        bits |= STATUS_BIT[status]
    return bits


SENT_MASK: Final = _mask("ACCEPTED", "SENT")
DELIVERED_MASK: Final = _mask("DELIVERED", "CALL_ANSWERED", "CALL_RIGHT_PARTY")
READ_MASK: Final = _mask("READ", "CLICKED")
REPLIED_MASK: Final = _mask("REPLIED", "CALL_RIGHT_PARTY")
FAILED_MASK: Final = _mask("FAILED", "BOUNCED", "EXPIRED")
RESPONSE_MASK: Final = (
    DELIVERED_MASK | READ_MASK | REPLIED_MASK | _mask("CALL_VOICEMAIL", "OPTED_OUT")
)
#: What ``ChannelFacts.folded`` counts, in order.
COUNTERS: Final = (
    DISPATCHED_BIT | SENT_MASK,  # attempts
    SENT_MASK,
    DELIVERED_MASK,
    READ_MASK,
    REPLIED_MASK,
    FAILED_MASK,
)
ATTEMPTS, SENT, DELIVERED, READ, REPLIED, FAILED = range(len(COUNTERS))
PHONE_CHANNELS: Final = frozenset({"sms", "whatsapp", "voice"})

#: Whole-message opt-out keywords (carrier STOP words, es/pt/en), compared
#: upper-case without accents or punctuation.
OPT_OUT_WORDS: Final = frozenset(
    {
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "BAJA",
        "ALTO",
        "CANCELAR",
        "PARAR",
        "PARE",
        "SAIR",
        "DESCADASTRAR",
        "NO MOLESTAR",
        "NO ME CONTACTEN",
    }
)
#: Words that opt out even when followed by more text ("STOP por favor");
#: English END/QUIT/CANCEL open too many ordinary sentences to be among them.
OPT_OUT_LEADS: Final = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "BAJA", "DESCADASTRAR"})


def is_opt_out(text: str | None) -> bool:
    if not text:
        return False
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()
    words = "".join(ch if ch.isalnum() else " " for ch in plain).split()
    return bool(words) and (" ".join(words) in OPT_OUT_WORDS or words[0] in OPT_OUT_LEADS)


def _record(facts: ChannelFacts, key: int, at: int, bit: int) -> bool:
    """Set ``bit`` on the dispatch ``key``; False when nothing new."""
    held = facts.records.get(key)
    if held is None:
        if facts.folded and at < min(first for first, _ in facts.records.values()):
            # Older than every dispatch held, once some were dropped: most
            # likely a late outcome of a dropped one, which must not count twice.
            return False
        facts.records[key] = (at, bit)
        if len(facts.records) > MAX_RECORDS:
            _fold_oldest(facts)  # maybe this very record: it is counted there
        return True
    record = (min(held[0], at), held[1] | bit)
    if record == held:
        return False
    facts.records[key] = record
    return True


def _fold_oldest(facts: ChannelFacts) -> None:
    _, key = min((t, k) for k, (t, _) in facts.records.items())
    _, bits = facts.records.pop(key)
    replied = facts.replies.pop(key, None) is not None
    facts.retired += bin(bits).count("1") + replied
    counts = list(facts.folded) or [0] * len(COUNTERS)
    for i, mask in enumerate(COUNTERS):
        counts[i] += bool(bits & mask)
    facts.folded = tuple(counts)


def record_response(state: DebtorState, event: ChannelResponse, at: int) -> bool:
    facts = state.add_channel(event.channel)
    key = key64(event.dispatch_id) if event.dispatch_id else tie64(event.event_id)
    status = event.status
    bit = STATUS_BIT[status]
    changed = _record(facts, key, at, bit)
    opt_out = status == "OPTED_OUT" or (status == "REPLIED" and is_opt_out(event.text))
    if bit & REPLIED_MASK and key in facts.records:
        held = facts.replies.get(key)
        if held is None or at < held:
            facts.replies[key] = at
            changed = True
    # Latest-of times: max is the same whatever order the outcomes arrive in.
    if bit & SENT_MASK:
        if at > facts.last_contact:
            facts.last_contact, changed = at, True
        if at > facts.last_attempt:
            facts.last_attempt, changed = at, True
    if bit & RESPONSE_MASK and at > facts.last_response:
        facts.last_response, changed = at, True
    invalidates = status == "BOUNCED" or (
        status == "FAILED" and event.channel in PHONE_CHANNELS and event.error_code is not None
    )
    if invalidates and at > facts.invalid_at:
        facts.invalid_at, changed = at, True
    if opt_out and at > facts.opted_out_at:
        facts.opted_out_at, changed = at, True
    return changed


def record_decision(state: DebtorState, event: ContactDecision, at: int) -> bool:
    if event.outcome != "DISPATCHED" or event.channel is None:
        return False  # deferrals and suppressions are audit records, not contacts
    facts = state.add_channel(event.channel)
    key = key64(event.dispatch_id) if event.dispatch_id else tie64(event.event_id)
    changed = _record(facts, key, at, DISPATCHED_BIT)
    if at > facts.last_attempt:
        facts.last_attempt, changed = at, True
    return changed


def counts(facts: ChannelFacts) -> list[int]:
    out = list(facts.folded) or [0] * len(COUNTERS)
    for _, bits in facts.records.values():
        for i, mask in enumerate(COUNTERS):
            if bits & mask:
                out[i] += 1
    return out


def contact_point(profile: Profile | None, channel: Channel) -> ContactPoint | None:
    """The profile's point for ``channel``: the first usable one, else the first."""
    if profile is None:
        return None
    points = [p for p in profile.points if p.channel == channel]
    for point in points:
        if point.consent and point.valid:
            return point
    return points[0] if points else None


def _when(ms: int) -> datetime | None:
    return from_ms(ms) if ms else None


def channel_views(state: DebtorState) -> list[ChannelView]:
    profile = state.profile
    views = []
    for channel in CHANNELS:
        point = contact_point(profile, channel)
        facts = state.channels.get(channel)
        if point is None and facts is None:
            continue
        facts = facts or ChannelFacts()
        profile_at = profile.at if profile is not None else 0
        consent_at = point.consent_at if point and point.consent_at is not None else profile_at
        opted_out = facts.opted_out_at > 0 and not (
            point is not None and point.consent and consent_at > facts.opted_out_at
        )
        n = counts(facts)
        views.append(
            ChannelView.model_construct(
                channel=channel,
                address=point.address if point else None,
                consent=point.consent if point else False,
                opted_out=opted_out,
                valid=point is not None and point.valid and facts.invalid_at <= profile_at,
                sent=n[SENT],
                delivered=n[DELIVERED],
                read=n[READ],
                replied=n[REPLIED],
                failed=n[FAILED],
                last_contact_at=_when(facts.last_contact),
                last_response_at=_when(facts.last_response),
            )
        )
    return views


@dataclass(frozen=True, slots=True)
class ChannelEngagement:
    """How a debtor responds on one channel: what the orchestrator weighs when
    choosing a channel and an hour, and what the learner learns from."""

    channel: Channel
    attempts: int
    sent: int
    deliveries: int
    reads: int
    replies: int
    failures: int
    #: first replies per dispatch by local hour block: 00-06, 06-12, 12-18, 18-24
    replies_by_block: tuple[int, int, int, int]
    last_attempt_at: datetime | None
    last_reply_at: datetime | None


def engagement(state: DebtorState) -> dict[Channel, ChannelEngagement]:
    time_zone = state.profile.time_zone if state.profile is not None else None
    out: dict[Channel, ChannelEngagement] = {}
    for channel in CHANNELS:
        facts = state.channels.get(channel)
        if facts is None:
            continue
        blocks = [0, 0, 0, 0]
        for at in facts.replies.values():
            blocks[local_hour(at, time_zone) // 6] += 1
        n = counts(facts)
        out[channel] = ChannelEngagement(
            channel=channel,
            attempts=n[ATTEMPTS],
            sent=n[SENT],
            deliveries=n[DELIVERED],
            reads=n[READ],
            replies=n[REPLIED],
            failures=n[FAILED],
            replies_by_block=(blocks[0], blocks[1], blocks[2], blocks[3]),
            last_attempt_at=_when(facts.last_attempt),
            last_reply_at=_when(max(facts.replies.values(), default=0)),
        )
    return out
