"""Whether a trigger still holds when the orchestrator acts on it.

A trigger is a fact about a moment (an instalment falls due, a payment was
missed, an account entered a bucket); the orchestrator acts on it later: when
it reads it (a history load, a backlog) and at each step of its cadence. Each
rule here compares the trigger's event time and facts with the debtor's view
and the injected clock's ``now``, and names why a trigger no longer holds, so
that nobody is contacted about the past. Pure: no Kafka, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from recaudo.contracts.records import AccountView, Bucket, DebtorView, RuleHit
from recaudo.orchestration.strategy import TriggerKind
from recaudo.view.timebase import from_ms, to_ms

STALE_TRIGGER: Final = "STALE_TRIGGER"
#: the instalment a reminder is about has fallen due (debtor's local date)
DUE_DATE_PASSED: Final = RuleHit(
    rule_id="orchestration.stale.due_date_passed", reason_code=STALE_TRIGGER
)
#: a payment of at least the instalment happened on the account (event time)
#: at or after a missed payment or an instalment reminder's trigger
PAID_SINCE: Final = RuleHit(rule_id="orchestration.stale.paid_since", reason_code=STALE_TRIGGER)
#: the debtor promised to pay the account by a date still ahead
PROMISE_PENDING: Final = RuleHit(
    rule_id="orchestration.stale.promise_pending", reason_code=STALE_TRIGGER
)
#: the account is no longer in the bucket the escalation was about
BUCKET_LEFT: Final = RuleHit(rule_id="orchestration.stale.bucket_left", reason_code=STALE_TRIGGER)
#: the trigger happened longer ago than the strategy's ``stale_after`` when read
TOO_OLD: Final = RuleHit(rule_id="orchestration.stale.too_old", reason_code=STALE_TRIGGER)

ARREARS: Final[frozenset[TriggerKind]] = frozenset(
    {"payment_missed", "bucket_changed", "promise_broken"}
)
#: triggers answered by a later payment of their instalment (an escalation
#: or a broken promise is not: arrears remain after a payment)
PAID_BY_ANY_PAYMENT: Final[frozenset[TriggerKind]] = frozenset({"instalment_due", "payment_missed"})
#: triggers that are news only when they are fresh (a reminder is judged by its due date)
AGING: Final[frozenset[TriggerKind]] = ARREARS | {"reply_received"}

#: the facts key holding the trigger's event time (ms), kept with its run
AT_FACT: Final = "trigger_at"
#: the facts key holding the instalment's amount (minor units)
AMOUNT_FACT: Final = "amount_minor"
#: the facts key holding the bucket a bucket_changed trigger entered
BUCKET_FACT: Final = "bucket"


@dataclass(frozen=True, slots=True)
class Trigger:
    """What a run is about: its kind, when it happened (event time) and facts."""

    kind: TriggerKind
    account_id: str
    at_ms: int | None
    facts: dict[str, str]


def local_today(view: DebtorView, now: datetime) -> date:
    """The debtor's calendar date at ``now`` (UTC when no time zone is known)."""
    if view.time_zone:
        try:
            return now.astimezone(ZoneInfo(view.time_zone)).date()
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return now.astimezone(UTC).date()


def stale_on_arrival(
    trigger: Trigger,
    view: DebtorView,
    now: datetime,
    stale_after: timedelta,
    bucket_now: Bucket | None = None,
) -> RuleHit | None:
    """Why ``trigger``, read at ``now``, must not start a contact (None: it may)."""
    if (
        trigger.kind in AGING
        and trigger.at_ms is not None
        and to_ms(now) - trigger.at_ms > stale_after.total_seconds() * 1000
    ):
        return TOO_OLD
    return stale_now(trigger, view, now, bucket_now)


def stale_now(
    trigger: Trigger, view: DebtorView, now: datetime, bucket_now: Bucket | None = None
) -> RuleHit | None:
    """Why ``trigger`` no longer holds in ``view`` at ``now`` (None: it does);
    ``bucket_now`` is the trigger account's bucket at ``now``, when known."""
    account = next((a for a in view.accounts if a.account_id == trigger.account_id), None)
    if trigger.kind == "instalment_due":
        due = trigger.facts.get("due_date")
        if due and date.fromisoformat(due) < local_today(view, now):
            return DUE_DATE_PASSED
    if account is None:
        return None
    if trigger.kind in PAID_BY_ANY_PAYMENT and _paid_since(account, trigger):
        return PAID_SINCE
    if trigger.kind in ARREARS:
        today = local_today(view, now)
        if any(
            p.account_id == trigger.account_id
            and p.status == "PENDING"
            and p.promised_date >= today
            for p in view.promises
        ):
            return PROMISE_PENDING
    entered = trigger.facts.get(BUCKET_FACT)
    if trigger.kind == "bucket_changed" and entered and bucket_now not in (None, entered):
        return BUCKET_LEFT
    return None


def _paid_since(account: AccountView, trigger: Trigger) -> bool:
    """The account's last payment came at or after the trigger and paid at
    least its instalment (a partial payment leaves it overdue: the cadence goes on)."""
    if trigger.at_ms is None or account.last_payment_at is None:
        return False
    if account.last_payment_at < from_ms(trigger.at_ms):
        return False
    amount = trigger.facts.get(AMOUNT_FACT)
    return amount is None or (account.last_payment_minor or 0) >= int(amount)
