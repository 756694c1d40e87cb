"""What an account's facts add up to, folded in event-time order.

The fold walks the account's facts sorted by ``(at, kind, key)`` (see
:mod:`recaudo.view.facts`) up to the clock, so the result is a function of
the set of facts and the clock, never of arrival order. It keeps a balance
and the overdue amount as *chunks* (the day each fell due, its amount): one
per reported missed instalment, plus at most one *estimated* chunk for
arrears the bank's days past due imply beyond those reported:

* DEBT_OPENED and DAYS_PAST_DUE_UPDATED are *bases*, the bank's own word as
  of their event time: they set the balance (payments before them are taken
  as reflected in them). With 0 days past due they clear every chunk. With
  N > 0 they say the oldest unpaid amount fell due N days before the base's
  day: chunks due earlier move to that day, and the estimated chunk becomes
  what N days imply (one instalment per started 30 days: ``instalment_minor``
  of the opening, else the last INSTALMENT_DUE amount; the whole balance when
  neither is known) less the reported chunks, anchored on that day;
* PAYMENT_MISSED adds a chunk for its instalment, due on its due date
  (idempotent per instalment number);
* PAYMENT_RECEIVED lowers the balance and pays the reported chunks, oldest
  first, then the estimated one. One dated after a base lowers what the base
  said, however late it arrives;
* the overdue amount is the chunks' total, but never more than a known
  balance (a balance paid down to 0 owes nothing overdue);
* DEBT_SETTLED closes the debt with nothing owed, DEBT_WRITTEN_OFF with the
  written-off balance (later payments are recoveries that lower it). A closed
  debt leaves the buckets: 0 days past due, no further bucket events; bases
  and misses after the closing are ignored. A later closing changes the
  status and balance (a settlement of a written-off debt, say).

Each base thus decides everything it implies from itself and the reported
instalments, never from earlier bases: which bases of a run the state keeps
(:mod:`recaudo.view.facts`) cannot change the figures.

Days past due at a time ``t`` are the UTC days from the oldest chunk's day to
``t`` (at least 1 while anything is overdue), so they age with the clock.
Status: SETTLED / WRITTEN_OFF when closed; PAID when a known balance is 0;
OPEN while overdue; CURED when not overdue but overdue once (a missed
instalment or a base with days past due is known); OPEN otherwise. With no
base at all the balance is unknown and shown as the overdue amount (the
least that is owed).

A promise is KEPT when this account's payments dated from the promise's event
time up to the end of its promised date reach its amount; BROKEN once the
clock is past that date (anywhere on Earth: :func:`~recaudo.view.timebase.
promise_deadline`) without that; PENDING before.

A payment plan is a promise in instalments: instalment k is kept when this
account's payments dated from the plan's event time up to the end of its due
date reach what the plan asked for by then (``min(k * instalment, total)``:
payments count towards the plan as a whole, so paying early or more is fine).
The first instalment not kept by its deadline breaks the plan, once
(PROMISE_BROKEN, promise id ``<plan id>#<k>``); later instalments are not
judged. KEPT once the last instalment is; PENDING before, naming the
instalment now running.

The fold also yields the account's *milestones*, the derived events the facts
imply (BUCKET_CHANGED, DEBT_CURED, PROMISE_BROKEN), each with an identity
(:attr:`Milestone.key`) taken from what it is about, not from when or by
which fact it was noticed: an overdue episode is named by the day the oldest
unpaid amount fell due (a missed instalment's due date, or a snapshot's day
minus its days past due: the same day when the bank is consistent), so
"entered 31-60 in the episode due since 25 October" is one milestone whether
aging, the next daily snapshot or a late payment revealed it.
The first fact of an account, when it is a base, sets the starting bucket
silently (an account first seen 45 days past due did not "change" bucket).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from recaudo.contracts.records import AccountStatus, Bucket, PromiseStatus
from recaudo.view.buckets import BUCKETS, LOWEST_DPD, RANK, bucket_for
from recaudo.view.facts import (
    BASE,
    CLOSE,
    MISS,
    PAY,
    SETTLED,
    WRITTEN_OFF,
    AccountFacts,
)
from recaudo.view.timebase import DAY_MS, promise_deadline

MilestoneType = Literal["BUCKET_CHANGED", "DEBT_CURED", "PROMISE_BROKEN"]


class Milestone(NamedTuple):
    at: int
    type: MilestoneType
    #: the overdue episode ("d<day it fell due>") or the promise id
    cause: str
    #: how many times before this the same (type, bucket, cause) happened
    ordinal: int
    from_bucket: Bucket
    to_bucket: Bucket
    days_past_due: int

    @property
    def key(self) -> tuple[str, str, str, int]:
        """Identity: a bucket entered in an episode, an episode cured, a promise."""
        bucket = self.to_bucket if self.type == "BUCKET_CHANGED" else ""
        return (self.type, bucket, self.cause, self.ordinal)


class PlanState(NamedTuple):
    status: PromiseStatus
    #: the instalment running (PENDING), broken (BROKEN) or the last (KEPT)
    instalment: int


@dataclass(frozen=True, slots=True)
class Ledger:
    status: AccountStatus
    balance: int
    overdue: int
    days_past_due: int
    bucket: Bucket
    last_payment_at: int | None
    last_payment_minor: int | None
    promises: dict[str, PromiseStatus]
    plans: dict[str, PlanState]
    milestones: tuple[Milestone, ...]
    #: when time alone next adds a milestone (0: never)
    wake_at: int


def instalment_of(facts: AccountFacts) -> int | None:
    if facts.opening is not None and facts.opening.instalment:
        return facts.opening.instalment
    return facts.due.amount if facts.due is not None else None


class _Chunk:
    """Part of the overdue amount, due since ``anchor`` (a day)."""

    __slots__ = ("amount", "anchor")

    def __init__(self, anchor: int, amount: int) -> None:
        self.anchor = anchor
        self.amount = amount


class _Overdue:
    """Reported chunks (oldest first), the estimated chunk, their total."""

    __slots__ = ("estimate", "reported", "total")

    def __init__(self) -> None:
        self.reported: list[_Chunk] = []
        self.estimate: _Chunk | None = None
        self.total = 0

    def head(self) -> int:
        """The day the oldest unpaid amount fell due (when ``total`` > 0)."""
        if self.estimate is not None and (
            not self.reported or self.estimate.anchor <= self.reported[0].anchor
        ):
            return self.estimate.anchor
        return self.reported[0].anchor

    def clear(self) -> None:
        self.reported.clear()
        self.estimate = None
        self.total = 0

    def add_missed(self, due_day: int, amount: int) -> None:
        chunks = self.reported
        i = len(chunks)
        while i and chunks[i - 1].anchor > due_day:
            i -= 1
        chunks.insert(i, _Chunk(due_day, amount))
        self.total += amount

    def pay(self, amount: int) -> None:
        """Reported instalments first, oldest first, then the estimate: what a
        payment leaves of the reported ones never depends on an estimate."""
        chunks = self.reported
        while amount and chunks:
            head = chunks[0]
            take = min(amount, head.amount)
            head.amount -= take
            amount -= take
            self.total -= take
            if not head.amount:
                chunks.pop(0)
        if amount and self.estimate is not None:
            take = min(amount, self.estimate.amount)
            self.estimate.amount -= take
            self.total -= take
            if not self.estimate.amount:
                self.estimate = None

    def rebase(self, anchor: int, dpd: int, balance: int, instalment: int | None) -> None:
        """A base says the oldest unpaid amount fell due on day ``anchor``:
        the estimate is what that implies beyond the reported instalments."""
        reported = 0
        for chunk in self.reported:
            chunk.anchor = max(chunk.anchor, anchor)
            reported += chunk.amount
        implied = instalment * -(-dpd // 30) if instalment else balance
        beyond = implied - reported
        self.estimate = _Chunk(anchor, beyond) if beyond > 0 else None
        if self.estimate is None and self.reported:
            self.reported[0].anchor = anchor
        self.total = reported + max(beyond, 0)


class _Milestones:
    """The milestones of one fold, numbered per identity as they happen."""

    __slots__ = ("items", "seen")

    def __init__(self) -> None:
        self.items: list[Milestone] = []
        self.seen: dict[tuple[str, str, str], int] = {}

    def add(
        self,
        at: int,
        kind: MilestoneType,
        cause: str,
        before: Bucket,
        after: Bucket,
        dpd: int,
    ) -> None:
        ident = (kind, after if kind == "BUCKET_CHANGED" else "", cause)
        ordinal = self.seen.get(ident, 0)
        self.seen[ident] = ordinal + 1
        self.items.append(Milestone(at, kind, cause, ordinal, before, after, dpd))


def _age(head: int, bucket: Bucket, until: int, out: _Milestones) -> Bucket:
    """Move ``bucket`` up to what the age of the oldest amount (due on day
    ``head``) is at ``until``, one milestone per bucket boundary crossed (at
    the start of that day)."""
    target = bucket_for(max(1, until // DAY_MS - head))
    while RANK[bucket] < RANK[target]:
        nxt = BUCKETS[RANK[bucket] + 1]
        dpd = LOWEST_DPD[nxt]
        out.add((head + dpd) * DAY_MS, "BUCKET_CHANGED", f"d{head}", bucket, nxt, dpd)
        bucket = nxt
    return bucket


def ledger_at(facts: AccountFacts, clock: int) -> Ledger:
    """:func:`fold`, remembered on the facts: the reducer folds an account
    before and after each event and the snapshot folds it again, mostly at
    the same clock over the same facts. Every change to the facts goes
    through ``recaudo.view.reducer._record_debt_event``, which clears
    ``facts.memo``."""
    memo = facts.memo
    if memo is not None and memo[0] == clock:
        return memo[1]
    ledger = fold(facts, clock)
    facts.memo = (clock, ledger)
    return ledger


def fold(facts: AccountFacts, clock: int) -> Ledger:
    instalment = instalment_of(facts)
    overdue = _Overdue()
    balance = 0
    based = False
    closed = 0
    bucket: Bucket = "CURRENT"
    milestones = _Milestones()
    payments: list[tuple[int, int]] = []
    first = True
    owing = False  # anything overdue after the previous fact
    head_cause = ""
    for at, kind, _, a, b in facts.facts:
        if owing:
            bucket = _age(overdue.head(), bucket, at, milestones)
            head_cause = f"d{overdue.head()}"
        before = bucket
        if kind == PAY:
            payments.append((at, a))
            balance = max(0, balance - a)
            overdue.pay(a)
        elif kind == CLOSE:  # leaves the buckets silently: the closing event says it all
            closed = b
            balance = 0 if b == SETTLED else a
            overdue.clear()
            bucket, owing, first = "CURRENT", False, False
            continue
        elif closed:
            pass  # a closed debt takes only payments (recoveries) and closings
        elif kind == BASE:
            balance, based = a, True
            if b == 0:
                overdue.clear()
            else:
                overdue.rebase(at // DAY_MS - b, b, balance, instalment)
        else:  # MISS
            overdue.add_missed(b, a)
        # A balance paid down to 0 has nothing overdue, whatever the chunks say.
        owing = overdue.total > 0 and not (based and balance == 0)
        if owing:
            dpd = max(1, at // DAY_MS - overdue.head())
            after = bucket_for(dpd)
        else:
            dpd, after = 0, "CURRENT"
        if after != bucket and not (first and kind == BASE):
            if owing:
                milestones.add(at, "BUCKET_CHANGED", f"d{overdue.head()}", before, after, dpd)
            else:
                milestones.add(at, "BUCKET_CHANGED", head_cause, before, after, 0)
                milestones.add(at, "DEBT_CURED", head_cause, before, after, 0)
        bucket = after
        first = False

    wake_at = 0
    if owing:
        bucket = _age(overdue.head(), bucket, clock, milestones)
        if bucket != "DPD_90_PLUS":
            nxt = BUCKETS[RANK[bucket] + 1]
            wake_at = (overdue.head() + LOWEST_DPD[nxt]) * DAY_MS

    promises: dict[str, PromiseStatus] = {}
    for promise_id, (promised_at, amount, promised_day) in sorted(facts.promises.items()):
        deadline = promise_deadline(promised_day)
        paid = sum(a for t, a in payments if promised_at <= t < deadline)
        if paid >= amount:
            promises[promise_id] = "KEPT"
        elif clock >= deadline:
            promises[promise_id] = "BROKEN"
            # A promise recorded after its own date breaks when it is known.
            at = max(deadline, promised_at)
            milestones.add(at, "PROMISE_BROKEN", promise_id, "CURRENT", "CURRENT", 0)
        else:
            promises[promise_id] = "PENDING"
            wake_at = deadline if not wake_at else min(wake_at, deadline)

    plans: dict[str, PlanState] = {}
    for plan_id, plan in sorted(facts.plans.items()):
        state = PlanState("KEPT", plan.instalments)
        for k in range(1, plan.instalments + 1):
            deadline = promise_deadline(plan.due_day(k))
            paid = sum(a for t, a in payments if plan.at <= t < deadline)
            if paid >= plan.owed_by(k):
                continue
            if clock >= deadline:
                state = PlanState("BROKEN", k)
                at = max(deadline, plan.at)
                milestones.add(at, "PROMISE_BROKEN", f"{plan_id}#{k}", "CURRENT", "CURRENT", 0)
            else:
                state = PlanState("PENDING", k)
                wake_at = deadline if not wake_at else min(wake_at, deadline)
            break
        plans[plan_id] = state

    status: AccountStatus
    if closed:
        status = "SETTLED" if closed == SETTLED else "WRITTEN_OFF"
        assert closed in (SETTLED, WRITTEN_OFF)
    elif based and balance == 0:
        status = "PAID"
    elif owing:
        status = "OPEN"
    else:
        # Overdue once: a fact of the set, not of the path the fold took.
        was = any(f[1] == MISS or (f[1] == BASE and f[4]) for f in facts.facts)
        status = "CURED" if was else "OPEN"
    dpd = max(1, clock // DAY_MS - overdue.head()) if owing else 0
    owed = min(overdue.total, balance) if based else overdue.total
    last = max(payments) if payments else None
    return Ledger(
        status=status,
        balance=balance if based or closed else overdue.total,
        overdue=owed if owing else 0,
        days_past_due=dpd,
        bucket=bucket_for(dpd),
        last_payment_at=last[0] if last else None,
        last_payment_minor=last[1] if last else None,
        promises=promises,
        plans=plans,
        milestones=tuple(milestones.items),
        wake_at=wake_at,
    )
