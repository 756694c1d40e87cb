"""Folding one event into a debtor's state, and the derived events it causes.

``apply`` and ``tick`` never read the wall clock: "now" is the latest event
time seen, or tick's argument. Both update the state in place and return it.

Debt events, field by field (the ledger semantics are in
:mod:`recaudo.view.ledger`):

* DEBT_OPENED and DAYS_PAST_DUE_UPDATED: a base (balance and days past due
  as of its time), kept unless inside a run (:mod:`recaudo.view.facts`); of the
  opening's other fields (product, principal, instalment, next due date)
  the newest by (event time, event id) wins, as for INSTALMENT_DUE;
* PAYMENT_MISSED per instalment number, PAYMENT_RECEIVED per payment id,
  PROMISE_TO_PAY per promise id, PAYMENT_PLAN_AGREED per plan id,
  DEBT_SETTLED / DEBT_WRITTEN_OFF per event: the first report (smallest
  event time) wins (an account holds at most
  :data:`~recaudo.view.facts.MAX_PLANS` plans, the newest);
* DISPUTE_OPENED keeps the earliest opening, DISPUTE_RESOLVED the latest
  resolution (an account holds at most :data:`~recaudo.view.facts.MAX_DISPUTES`;
  further dispute ids are ignored);
* BUCKET_CHANGED, PROMISE_BROKEN, DEBT_CURED are this view's own outputs
  coming back on the debt-events topic: no-ops (``changed`` False).

Derived events: for the account an event touches, the ledger's milestones
after the event minus those before it (by identity); when the clock moves,
the same for every account whose ``wake_at`` has come. So:

* every milestone of the final state is published, with the same id whatever
  the arrival order (:func:`implied` lists them);
* a duplicate derives nothing (but see base runs in :mod:`recaudo.view.facts`
  for the one exception), and a replay of the same events in the same order
  derives the same events, ids, times and payloads;
* an order in which a fact arrives after later ones also publishes what was
  true of what was known at the time. The whole set published cannot be the
  same for every order: a promise whose date passed with no payment known
  must be reported broken, and a payment dated before the deadline that
  arrives later cannot un-publish that. The view itself is then corrected.

When the bound drops an account's oldest facts, only milestones from the
event's time on are published: the start of the history being rewritten is
not news.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field
from datetime import datetime

from recaudo.contracts.records import (
    DERIVED_TYPES,
    ChannelResponse,
    ContactDecision,
    DaysPastDueUpdated,
    DebtEvent,
    DebtOpened,
    DebtorProfile,
    DebtSettled,
    DebtWrittenOff,
    DisputeOpened,
    DisputeResolved,
    Event,
    InstalmentDue,
    PaymentMissed,
    PaymentPlanAgreed,
    PaymentReceived,
    PromiseToPay,
)
from recaudo.view.contacts import record_decision, record_response
from recaudo.view.derived import derived_event
from recaudo.view.facts import (
    BASE,
    CLOSE,
    FREQUENCIES,
    MAX_DISPUTES,
    MAX_FACTS,
    MAX_PLANS,
    MAX_PROMISES,
    MISS,
    PAY,
    SETTLED,
    WRITTEN_OFF,
    AccountFacts,
    ContactPoint,
    Dispute,
    Due,
    Fact,
    Opening,
    Plan,
    Profile,
    Promise,
    anchor,
)
from recaudo.view.ledger import Ledger, Milestone, ledger_at
from recaudo.view.state import DebtorState
from recaudo.view.timebase import DAY_MS, key64, tie64, to_day, to_ms


@dataclass(frozen=True, slots=True)
class ApplyResult:
    state: DebtorState
    #: False for a duplicate or an event that changes nothing
    changed: bool
    derived: list[DebtEvent] = field(default_factory=list)


def apply(state: DebtorState | None, event: Event) -> ApplyResult:
    """Fold ``event`` into ``state`` (a new state when None)."""
    if state is None:
        state = DebtorState(debtor_id=event.debtor_id)
    elif state.debtor_id != event.debtor_id:
        raise ValueError(
            f"event {event.event_id} is about debtor {event.debtor_id!r}, "
            f"not {state.debtor_id!r}: events must be keyed by debtor_id"
        )
    if isinstance(event, DebtEvent) and event.type in DERIVED_TYPES:
        return ApplyResult(state, False)  # our own outputs, looped back
    at = to_ms(event.occurred_at)
    old_clock = state.clock
    clock = max(old_clock, at)
    found: list[tuple[str, Milestone]] = []
    if isinstance(event, DebtEvent):
        account_id = event.account_id
        held = state.account(account_id)
        before = held.copy() if held is not None else None
        facts = state.add_account(account_id)
        changed = _record_debt_event(facts, event, at)
        if changed or clock > old_clock:
            after = ledger_at(facts, clock)
            facts.wake_at = after.wake_at
            earlier = ledger_at(before, old_clock) if before is not None else None
            # Dropping the oldest facts (past the bound) rewrites the start of
            # the history: what that makes appear is not news.
            dropped = before is not None and facts.retired != before.retired
            found += _new(account_id, earlier, after, since=min(at, old_clock) if dropped else 0)
    elif isinstance(event, DebtorProfile):
        account_id = ""
        changed = _record_profile(state, event, at)
    elif isinstance(event, ChannelResponse):
        account_id = ""
        changed = record_response(state, event, at)
    elif isinstance(event, ContactDecision):
        account_id = ""
        changed = record_decision(state, event, at)
    else:
        raise TypeError(f"the debtor view does not read {type(event).__name__}")
    if at > state.seen:
        state.seen, changed = at, True  # the view's "as of" moves
    if clock > old_clock:
        state.clock, changed = clock, True
        found += _aged(state, old_clock, clock, skip=account_id)
    return ApplyResult(state, changed, _events(state, found))


def tick(state: DebtorState, now: datetime) -> ApplyResult:
    """Let time pass with no event: buckets age, promise dates pass.

    ``now`` comes from the caller's clock (the processor's timer, a test). A
    ``now`` at or before the state's clock changes nothing. ``changed`` says
    whether the view did (a new UTC day ages days past due, or something was
    derived); the clock is moved forward either way.
    """
    now_ms = to_ms(now)
    old_clock = state.clock
    if now_ms <= old_clock:
        return ApplyResult(state, False)
    state.clock = now_ms
    found = _aged(state, old_clock, now_ms, skip="")
    changed = bool(found) or (
        now_ms // DAY_MS > old_clock // DAY_MS
        and any(ledger_at(a, now_ms).days_past_due for a in state.accounts.values())
    )
    return ApplyResult(state, changed, _events(state, found))


def implied(state: DebtorState) -> list[DebtEvent]:
    """Every derived event the state's facts imply as of its clock: what a
    whole run has published, less what late facts have since disproved."""
    found = [
        (account_id, m)
        for account_id, facts in state.accounts.items()
        for m in ledger_at(facts, state.clock).milestones
    ]
    return _events(state, found)


def _aged(state: DebtorState, old_clock: int, clock: int, skip: str) -> list[tuple[str, Milestone]]:
    """Milestones time alone added between the two clocks, for the accounts
    whose ``wake_at`` has come (the facts are unchanged, so these are exactly
    the ones dated after the old clock)."""
    found: list[tuple[str, Milestone]] = []
    due = [a for a, wake_at in state.wake_times() if a != skip and 0 < wake_at <= clock]
    for account_id in due:
        facts = state.add_account(account_id)
        after = ledger_at(facts, clock)
        facts.wake_at = after.wake_at
        found += [(account_id, m) for m in after.milestones if m.at > old_clock]
    return found


def _new(
    account_id: str, before: Ledger | None, after: Ledger, since: int
) -> list[tuple[str, Milestone]]:
    known = {m.key for m in before.milestones} if before is not None else set()
    return [(account_id, m) for m in after.milestones if m.at >= since and m.key not in known]


def _events(state: DebtorState, found: list[tuple[str, Milestone]]) -> list[DebtEvent]:
    found.sort(key=lambda item: (item[1].at, item[0], item[1].key))
    return [
        derived_event(state.debtor_id, account_id, state.add_account(account_id), m)
        for account_id, m in found
    ]


# --- recording facts --------------------------------------------------------------


def _record_debt_event(facts: AccountFacts, event: DebtEvent, at: int) -> bool:
    facts.memo = None  # every change to an account's facts goes through here
    p = event.payload
    changed = False
    currency = event.currency
    if currency and facts.opening is None and not isinstance(p, DebtOpened):
        # One currency per debt; should feeds disagree before the opening
        # says, the smallest code wins, whatever the arrival order.
        chosen = min(facts.currency, currency) if facts.currency else currency
        if chosen != facts.currency:
            facts.currency, changed = chosen, True
    tie = tie64(event.event_id)
    if isinstance(p, DebtOpened):
        changed = _base(facts, (at, BASE, tie, p.balance_minor, p.days_past_due))
        opening = facts.opening
        if opening is None or (opening.at, opening.tie) < (at, tie):
            facts.opening = Opening(
                at,
                tie,
                p.product,
                p.principal_minor,
                p.instalment_minor,
                to_day(p.next_due_date) if p.next_due_date else None,
            )
            facts.currency, changed = p.currency, True
        return changed
    if isinstance(p, DaysPastDueUpdated):
        return _base(facts, (at, BASE, tie, p.balance_minor, p.days_past_due)) or changed
    if isinstance(p, PaymentMissed):
        fact: Fact = (at, MISS, p.instalment_number, p.amount_minor, to_day(p.due_date))
        return _keyed(facts, fact) or changed
    if isinstance(p, PaymentReceived):
        return _keyed(facts, (at, PAY, key64(p.payment_id), p.amount_minor, 0)) or changed
    if isinstance(p, DebtSettled):
        return _keyed(facts, (at, CLOSE, tie, 0, SETTLED)) or changed
    if isinstance(p, DebtWrittenOff):
        return _keyed(facts, (at, CLOSE, tie, p.balance_minor, WRITTEN_OFF)) or changed
    if isinstance(p, InstalmentDue):
        due = Due(at, tie, p.instalment_number, p.amount_minor, to_day(p.due_date))
        if facts.due is not None and (due.at, due.tie) <= (facts.due.at, facts.due.tie):
            return changed
        facts.due = due
        return True
    if isinstance(p, PromiseToPay):
        promise = Promise(at, p.amount_minor, to_day(p.promised_date))
        return _promise(facts, p.promise_id, promise) or changed
    if isinstance(p, PaymentPlanAgreed):
        plan = Plan(
            at,
            p.instalment_minor,
            p.total_minor,
            p.instalment_count,
            to_day(p.first_due_date),
            FREQUENCIES.index(p.frequency),
        )
        return _plan(facts, p.plan_id, plan) or changed
    if isinstance(p, DisputeOpened):
        held = facts.disputes.get(p.dispute_id)
        if held is None and len(facts.disputes) >= MAX_DISPUTES:
            return changed
        held = held or Dispute(None, None, None)
        if held.opened_at is not None and held.opened_at <= at:
            return changed
        facts.disputes[p.dispute_id] = held._replace(opened_at=at)
        return True
    if isinstance(p, DisputeResolved):
        held = facts.disputes.get(p.dispute_id)
        if held is None and len(facts.disputes) >= MAX_DISPUTES:
            return changed
        held = held or Dispute(None, None, None)
        if held.resolved_at is not None and (held.resolved_at, held.outcome or "") >= (
            at,
            p.outcome,
        ):
            return changed
        facts.disputes[p.dispute_id] = held._replace(resolved_at=at, outcome=p.outcome)
        return True
    raise ValueError(f"unexpected debt event type {event.type}")  # pragma: no cover


def _keyed(facts: AccountFacts, fact: Fact) -> bool:
    """A fact under its natural key (instalment, payment, closing event): the
    first report wins."""
    if facts.floor is not None and fact <= facts.floor:
        return False  # older than what the bound already dropped
    kind, key = fact[1], fact[2]
    for i, held in enumerate(facts.facts):
        if held[1] == kind and held[2] == key:
            if held <= fact:
                return False
            del facts.facts[i]
            break
    insort(facts.facts, fact)
    _bound(facts)
    return True


def _base(facts: AccountFacts, fact: Fact) -> bool:
    """Keep the first and the last base of each run of consecutive bases (in
    event time) that agree on when the debt fell due: those in between tell
    the ledger nothing the two ends do not."""
    if facts.floor is not None and fact <= facts.floor:
        return False
    bases = [f for f in facts.facts if f[1] == BASE]
    i = bisect_left(bases, fact)
    if i < len(bases) and bases[i] == fact:
        return False
    due = anchor(fact)
    same_before = i > 0 and anchor(bases[i - 1]) == due
    same_after = i < len(bases) and anchor(bases[i]) == due
    if same_before and same_after:
        return False  # inside a run: absorbed
    if same_before and i >= 2 and anchor(bases[i - 2]) == due:
        facts.facts.remove(bases[i - 1])  # no longer the run's last
    if same_after and i + 1 < len(bases) and anchor(bases[i + 1]) == due:
        facts.facts.remove(bases[i])  # no longer the run's first
    insort(facts.facts, fact)
    _bound(facts)
    return True


def _bound(facts: AccountFacts) -> None:
    if len(facts.facts) <= MAX_FACTS:
        return
    oldest = facts.facts.pop(0)
    facts.retired += 1
    if facts.floor is None or oldest > facts.floor:
        facts.floor = oldest


def _promise(facts: AccountFacts, promise_id: str, promise: Promise) -> bool:
    held = facts.promises.get(promise_id)
    if held is not None and held <= promise:
        return False
    if held is None and len(facts.promises) >= MAX_PROMISES:
        oldest = min(facts.promises, key=lambda k: (facts.promises[k].at, k))
        if (promise.at, promise_id) < (facts.promises[oldest].at, oldest):
            return False  # older than every promise held: dropped already, or would be
        del facts.promises[oldest]
        facts.retired += 1
    facts.promises[promise_id] = promise
    return True


def _plan(facts: AccountFacts, plan_id: str, plan: Plan) -> bool:
    held = facts.plans.get(plan_id)
    if held is not None and held <= plan:
        return False
    if held is None and len(facts.plans) >= MAX_PLANS:
        oldest = min(facts.plans, key=lambda k: (facts.plans[k].at, k))
        if (plan.at, plan_id) < (facts.plans[oldest].at, oldest):
            return False  # older than every plan held: dropped already, or would be
        del facts.plans[oldest]
        facts.retired += 1
    facts.plans[plan_id] = plan
    return True


def _record_profile(state: DebtorState, event: DebtorProfile, at: int) -> bool:
    tie = tie64(event.event_id)
    held = state.profile_key()
    if held is not None and held >= (at, tie):
        return False
    f = event.flags
    state.profile = Profile(
        at=at,
        tie=tie,
        language=event.preferred_language,
        time_zone=event.time_zone,
        country=event.country,
        jurisdiction=event.jurisdiction,
        preferred_channel=event.preferred_channel,
        risk_segment=event.risk_segment,
        flags=f.deceased | f.bankruptcy << 1 | f.cease_and_desist << 2 | f.vulnerable << 3,
        points=tuple(
            ContactPoint(
                p.channel,
                p.address,
                p.consent,
                to_ms(p.consent_at) if p.consent_at else None,
                p.valid,
            )
            for p in event.contact_points
        ),
    )
    return True
