"""What a debt's facts add up to: balance, overdue, days past due, status, promises.

Semantics (all by event time, so the order events arrive in never matters):

* the base is the latest days-past-due snapshot (the bank's own figure), else
  the opening; payments dated after the base reduce its balance;
* overdue is what the missed instalments add up to, less the payments dated on
  or after the first missed due date. A debt with a snapshot of positive days
  past due but no missed instalment reported is taken to owe one instalment per
  30 days (capped at the balance) until the bank says otherwise; a snapshot of
  0 days past due newer than every missed instalment means nothing is overdue;
* overdue paid off means cured: 0 days past due. Otherwise days past due is the
  snapshot's figure when the snapshot is newer than every missed instalment,
  else the days from the oldest missed due date to the latest event time seen;
* a balance paid down to 0 is PAID; settled and written-off debts keep that
  status whatever follows;
* a promise is KEPT when payments dated from the promise to the end of its
  promised day reach its amount, BROKEN once the latest event time seen is past
  that day without it, PENDING before.
"""

from __future__ import annotations

from dataclasses import dataclass

from recaudo.events import AccountStatus, Bucket, PromiseStatus
from recaudo.view.buckets import bucket_for
from recaudo.view.state import AccountFacts

DAY_MS = 86_400_000
EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal()


def day_end_ms(ordinal: int) -> int:
    """First millisecond after the UTC day ``ordinal``."""
    return (ordinal - EPOCH_ORDINAL + 1) * DAY_MS


@dataclass(frozen=True, slots=True)
class AccountSummary:
    status: AccountStatus
    balance: int
    overdue: int
    days_past_due: int
    bucket: Bucket
    next_due_day: int | None
    next_due_minor: int | None
    last_payment_at: int | None
    last_payment_minor: int | None
    promises: tuple[tuple[str, PromiseStatus], ...]
    #: when the current overdue episode started (for a stable cure identity)
    episode: int | None


def summarize(facts: AccountFacts, as_of: int) -> AccountSummary:
    opened, snap = facts.opened, facts.snapshot
    if snap is not None and (opened is None or snap[0] >= opened[0]):
        base_at, base_dpd, base_balance = snap[0], snap[1], snap[2]
    elif opened is not None:
        base_at, base_dpd, base_balance = opened[0], opened[4], opened[2]
    else:
        base_at, base_dpd, base_balance = 0, 0, 0

    payments = sorted(facts.payments.values())
    paid_after_base = sum(amount for at, amount in payments if at > base_at)
    balance = max(0, base_balance - paid_after_base)

    misses = sorted(facts.missed.values(), key=lambda m: (m[2], m[0]))
    episode: int | None = None
    if misses:
        first_due_ms = day_end_ms(misses[0][2]) - DAY_MS
        owed = sum(m[1] for m in misses)
        paid = sum(amount for at, amount in payments if at >= first_due_ms)
        overdue = max(0, owed - paid)
        episode = misses[0][0]
    elif base_dpd > 0:
        instalment = opened[5] if opened is not None and opened[5] else base_balance
        owed = min(base_balance, instalment * -(-base_dpd // 30))
        overdue = max(0, owed - paid_after_base)
        episode = base_at
    else:
        overdue = 0
    if snap is not None and snap[1] == 0 and all(m[0] < snap[0] for m in misses):
        overdue = 0  # the bank's newest word is "nothing past due"
    overdue = min(overdue, balance)

    if overdue == 0:
        dpd = 0
    elif misses and (snap is None or snap[0] < max(m[0] for m in misses)):
        # Days from the oldest instalment not yet covered by payments.
        covered = sum(amount for at, amount in payments if at >= day_end_ms(misses[0][2]) - DAY_MS)
        oldest_unpaid = misses[-1][2]
        for _, amount, due_day in misses:
            if covered >= amount:
                covered -= amount
                continue
            oldest_unpaid = due_day
            break
        dpd = max(1, (as_of - (day_end_ms(oldest_unpaid) - DAY_MS)) // DAY_MS)
    else:
        dpd = max(base_dpd, 1)

    status: AccountStatus
    if facts.written_off is not None:
        status = "WRITTEN_OFF"
    elif facts.settled is not None:
        status = "SETTLED"
    elif balance == 0 and (opened is not None or snap is not None):
        status = "PAID"
    elif overdue == 0 and (misses or base_dpd > 0):
        status = "CURED"
    else:
        status = "OPEN"
    if status in ("WRITTEN_OFF", "SETTLED", "PAID"):
        overdue, dpd = 0, 0
        if status != "WRITTEN_OFF":
            balance = 0

    due = facts.due
    if due is not None:
        next_due_day, next_due_minor = due[3], due[2]
    elif opened is not None:
        next_due_day, next_due_minor = opened[6], opened[5]
    else:
        next_due_day, next_due_minor = None, None

    last = max(payments) if payments else None
    promise_states: list[tuple[str, PromiseStatus]] = []
    for promise_id, (at, amount, promised_day) in sorted(facts.promises.items()):
        deadline = day_end_ms(promised_day)
        kept = sum(a for t, a in payments if at <= t < deadline) >= amount
        state: PromiseStatus = "KEPT" if kept else ("BROKEN" if as_of >= deadline else "PENDING")
        promise_states.append((promise_id, state))

    return AccountSummary(
        status=status,
        balance=balance,
        overdue=overdue,
        days_past_due=dpd,
        bucket=bucket_for(dpd),
        next_due_day=next_due_day,
        next_due_minor=next_due_minor,
        last_payment_at=last[0] if last else None,
        last_payment_minor=last[1] if last else None,
        promises=tuple(promise_states),
        episode=episode,
    )
