"""A debtor's state as the published :class:`~recaudo.contracts.records.DebtorView`.

Everything in it is a function of the state: accounts, promises and disputes
sorted by id, channels in :data:`~recaudo.contracts.records.CHANNELS` order. Totals, the
worst bucket and the highest days past due are over open debts (OPEN and
CURED: not paid, settled or written off). The debtor's last payment is the
latest over all accounts. ``occurred_at`` is the latest event time applied,
or, once a tick has moved the state's clock into a later UTC day, the start of
that day: days past due are as of that day (readers age them from it:
:mod:`recaudo.view.today`).

The models are built with pydantic's ``model_construct``: every value comes
from the state, not from outside, so nothing is validated again (tests check
that each snapshot validates as it is).

The snapshot's ``event_id`` is uuid5 of the debtor id, the version and a hash
of the snapshot's content: the same view always publishes the same id (a
replay, another arrival order too), and two different views never share one.
"""

from __future__ import annotations

import hashlib
import uuid

from recaudo.contracts.records import (
    AccountView,
    DebtorFlags,
    DebtorView,
    DisputeView,
    PromiseView,
    Total,
)
from recaudo.view.buckets import worst
from recaudo.view.derived import SOURCE
from recaudo.view.ledger import ledger_at
from recaudo.view.state import DebtorState
from recaudo.view.timebase import DAY_MS, from_day, from_ms

SNAPSHOT_NAMESPACE = uuid.UUID("6a0c2b8e-1d4f-4e9a-b7c3-5f8e2d1a9b60")
_NO_FLAGS = DebtorFlags()


def _as_of(state: DebtorState) -> int:
    """The view's time: its latest event's, or the start of the clock's later day."""
    if state.seen // DAY_MS == state.clock // DAY_MS:
        return state.seen
    return state.clock // DAY_MS * DAY_MS


def snapshot(state: DebtorState, debtor_id: str) -> DebtorView:
    accounts: list[AccountView] = []
    promises: list[PromiseView] = []
    disputes: list[DisputeView] = []
    totals: dict[str, list[int]] = {}
    last_payment: tuple[int, int, str] | None = None
    for account_id in sorted(state.accounts):
        facts = state.accounts[account_id]
        if not facts.currency:
            continue  # known only by a dispute so far: no money to show yet
        ledger = ledger_at(facts, state.clock)
        # Next due: the newer of the opening and the last INSTALMENT_DUE.
        opening = facts.opening
        next_due_day: int | None = None
        next_due_minor: int | None = None
        if facts.due is not None and (
            opening is None or opening.next_due_day is None or facts.due.at >= opening.at
        ):
            next_due_day, next_due_minor = facts.due.due_day, facts.due.amount
        elif opening is not None and opening.next_due_day is not None:
            next_due_day, next_due_minor = opening.next_due_day, opening.instalment
        accounts.append(
            AccountView.model_construct(
                account_id=account_id,
                product=facts.opening.product if facts.opening else None,
                status=ledger.status,
                currency=facts.currency,
                balance_minor=ledger.balance,
                overdue_minor=ledger.overdue,
                days_past_due=ledger.days_past_due,
                bucket=ledger.bucket,
                next_due_date=from_day(next_due_day) if next_due_day is not None else None,
                next_due_minor=next_due_minor,
                last_payment_at=from_ms(ledger.last_payment_at)
                if ledger.last_payment_at is not None
                else None,
                last_payment_minor=ledger.last_payment_minor,
            )
        )
        if ledger.status in ("OPEN", "CURED"):
            total = totals.setdefault(facts.currency, [0, 0])
            total[0] += ledger.balance
            total[1] += ledger.overdue
        if ledger.last_payment_at is not None and ledger.last_payment_minor is not None:
            candidate = (ledger.last_payment_at, ledger.last_payment_minor, facts.currency)
            if last_payment is None or candidate > last_payment:
                last_payment = candidate
        for promise_id, status in ledger.promises.items():
            promise = facts.promises[promise_id]
            promises.append(
                PromiseView.model_construct(
                    promise_id=promise_id,
                    account_id=account_id,
                    amount_minor=promise.amount,
                    currency=facts.currency,
                    promised_date=from_day(promise.promised_day),
                    status=status,
                )
            )
        # A plan shows as a promise of its running (or broken) instalment:
        # what the policy and the orchestrator already honour.
        for plan_id, (status, k) in ledger.plans.items():
            plan = facts.plans[plan_id]
            promises.append(
                PromiseView.model_construct(
                    promise_id=plan_id,
                    account_id=account_id,
                    amount_minor=plan.amount(k),
                    currency=facts.currency,
                    promised_date=from_day(plan.due_day(k)),
                    status=status,
                )
            )
        for dispute_id in sorted(facts.disputes):
            dispute = facts.disputes[dispute_id]
            if dispute.opened_at is None:
                continue  # a resolution whose opening has not arrived yet
            disputes.append(
                DisputeView.model_construct(
                    dispute_id=dispute_id,
                    account_id=account_id,
                    status=dispute.outcome or "OPEN",
                    opened_at=from_ms(dispute.opened_at),
                )
            )

    open_accounts = [a for a in accounts if a.status in ("OPEN", "CURED")]
    p = state.profile
    view = DebtorView.model_construct(
        event_id=SNAPSHOT_NAMESPACE,  # replaced below by the content's id
        occurred_at=from_ms(_as_of(state)),
        source=SOURCE,
        debtor_id=debtor_id,
        version=state.version,
        language=p.language if p else None,
        time_zone=p.time_zone if p else None,
        country=p.country if p else None,
        jurisdiction=p.jurisdiction if p else None,
        risk_segment=p.risk_segment if p else None,
        preferred_channel=p.preferred_channel if p else None,
        flags=DebtorFlags.model_construct(
            deceased=bool(p.flags & 1),
            bankruptcy=bool(p.flags & 2),
            cease_and_desist=bool(p.flags & 4),
            vulnerable=bool(p.flags & 8),
        )
        if p
        else _NO_FLAGS,
        bucket=worst([a.bucket for a in open_accounts]),
        max_days_past_due=max((a.days_past_due for a in open_accounts), default=0),
        totals=[
            Total.model_construct(currency=c, balance_minor=b, overdue_minor=o)
            for c, (b, o) in sorted(totals.items())
        ],
        accounts=accounts,
        promises=promises,
        disputes=disputes,
        channels=state.channel_views(),
        last_payment_at=from_ms(last_payment[0]) if last_payment else None,
        last_payment_minor=last_payment[1] if last_payment else None,
        last_payment_currency=last_payment[2] if last_payment else None,
    )
    # Every list above is built in a fixed order, so the JSON is canonical.
    digest = hashlib.blake2b(view.model_dump_json().encode(), digest_size=16).hexdigest()
    # In place, not model_copy: the view is new and nobody holds it yet.
    view.__dict__["event_id"] = uuid.uuid5(
        SNAPSHOT_NAMESPACE, f"{debtor_id}/{view.version}/{digest}"
    )
    return view
