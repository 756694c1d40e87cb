"""Offers within the bank's bounds, computed from the 360-degree view.

Every figure comes from the account's view (overdue amount, balance,
currency, bucket), from the segment's :class:`~recaudo.orchestration.strategy.
NegotiationBounds`, or from what the debtor said; nothing else. Money is
integer minor units; rounding is stated where it happens:

* a plan pays the overdue amount in ``n`` instalments of ``ceil(total / n)``
  (rounded up to the minor unit), the last one being what remains; ``n`` is
  what the debtor asked for, at most ``max_instalments``, and lowered until
  the first instalment reaches the minimum first payment and the last one is
  above 0; the first falls due a week from today, or at the latest promise
  date when that is sooner;
* a promise pays at least ``min_promise_share`` of the overdue amount
  (rounded up) by at most ``max_promise_days`` from today; a promise outside
  is answered with a counter-offer *at* the bound (the least amount, the
  latest date), never beyond it;
* a settlement (90+ days past due only) pays the balance less at most
  ``max_settlement_discount`` of it (the discount rounded down, so the
  amount is rounded up) by the latest promise date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Literal

from recaudo.contracts.records import AccountView, PaymentPlanAgreed, PlanFrequency, PromiseToPay
from recaudo.orchestration.strategy import WHOLE_BP, NegotiationBounds
from recaudo.understanding.types import Amount

OfferKind = Literal["promise", "plan", "settlement"]
#: a plan's first instalment falls due this long after today (or sooner: the bound)
PLAN_START = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Offer:
    """Terms put to the debtor: a promise (one payment), a plan, a settlement."""

    offer_id: str
    kind: OfferKind
    account_id: str
    currency: str
    #: what it pays in all, minor units
    total_minor: int
    #: the promised date, or the plan's first due date
    due: date
    instalments: int = 1
    instalment_minor: int = 0
    frequency: PlanFrequency = "MONTHLY"
    #: settlement: what the debtor is spared of the balance
    discount_minor: int = 0
    #: UTC milliseconds
    made_at: int = 0
    expires_at: int = 0

    @property
    def last_instalment_minor(self) -> int:
        return self.total_minor - (self.instalments - 1) * self.instalment_minor


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def owed(account: AccountView) -> int:
    """What a promise or plan is about: the overdue amount, else the next
    instalment, else the balance."""
    if account.overdue_minor:
        return account.overdue_minor
    return account.next_due_minor or account.balance_minor


def named_amount(amount: Amount, account: AccountView) -> int | None:
    """The debtor's amount in minor units of the account's currency: exact,
    or a share of what is owed (rounded up); None in another currency."""
    if amount.minor is not None:
        if amount.currency not in (None, account.currency):
            return None
        return amount.minor
    if amount.fraction is not None and 0 < amount.fraction <= 1:
        share = Fraction(amount.fraction).limit_denominator(100)
        return ceil_div(owed(account) * share.numerator, share.denominator)
    return None


def latest_date(bounds: NegotiationBounds, today: date) -> date:
    return today + timedelta(days=bounds.max_promise_days)


def promise_terms(
    account: AccountView,
    bounds: NegotiationBounds,
    today: date,
    amount: int | None,
    when: date,
) -> tuple[int, date, bool]:
    """(amount, date, adjusted): the promise as the debtor put it when within
    the bounds, else moved to the nearest bound (adjusted True). With no
    amount named, what is owed; never more than the balance."""
    base = owed(account)
    least = bounds.min_promise(base)
    wanted = base if amount is None else amount
    ceiling = max(account.balance_minor, base)
    value = min(max(wanted, least), ceiling)
    latest = latest_date(bounds, today)
    day = min(max(when, today), latest)
    return value, day, (value != wanted or day != when)


def plan_terms(
    account: AccountView, bounds: NegotiationBounds, today: date, requested: int | None
) -> tuple[int, int, date] | None:
    """(instalments, instalment amount, first due date) of a plan paying the
    overdue amount, or None when nothing is overdue."""
    total = account.overdue_minor
    if total <= 0:
        return None
    n = max(1, min(requested or bounds.max_instalments, bounds.max_instalments))
    least_first = bounds.min_first_payment(total, account.currency)
    while n > 1 and (ceil_div(total, n) < least_first or ceil_div(total, n) * (n - 1) >= total):
        n -= 1
    first_due = min(today + PLAN_START, latest_date(bounds, today))
    return n, ceil_div(total, n), first_due


def settlement_terms(
    account: AccountView, bounds: NegotiationBounds, today: date
) -> tuple[int, int, date] | None:
    """(amount, discount, pay-by date) settling the balance, 90+ days past due only."""
    if account.bucket != "DPD_90_PLUS" or not bounds.max_settlement_discount_bp:
        return None
    balance = account.balance_minor
    discount = balance * bounds.max_settlement_discount_bp // WHOLE_BP
    if balance <= 0 or discount <= 0:
        return None
    return balance - discount, discount, latest_date(bounds, today)


def within_bounds(
    offer: Offer, account: AccountView, bounds: NegotiationBounds, today: date
) -> bool:
    """Whether ``offer`` keeps to ``bounds`` for ``account`` (checked on every offer made)."""
    latest = latest_date(bounds, today)
    if not today <= offer.due <= latest or offer.currency != account.currency:
        return False
    if offer.kind == "promise":
        return bounds.min_promise(owed(account)) <= offer.total_minor
    if offer.kind == "plan":
        return (
            1 <= offer.instalments <= bounds.max_instalments
            and offer.total_minor == account.overdue_minor
            and offer.instalment_minor
            >= bounds.min_first_payment(offer.total_minor, offer.currency)
            and 0 < offer.last_instalment_minor <= offer.instalment_minor
        )
    return (
        account.bucket == "DPD_90_PLUS"
        and offer.total_minor + offer.discount_minor == account.balance_minor
        and offer.discount_minor * WHOLE_BP
        <= account.balance_minor * bounds.max_settlement_discount_bp
    )


AgreementKind = Literal["PROMISE_TO_PAY", "PAYMENT_PLAN_AGREED"]


def agreement(
    offer: Offer, channel: str, dispatch_id: str | None, conversation_id: str | None = None
) -> tuple[AgreementKind, PromiseToPay | PaymentPlanAgreed]:
    """The debt event type and payload that accepting ``offer`` is, wherever it
    was accepted (a conversation, the portal, the desk)."""
    if offer.kind == "plan":
        return "PAYMENT_PLAN_AGREED", PaymentPlanAgreed(
            plan_id=offer.offer_id,
            instalment_count=offer.instalments,
            instalment_minor=offer.instalment_minor,
            currency=offer.currency,
            first_due_date=offer.due,
            frequency=offer.frequency,
            total_minor=offer.total_minor,
            channel=channel,
            conversation_id=conversation_id,
            dispatch_id=dispatch_id,
        )
    return "PROMISE_TO_PAY", PromiseToPay(
        promise_id=offer.offer_id,
        amount_minor=offer.total_minor,
        currency=offer.currency,
        promised_date=offer.due,
        channel=channel,
    )
