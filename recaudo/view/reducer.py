"""Folding one event into a debtor's state, and the derived events it causes.

``apply`` is pure: the same state and event always give the same result, and
it never reads the clock (``tick`` takes "now" from its caller).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from recaudo.events import (
    DERIVED_TYPES,
    BucketChanged,
    ChannelResponse,
    ContactDecision,
    DebtCured,
    DebtEvent,
    DebtorProfile,
    Envelope,
    PromiseBroken,
)
from recaudo.view.accounts import AccountSummary, summarize
from recaudo.view.state import (
    MAX_CONTACTS,
    MAX_CONVERSATIONS,
    MAX_KEYS,
    AccountFacts,
    ChannelFacts,
    DebtorState,
    day,
    from_day,
    from_ms,
    ms,
    newer,
    tag,
)

SOURCE = "recaudo.view"
DERIVED_NAMESPACE = uuid.UUID("3b1f7d52-9c0e-4f3a-8d6b-2e5a7c9f1b40")

#: Outcome statuses by the counter they feed in the view.
SENT = frozenset({"ACCEPTED", "SENT"})
RESPONSE = frozenset(
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
COUNTED = {
    "ACCEPTED": "s",
    "SENT": "s",
    "DELIVERED": "d",
    "READ": "r",
    "CLICKED": "r",
    "REPLIED": "y",
    "CALL_ANSWERED": "d",
    "CALL_RIGHT_PARTY": "y",
    "FAILED": "f",
    "BOUNCED": "f",
    "EXPIRED": "f",
    "CALL_NO_ANSWER": "n",
    "CALL_VOICEMAIL": "v",
}
PHONE_CHANNELS = frozenset({"sms", "whatsapp", "voice"})


@dataclass(frozen=True, slots=True)
class ApplyResult:
    state: DebtorState
    changed: bool
    derived: list[DebtEvent] = field(default_factory=list)


def derived_id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(DERIVED_NAMESPACE, "/".join(map(str, parts)))


def apply(state: DebtorState | None, event: Envelope) -> ApplyResult:
    """Fold ``event`` into ``state`` (a new state when None)."""
    state = state if state is not None else DebtorState()
    if isinstance(event, DebtEvent) and event.type in DERIVED_TYPES:
        return ApplyResult(state, False)  # our own outputs, looped back
    advancing = ms(event.occurred_at) > state.as_of
    account_id = event.account_id if isinstance(event, DebtEvent) else None
    befores: dict[str, AccountSummary | None] = {
        k: summarize(a, state.as_of)
        for k, a in state.accounts.items()
        if k == account_id or (advancing and _ages(a))
    }
    if isinstance(event, DebtEvent):
        befores.setdefault(event.account_id, None)
        changed = _debt_fact(state, event)
    elif isinstance(event, DebtorProfile):
        changed = _profile_fact(state, event)
    elif isinstance(event, ChannelResponse):
        changed = _response_fact(state, event)
    elif isinstance(event, ContactDecision):
        changed = _decision_fact(state, event)
    else:
        raise TypeError(f"the debtor view does not read {type(event).__name__}")
    # Time moving forward changes the view even when the fact was known (dues
    # age, promises fall due): "as of" is the latest event time of all seen.
    if not changed and ms(event.occurred_at) <= state.as_of:
        return ApplyResult(state, False)
    _advance(state, event)
    return ApplyResult(state, True, _derived(state, event, befores))


def _ages(facts: AccountFacts) -> bool:
    """Whether time alone can change the account (promises fall due, days past
    due counted from a missed instalment): only those are re-examined when a
    later event moves "as of"."""
    return bool(facts.promises or facts.missed)


def tick(state: DebtorState, now: datetime, debtor_id: str) -> ApplyResult:
    """Let time pass with no event (promises fall due): ``now`` from the caller."""
    now_ms = ms(now)
    if now_ms <= state.as_of:
        return ApplyResult(state, False)
    befores: dict[str, AccountSummary | None] = {
        k: summarize(a, state.as_of) for k, a in state.accounts.items()
    }
    state.as_of = now_ms
    derived = _derived_from(state, debtor_id, befores, now_ms, trigger=f"tick:{now_ms}")
    return ApplyResult(state, bool(derived), derived)


def _advance(state: DebtorState, event: Envelope) -> None:
    at = ms(event.occurred_at)
    if at > state.as_of:
        state.as_of = at


# --- facts ---------------------------------------------------------------------------


def _debt_fact(state: DebtorState, event: DebtEvent) -> bool:
    facts = state.accounts.get(event.account_id)
    if facts is None:
        facts = state.accounts[event.account_id] = AccountFacts()
    p: Any = event.payload
    at = ms(event.occurred_at)
    tie = tag(str(event.event_id))
    currency = getattr(p, "currency", None)
    if currency and facts.opened is None:
        # One currency per debt; should feeds disagree, the choice must not
        # depend on arrival order, so the smallest code wins until the opening.
        facts.currency = min(facts.currency or currency, currency)
    kind = event.type
    if kind == "DEBT_OPENED":
        fact = [
            at,
            p.principal_minor,
            p.balance_minor,
            p.product,
            p.days_past_due,
            p.instalment_minor,
            day(p.next_due_date) if p.next_due_date else None,
            tie,
        ]
        if not newer(fact, facts.opened, tie):
            return False
        facts.opened, facts.currency = fact, p.currency
    elif kind == "DAYS_PAST_DUE_UPDATED":
        fact = [at, p.days_past_due, p.balance_minor, tie]
        if not newer(fact, facts.snapshot, tie):
            return False
        facts.snapshot = fact
    elif kind == "INSTALMENT_DUE":
        fact = [at, p.instalment_number, p.amount_minor, day(p.due_date), tie]
        if not newer(fact, facts.due, tie):
            return False
        facts.due = fact
    elif kind == "PAYMENT_MISSED":
        return _keyed(facts.missed, str(p.instalment_number), [at, p.amount_minor, day(p.due_date)])
    elif kind == "PAYMENT_RECEIVED":
        return _keyed(facts.payments, p.payment_id, [at, p.amount_minor])
    elif kind == "PROMISE_TO_PAY":
        return _keyed(facts.promises, p.promise_id, [at, p.amount_minor, day(p.promised_date)])
    elif kind == "DEBT_SETTLED":
        fact = [at, p.settled_minor, tie]
        if not newer(fact, facts.settled, tie):
            return False
        facts.settled = fact
    elif kind == "DEBT_WRITTEN_OFF":
        fact = [at, p.balance_minor, tie]
        if not newer(fact, facts.written_off, tie):
            return False
        facts.written_off = fact
    elif kind == "DISPUTE_OPENED":
        held = facts.disputes.setdefault(p.dispute_id, [None, None, None])
        if held[0] is not None and held[0] <= at:
            return False
        held[0] = at
    elif kind == "DISPUTE_RESOLVED":
        held = facts.disputes.setdefault(p.dispute_id, [None, None, None])
        if held[1] is not None and (held[1], held[2]) >= (at, p.outcome):
            return False
        held[1], held[2] = at, p.outcome
    else:  # pragma: no cover - DebtEventType is closed
        raise ValueError(kind)
    return True


def _keyed(facts: dict[str, list[Any]], key: str, fact: list[Any]) -> bool:
    """A fact under its natural key; the same key again keeps the earliest report."""
    held = facts.get(key)
    if held is not None and held <= fact:
        return False
    facts[key] = fact
    return True


def _profile_fact(state: DebtorState, event: DebtorProfile) -> bool:
    at = ms(event.occurred_at)
    tie = tag(str(event.event_id))
    f = event.flags
    fact = [
        at,
        event.preferred_language,
        event.time_zone,
        event.country,
        event.subdivision,
        event.jurisdiction,
        event.preferred_channel,
        event.risk_segment,
        [f.deceased, f.bankruptcy, f.cease_and_desist, f.vulnerable],
        [[c.channel, c.address, c.consent, c.valid] for c in event.contact_points],
        tie,
    ]
    if not newer(fact, state.profile, tie):
        return False
    state.profile = fact
    return True


def _response_fact(state: DebtorState, event: ChannelResponse) -> bool:
    at = ms(event.occurred_at)
    facts = state.channels.get(event.channel)
    if facts is None:
        facts = state.channels[event.channel] = ChannelFacts()
    status = event.status
    key = tag(
        f"{event.dispatch_id}/{status}/{event.text or ''}"
        if status == "REPLIED"
        else f"{event.dispatch_id}/{status}"
    )
    code = COUNTED.get(status)
    changed = False
    if code is not None:
        keys = facts.keys.setdefault(code, [])
        if key not in keys:
            keys.append(key)
            if len(keys) > MAX_KEYS:
                keys.sort()
                keys.pop(0)
                facts.folded[code] = facts.folded.get(code, 0) + 1
            changed = True
            if status == "REPLIED":
                facts.reply_blocks[from_ms(at).hour // 6] += 1
    if status in SENT and (facts.last_contact is None or at > facts.last_contact):
        facts.last_contact, changed = at, True
    if status in RESPONSE and (facts.last_response is None or at > facts.last_response):
        facts.last_response, changed = at, True
    invalidates = status == "BOUNCED" or (
        status == "FAILED" and event.channel in PHONE_CHANNELS and event.error_code is not None
    )
    if invalidates and (facts.invalid_at is None or at > facts.invalid_at):
        facts.invalid_at, changed = at, True
    if status == "OPTED_OUT" and (facts.opted_out_at is None or at > facts.opted_out_at):
        facts.opted_out_at, changed = at, True
    if status in ("REPLIED", "CALL_RIGHT_PARTY"):
        changed |= _bounded_insert(state.conversations, [at, event.channel, key], MAX_CONVERSATIONS)
    return changed


def _decision_fact(state: DebtorState, event: ContactDecision) -> bool:
    if event.outcome != "DISPATCHED" or event.channel is None:
        return False  # deferrals and suppressions are audit records, not contacts
    fact = [
        ms(event.occurred_at),
        event.channel,
        event.account_id,
        tag(event.dispatch_id or str(event.event_id)),
    ]
    return _bounded_insert(state.contacts, fact, MAX_CONTACTS)


def _bounded_insert(items: list[list[Any]], fact: list[Any], limit: int) -> bool:
    """Keep the ``limit`` newest facts, deterministically whatever the arrival order."""
    if fact in items:
        return False
    items.append(fact)
    items.sort(key=lambda f: (f[0], f[-1]))
    if len(items) > limit:
        dropped = items.pop(0)
        return dropped is not fact
    return True


# --- derived events ----------------------------------------------------------------------


def _derived(
    state: DebtorState, event: Envelope, befores: dict[str, AccountSummary | None]
) -> list[DebtEvent]:
    assert isinstance(event, DebtEvent | DebtorProfile | ChannelResponse | ContactDecision)
    return _derived_from(state, event.debtor_id, befores, state.as_of, str(event.event_id))


def _derived_from(
    state: DebtorState,
    debtor_id: str,
    befores: dict[str, AccountSummary | None],
    at_ms: int,
    trigger: str,
) -> list[DebtEvent]:
    out: list[DebtEvent] = []
    at = from_ms(at_ms)
    for account_id, before in befores.items():
        facts = state.accounts[account_id]
        after = summarize(facts, state.as_of)
        if before is not None and before.bucket != after.bucket:
            out.append(
                DebtEvent(
                    event_id=derived_id(
                        debtor_id, account_id, "BUCKET", before.bucket, after.bucket, trigger
                    ),
                    occurred_at=at,
                    source=SOURCE,
                    debtor_id=debtor_id,
                    account_id=account_id,
                    type="BUCKET_CHANGED",
                    payload=BucketChanged(
                        from_bucket=before.bucket,
                        to_bucket=after.bucket,
                        days_past_due=after.days_past_due,
                    ),
                )
            )
        was_overdue = before is not None and before.overdue > 0
        if was_overdue and after.overdue == 0 and after.status in ("CURED", "PAID"):
            assert before is not None
            out.append(
                DebtEvent(
                    event_id=derived_id(debtor_id, account_id, "CURED", before.episode),
                    occurred_at=at,
                    source=SOURCE,
                    debtor_id=debtor_id,
                    account_id=account_id,
                    type="DEBT_CURED",
                    payload=DebtCured(previous_bucket=before.bucket),
                )
            )
        was = dict(before.promises) if before is not None else {}
        for promise_id, status in after.promises:
            if status == "BROKEN" and was.get(promise_id) != "BROKEN":
                _, amount, promised_day = facts.promises[promise_id]
                out.append(
                    DebtEvent(
                        event_id=derived_id(debtor_id, account_id, promise_id, "BROKEN"),
                        occurred_at=at,
                        source=SOURCE,
                        debtor_id=debtor_id,
                        account_id=account_id,
                        type="PROMISE_BROKEN",
                        payload=PromiseBroken(
                            promise_id=promise_id,
                            amount_minor=amount,
                            currency=facts.currency,
                            promised_date=from_day(promised_day),
                        ),
                    )
                )
    return out
