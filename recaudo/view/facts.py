"""The facts behind the 360-degree view of a debtor: what is kept, and how.

Every input is kept as the fact it states, under the key that makes it unique:

* account facts in one list sorted by event time, ``(at, kind, key, a, b)``:
  *bases* (what DEBT_OPENED and DAYS_PAST_DUE_UPDATED say about balance and
  days past due at their time, see "base runs" below); a missed payment
  under its instalment number; a payment under its ``payment_id``; each
  closing (settled / written off) under its event. Two reports of one key
  keep the smaller tuple, so which one wins never depends on arrival. Facts
  are only ever added (or absorbed into a run): a later fact never erases
  the history an earlier one made, which is what keeps derived events stable;
* what an opening says beyond the ledger (product, principal, instalment,
  next due date), the newest by (event time, event id);
* promises under ``promise_id``, payment plans under ``plan_id`` (both: the
  first report wins), disputes under ``dispute_id`` (earliest
  opening, latest resolution), the next instalment due as the newest report;
* the profile, newest by event time;
* per channel, one record per dispatch (``dispatch_id``, or the event id of an
  inbound message that has none) holding a bit per outcome seen, plus the
  latest time of each kind of outcome (max is order-free).

Applying an event twice therefore changes nothing, and since the view and the
derived events are computed from the facts sorted by event time (see
:mod:`recaudo.view.ledger`), the order events arrive in does not matter either.
No ring of recent event ids is kept: every fact already carries its own
identity, which also catches a duplicate older than any ring would reach, and
a ring would cost 8 bytes per event of state.

Base runs: banks send days past due daily. Consecutive bases (in event time)
that agree on when the debt fell due (their day minus their days past due, or
"not overdue") form a run, of which only the first and the last are kept: the
ones between tell the ledger nothing the ends do not. A year of daily
snapshots of a steadily aging debt is two facts. Which bases are kept is a
function of the set of bases when each account's bases arrive in event-time
order (a bank's feed). A base that arrives after bases on both sides of it
have been folded into one run splits that run without the bases dropped from
it, so the kept set (and the encoded bytes) can then differ, and a
redelivered dropped base can restore a run end; the view cannot differ: the
run's ends are kept either way, and every balance, clearing and re-anchoring
that reaches the final figures passes through them.

Bounds (per account: :data:`MAX_FACTS` ledger facts, :data:`MAX_PROMISES`,
:data:`MAX_PLANS`,
:data:`MAX_DISPUTES`; per channel :data:`MAX_RECORDS` dispatches) keep the
newest facts by event time; a typical debtor is far within them (48 ledger
facts is years of monthly instalments). Everything above holds exactly while
a debtor is within them. Past them the oldest are dropped (a dropped dispatch
still counts in ``folded``), and a fact older than what was dropped is
ignored as already folded (an account's ``floor`` is the newest fact dropped;
a channel ignores an unknown dispatch older than every one it holds): a
redelivered dropped fact never counts twice, at the price of also ignoring a
genuinely new fact that old. What the bounds cannot remember is what a
dropped fact had absorbed: a second report of a payment that lost to the
dropped first report, or a snapshot inside a run whose first end was
dropped, can be admitted once more if redelivered.

Times are integer milliseconds, days integer days since the epoch
(:mod:`recaudo.view.timebase`); 0 stands for "never" in the channel times.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, NamedTuple

from recaudo.contracts.records import Channel, DisputeOutcome
from recaudo.view.timebase import DAY_MS, from_day, to_day

if TYPE_CHECKING:
    from recaudo.view.ledger import Ledger

#: (at, kind, key, a, b): the meaning of key, a and b depends on kind.
Fact = tuple[int, int, int, int, int]

# Kinds, in the order facts of one millisecond apply. key/a/b per kind:
BASE: Final = 0  # key=tie, a=balance, b=days past due
MISS: Final = 1  # key=instalment number, a=amount, b=due day
PAY: Final = 2  # key=key64(payment_id), a=amount
CLOSE: Final = 3  # key=tie, a=balance left, b=SETTLED|WRITTEN_OFF
SETTLED: Final = 1
WRITTEN_OFF: Final = 2

MAX_FACTS: Final = 48
MAX_PROMISES: Final = 12
MAX_PLANS: Final = 4
#: PaymentPlanAgreed.frequency, by its code in :class:`Plan`
FREQUENCIES: Final = ("WEEKLY", "FORTNIGHTLY", "MONTHLY")
MAX_DISPUTES: Final = 8
MAX_RECORDS: Final = 40


def anchor(base: Fact) -> int | None:
    """The day a base says the debt fell due (its day minus its days past
    due), None for "not overdue"."""
    return base[0] // DAY_MS - base[4] if base[4] else None


class Opening(NamedTuple):
    """What the newest DEBT_OPENED says beyond its base."""

    at: int
    tie: int
    product: str
    principal: int
    instalment: int | None
    next_due_day: int | None


class Due(NamedTuple):
    """The newest INSTALMENT_DUE."""

    at: int
    tie: int
    number: int
    amount: int
    due_day: int


class Promise(NamedTuple):
    at: int
    amount: int
    promised_day: int


class Plan(NamedTuple):
    """A payment plan: instalment k (from 1) falls due on :meth:`due_day` and
    is kept when the payments since ``at`` reach :meth:`owed_by` k."""

    at: int
    instalment: int
    total: int
    instalments: int
    first_day: int
    #: index in :data:`FREQUENCIES`
    frequency: int

    def due_day(self, k: int) -> int:
        if FREQUENCIES[self.frequency] == "WEEKLY":
            return self.first_day + 7 * (k - 1)
        if FREQUENCIES[self.frequency] == "FORTNIGHTLY":
            return self.first_day + 14 * (k - 1)
        first = from_day(self.first_day)
        months = first.month - 1 + k - 1
        year, month = first.year + months // 12, months % 12 + 1
        day = min(first.day, calendar.monthrange(year, month)[1])
        return to_day(first.replace(year=year, month=month, day=day))

    def owed_by(self, k: int) -> int:
        """What the plan has asked for by its k-th instalment, in all."""
        return min(k * self.instalment, self.total)

    def amount(self, k: int) -> int:
        """The k-th instalment alone (the last one is what remains)."""
        return self.owed_by(k) - self.owed_by(k - 1)


class Dispute(NamedTuple):
    opened_at: int | None
    resolved_at: int | None
    outcome: DisputeOutcome | None


class ContactPoint(NamedTuple):
    channel: Channel
    address: str
    consent: bool
    consent_at: int | None
    valid: bool


class Profile(NamedTuple):
    at: int
    tie: int
    language: str
    time_zone: str
    country: str
    jurisdiction: str
    preferred_channel: Channel | None
    risk_segment: str | None
    #: deceased, bankruptcy, cease_and_desist, vulnerable as bits 0-3
    flags: int
    points: tuple[ContactPoint, ...]


@dataclass(slots=True)
class AccountFacts:
    #: the opening's currency; before an opening, the smallest code reported
    #: (one currency per debt: a disagreeing feed must not make it arrival-dependent)
    currency: str = ""
    opening: Opening | None = None
    due: Due | None = None
    facts: list[Fact] = field(default_factory=list)
    promises: dict[str, Promise] = field(default_factory=dict)
    disputes: dict[str, Dispute] = field(default_factory=dict)
    #: the newest fact dropped by the bound; facts at or below it are ignored
    floor: Fact | None = None
    #: facts dropped by the bounds (keeps ``version`` from ever decreasing)
    retired: int = 0
    #: when time alone next changes a derived event (0: never); cached from
    #: the ledger so a later event need not re-fold accounts time cannot change
    wake_at: int = 0
    #: the last fold, (clock, ledger), while the facts stay as they were
    #: (:func:`~recaudo.view.ledger.ledger_at`): not encoded, not compared
    memo: tuple[int, Ledger] | None = field(default=None, compare=False, repr=False)
    plans: dict[str, Plan] = field(default_factory=dict)

    def copy(self) -> AccountFacts:
        """A copy sharing the immutable facts (tuples), for the before/after
        comparison that derives events."""
        return AccountFacts(
            self.currency,
            self.opening,
            self.due,
            list(self.facts),
            dict(self.promises),
            dict(self.disputes),
            self.floor,
            self.retired,
            self.wake_at,
            self.memo,
            dict(self.plans),
        )

    def fact_count(self) -> int:
        """Facts known, the bases counting once per day they say the debt fell
        due (or "not overdue"). Which bases are kept, and so how many runs
        they form, can depend on arrival order (a base landing inside a run
        splits it without the bases the run had dropped); which of those days
        they name cannot: a base is only ever dropped beside one naming the
        same day."""
        bases = [f for f in self.facts if f[1] == BASE]
        ledger = len(self.facts) - len(bases)
        runs = len({anchor(f) for f in bases})
        resolved = sum(
            (d.opened_at is not None) + (d.resolved_at is not None) for d in self.disputes.values()
        )
        due = 1 if self.due is not None else 0
        plans = len(self.plans)
        return ledger + runs + len(self.promises) + plans + resolved + due + self.retired


@dataclass(slots=True)
class ChannelFacts:
    #: dispatch key -> (earliest event time, bits of the outcomes seen)
    records: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: dispatch key -> earliest reply time (engagement by hour of day)
    replies: dict[int, int] = field(default_factory=dict)
    last_attempt: int = 0
    last_contact: int = 0
    last_response: int = 0
    invalid_at: int = 0
    opted_out_at: int = 0
    #: per counter of :data:`recaudo.view.contacts.COUNTERS`, dropped records
    folded: tuple[int, ...] = ()
    #: outcomes (bits) and replies of the dropped records, for ``version``
    retired: int = 0

    def fact_count(self) -> int:
        bits = sum(bin(b).count("1") for _, b in self.records.values())
        return bits + len(self.replies) + self.retired
