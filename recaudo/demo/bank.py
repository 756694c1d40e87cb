"""The bank side of the demo: a book of debts that moves day by day and answers contacts.

A demo whose payments were all decided up front could not show collections
working: nobody would pay *because* they were contacted. So the demo's bank is
a small simulation of its own, fed back by the pipeline:

* every simulated day, in its 06:00 UTC batch, it reports what its core
  system would (instalments falling due three days ahead, payments received
  or missed on the due date, the odd dispute; weekly, a days-past-due
  snapshot of every overdue account), and a few overdue debtors pay on
  their own;
* when a contact reaches the right party (a reply, a call answered by the
  debtor), the debtor may pay, promise to pay (and then keep the promise or
  not) or ask for a plan, in proportion to their propensity to pay and
  following what their reply said;
* with conversations on, a written reply is the pipeline's to answer: the
  bank makes no promise of its own for it, and instead pays (or not) the
  promises and plan instalments the conversation agreed
  (:meth:`Bank.on_agreement`).

Pure: it returns events and never talks to Kafka. It is a discrete-event
simulation in event time: :meth:`Bank.advance` carries out, in time order,
everything that happens up to a given instant (daily batches, payments
scheduled by earlier contacts), so what it reports is always consistent with
the dates on its events: a snapshot never says "current" before the payment
that made it so. Each reaction draws from a random stream seeded by the
contact it answers, so the same contact gets the same answer in every run,
whatever order the responses arrive in.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from connectors.simulator_replies import simulated_intent
from recaudo.contracts.records import (
    ChannelResponse,
    DebtEvent,
    DebtorProfile,
    PaymentPlanAgreed,
    PromiseToPay,
)
from recaudo.demo.portfolio import (
    AccountTerms,
    Debtor,
    accounts_of,
    debtors,
    event_id,
    opening_payload,
    profile_of,
)

#: What the simulated debtor meant (:func:`simulated_intent`) → how the bank acts on it.
INTENTS: dict[str, str] = {
    "already_paid": "paid",
    "pay_now": "paid",
    "promise_to_pay": "promise",
    "ask_plan": "plan",
    "cannot_pay_full": "cant_pay",
    "hardship": "cant_pay",
    "opt_out": "stop",
}

#: Days ahead of its due date that the bank announces an instalment.
NOTICE_DAYS = 3
#: Daily chance that an overdue debtor pays without being contacted, times
#: their propensity to pay.
SELF_CURE = 0.01
#: Daily chance of a dispute on an overdue account.
DISPUTE = 0.001
#: Chance that a promise made in a reply is kept, times twice the propensity to pay (capped).
PROMISE_KEPT = 0.45


#: The source of what a conversation agreed (``recaudo.conversation``'s events).
CONVERSATION_SOURCE = "recaudo.conversation"
#: Plan instalments a demo debtor pays at most (the month is short).
PLAN_INSTALMENTS_PAID = 3

#: When the core system's daily batch lands (UTC).
BATCH_AT = time(6, 0)


@dataclass(slots=True)
class Account:
    """What the bank's core system knows of one account, as of its last event."""

    terms: AccountTerms
    balance: int
    dpd: int
    instalment_no: int
    #: An account paid current reports 0 days past due in the next batch.
    report_cure: bool = False
    #: A promise is open until this instant: no second one meanwhile.
    promise_until: datetime | None = None

    @property
    def account_id(self) -> str:
        return self.terms.account_id

    @property
    def overdue(self) -> int:
        """What brings the account current: one instalment per started 30 days."""
        if self.dpd <= 0:
            return 0
        return min(self.balance, self.terms.instalment_minor * math.ceil(self.dpd / 30))


def intent_of(response: ChannelResponse) -> str | None:
    """What a right-party contact meant: ``paid``, ``promise``, ``plan``,
    ``cant_pay``, ``stop`` or ``other``; None when it is not a conversation."""
    if response.status == "CALL_RIGHT_PARTY":
        return "promise"
    if response.status != "REPLIED" or not response.text:
        return None
    return INTENTS.get(simulated_intent(response.text) or "", "other")


Action = Callable[[datetime], Iterable[DebtEvent]]


class Bank:
    """``n_debtors`` debtors' accounts over ``days`` days from ``start``."""

    def __init__(
        self,
        n_debtors: int,
        start: datetime,
        days: int = 30,
        seed: int = 7,
        conversations: bool = False,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("the bank's start must be timezone-aware")
        self.start = start
        #: written replies are answered by the pipeline's conversation
        self.conversations = conversations
        self.days = days
        self.seed = seed
        self._rng = random.Random(seed + 1)
        self.debtors: dict[str, Debtor] = {d.debtor_id: d for d in debtors(n_debtors, seed)}
        self.accounts: dict[str, list[Account]] = {
            debtor_id: [
                Account(t, t.balance_minor, t.days_past_due, t.next_instalment)
                for t in accounts_of(debtor, self._rng, start)
            ]
            for debtor_id, debtor in self.debtors.items()
        }
        self._agenda: list[tuple[datetime, int, Action]] = []
        self._seq = itertools.count()
        first = datetime.combine(start.date(), BATCH_AT, start.tzinfo)
        for n in range(days):
            self._schedule(first + timedelta(days=n), self._batch)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    def opening(self) -> list[DebtorProfile | DebtEvent]:
        """Profiles, then every account's opening and its days past due at the start."""
        out: list[DebtorProfile | DebtEvent] = [
            profile_of(d, self._rng, self.start - timedelta(days=1)) for d in self.debtors.values()
        ]
        for accounts in self.accounts.values():
            for acc in accounts:
                opened = opening_payload(acc.terms, self.start)
                out.append(self._event(acc, "opened", "DEBT_OPENED", acc.terms.opened, opened))
                if acc.dpd:
                    out.append(self._snapshot(acc, self.start, "start"))
        return out

    def advance(self, until: datetime) -> list[DebtEvent]:
        """Everything that happens up to ``until``, in time order."""
        out: list[DebtEvent] = []
        while self._agenda and self._agenda[0][0] <= until:
            at, _, action = heapq.heappop(self._agenda)
            out.extend(action(at))
        return out

    def _schedule(self, at: datetime, action: Action) -> None:
        heapq.heappush(self._agenda, (at, next(self._seq), action))

    # --- the daily batch --------------------------------------------------------------

    def _batch(self, at: datetime) -> Iterable[DebtEvent]:
        for debtor_id, accounts in self.accounts.items():
            propensity = self.debtors[debtor_id].persona["propensity_to_pay"]
            for acc in accounts:
                yield from self._account_day(acc, at, propensity)

    def _account_day(self, acc: Account, at: datetime, propensity: float) -> Iterable[DebtEvent]:
        rng = self._rng
        terms = acc.terms
        today = at.date()
        tag = today.isoformat()
        ahead = today + timedelta(days=NOTICE_DAYS)
        if ahead.day == terms.due_day:
            yield self._event(
                acc,
                f"due-{acc.instalment_no}",
                "INSTALMENT_DUE",
                at,
                {
                    "instalment_number": acc.instalment_no,
                    "amount_minor": terms.instalment_minor,
                    "currency": terms.currency,
                    "due_date": ahead,
                },
            )
        if today.day == terms.due_day:
            number = acc.instalment_no
            acc.instalment_no += 1
            if acc.dpd == 0 and terms.payer and rng.random() < 0.8:
                yield self._payment(acc, at, terms.instalment_minor, f"P{number}")
                return
            acc.dpd = max(acc.dpd, 1)
            yield self._event(
                acc,
                f"missed-{number}",
                "PAYMENT_MISSED",
                at,
                {
                    "instalment_number": number,
                    "amount_minor": terms.instalment_minor,
                    "currency": terms.currency,
                    "due_date": today,
                },
            )
        if acc.report_cure:
            acc.report_cure = False
            yield self._snapshot(acc, at, tag)
        elif acc.dpd:
            acc.dpd += 1
            # Weekly, on a weekday of the account's own: the view ages days past
            # due with the clock in between, and a daily file for every overdue
            # account would be most of the demo's traffic for no new fact.
            if today.weekday() == terms.due_day % 7:
                yield self._snapshot(acc, at, tag)
            roll = rng.random()
            if roll < SELF_CURE * propensity:
                self._schedule(at + timedelta(hours=rng.uniform(1, 16)), self._pay(acc, f"S{tag}"))
            elif roll > 1 - DISPUTE:
                yield self._event(
                    acc,
                    f"dispute-{tag}",
                    "DISPUTE_OPENED",
                    at,
                    {"dispute_id": f"{acc.account_id}-DS{tag}", "reason": "amount not recognised"},
                )

    # --- what a contact causes --------------------------------------------------------

    def on_contact(self, response: ChannelResponse) -> list[DebtEvent]:
        """The debtor's answer to a right-party contact.

        Returns what happens at once (a promise to pay); a payment it leads to
        is scheduled and comes out of :meth:`advance` on its date.
        """
        intent = intent_of(response)
        accounts = self.accounts.get(response.debtor_id)
        if intent not in ("paid", "promise", "plan") or not accounts:
            return []
        acc = max(accounts, key=lambda a: a.dpd)
        at = response.occurred_at
        if acc.dpd == 0 or (acc.promise_until is not None and acc.promise_until >= at):
            return []
        if self.conversations and response.status == "REPLIED" and intent != "paid":
            return []  # the conversation negotiates; on_agreement pays what it agreed
        rng = random.Random(f"{self.seed}/{response.event_id}")
        propensity = self.debtors[response.debtor_id].persona["propensity_to_pay"]
        key = str(response.event_id)[:8]
        if intent == "paid":
            if rng.random() < 0.5 + propensity / 2:
                self._schedule(
                    at + timedelta(hours=rng.uniform(0.5, 20)), self._pay(acc, f"R{key}")
                )
            return []
        days = rng.randint(2, 7)
        acc.promise_until = at + timedelta(days=days)
        amount = acc.overdue if intent == "promise" else max(1, acc.overdue // 2)
        promise = self._event(
            acc,
            f"promise-{key}",
            "PROMISE_TO_PAY",
            at + timedelta(minutes=5),
            {
                "promise_id": f"{acc.account_id}-PR{key}",
                "amount_minor": amount,
                "currency": acc.terms.currency,
                "promised_date": acc.promise_until.date(),
            },
        )
        if rng.random() < min(0.95, PROMISE_KEPT * 2 * propensity):
            paid_at = at + timedelta(days=rng.uniform(0.5, days))
            self._schedule(paid_at, self._pay(acc, f"K{key}", amount))
        return [promise]

    def on_agreement(self, event: DebtEvent) -> None:
        """A promise or a payment plan the conversation agreed: the debtor pays
        it on time, or not, in proportion to their propensity to pay (a plan
        instalment by instalment, up to :data:`PLAN_INSTALMENTS_PAID`)."""
        if event.source != CONVERSATION_SOURCE:
            return
        accounts = self.accounts.get(event.debtor_id, [])
        acc = next((a for a in accounts if a.account_id == event.account_id), None)
        payload = event.payload
        if acc is None or not isinstance(payload, PromiseToPay | PaymentPlanAgreed):
            return
        rng = random.Random(f"{self.seed}/{event.event_id}")
        propensity = self.debtors[event.debtor_id].persona["propensity_to_pay"]
        keeps = min(0.95, PROMISE_KEPT * 2 * propensity)
        at = event.occurred_at
        key = str(event.event_id)[:8]
        if isinstance(payload, PromiseToPay):
            due = datetime.combine(payload.promised_date, BATCH_AT, at.tzinfo)
            acc.promise_until = max(due, acc.promise_until or due)
            if rng.random() < keeps:
                paid_at = at + (max(due, at) - at) * rng.uniform(0.2, 1.0)
                self._schedule(paid_at, self._pay(acc, f"C{key}", payload.amount_minor))
            return
        step = {"WEEKLY": 7, "FORTNIGHTLY": 14}.get(payload.frequency, 30)
        paid = 0
        for k in range(min(payload.instalment_count, PLAN_INSTALMENTS_PAID)):
            if rng.random() >= keeps:
                break  # a missed instalment breaks the plan: no more are paid
            due_day = payload.first_due_date + timedelta(days=step * k)
            amount = min(payload.instalment_minor, payload.total_minor - paid)
            paid += amount
            paid_at = datetime.combine(due_day, BATCH_AT, at.tzinfo) - timedelta(
                hours=rng.uniform(1, 30)
            )
            self._schedule(max(paid_at, at), self._pay(acc, f"C{key}-{k}", amount))
        acc.promise_until = datetime.combine(payload.first_due_date, BATCH_AT, at.tzinfo)

    # --- events -----------------------------------------------------------------------

    def _pay(self, acc: Account, tag: str, amount: int | None = None) -> Action:
        """A payment on its date: ``amount``, or what is overdue by then (none
        when nothing is: the debtor paid meanwhile)."""

        def pay(at: datetime) -> Iterable[DebtEvent]:
            due = acc.overdue if amount is None else amount
            if due and acc.balance:
                yield self._payment(acc, at, due, tag)

        return pay

    def _payment(self, acc: Account, at: datetime, amount: int, tag: str) -> DebtEvent:
        """Received at ``at``; the account is current once it covers what is overdue."""
        amount = max(1, min(amount, acc.balance) if acc.balance else amount)
        if acc.dpd and amount >= acc.overdue:
            acc.dpd = 0
            acc.report_cure = True
        acc.balance = max(0, acc.balance - amount)
        return self._event(
            acc,
            f"payment-{tag}",
            "PAYMENT_RECEIVED",
            at,
            {
                "payment_id": f"{acc.account_id}-{tag}",
                "amount_minor": amount,
                "currency": acc.terms.currency,
                "method": "transfer",
            },
        )

    def _snapshot(self, acc: Account, at: datetime, tag: str) -> DebtEvent:
        payload = {
            "days_past_due": acc.dpd,
            "balance_minor": acc.balance,
            "currency": acc.terms.currency,
        }
        return self._event(acc, f"dpd-{tag}", "DAYS_PAST_DUE_UPDATED", at, payload)

    def _event(
        self, acc: Account, tag: str, type_: str, at: datetime, payload: dict[str, Any]
    ) -> DebtEvent:
        return DebtEvent(
            event_id=event_id(acc.account_id, tag),
            occurred_at=at,
            source="core-banking",
            debtor_id=acc.terms.debtor.debtor_id,
            account_id=acc.account_id,
            type=type_,
            payload=payload,
        )
