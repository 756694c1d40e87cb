"""A debtor view brought to a later day, for reading.

The view's days past due are as of its ``occurred_at`` (the time its state
reached: the last event or timer wake-up); a debtor with nothing new for five
days is five days further past due. Readers (``recaudo debtor show`` and
``list``) age each account still owing by the UTC days since then, as the
Postgres views ``debtor_view_today`` and ``debtor_account_today`` do in SQL.
The stored view is not changed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from recaudo.contracts.records import AccountView, DebtorView
from recaudo.view.buckets import bucket_for, worst

OPEN = ("OPEN", "CURED")


def days_since(as_of: datetime, now: datetime) -> int:
    """Whole UTC days from ``as_of`` to ``now`` (0 if ``now`` is not later)."""
    return max(0, (now.astimezone(UTC).date() - as_of.astimezone(UTC).date()).days)


def aged_account(account: AccountView, days: int) -> AccountView:
    """``account`` ``days`` later: days past due grow while something is overdue."""
    if days <= 0 or account.overdue_minor <= 0 or account.status not in OPEN:
        return account
    dpd = account.days_past_due + days
    return account.model_copy(update={"days_past_due": dpd, "bucket": bucket_for(dpd)})


def as_of(view: DebtorView, now: datetime) -> DebtorView:
    """``view`` with its days past due and buckets as of ``now``."""
    days = days_since(view.occurred_at, now)
    if days == 0:
        return view
    accounts = [aged_account(a, days) for a in view.accounts]
    open_accounts = [a for a in accounts if a.status in OPEN]
    return view.model_copy(
        update={
            "accounts": accounts,
            "bucket": worst([a.bucket for a in open_accounts]),
            "max_days_past_due": max((a.days_past_due for a in open_accounts), default=0),
        }
    )
