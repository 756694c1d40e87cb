"""Milestones of the ledger as the derived debt events the view publishes.

Ids are uuid5 of (debtor, account, type, what caused it) — the milestone's
:attr:`~recaudo.view.ledger.Milestone.key` — so a replay, a redelivery or a
second view worker derives the same ids and downstream de-duplicates them:

* BUCKET_CHANGED: the bucket entered and the overdue episode, named by the
  day its oldest unpaid amount fell due;
* DEBT_CURED: the episode cured;
* PROMISE_BROKEN: the promise id, or ``<plan id>#<instalment>`` for a
  payment plan's first missed instalment;

each with an ordinal, should the same thing happen twice in the account's
history (an episode cured, then overdue again from the same due date).

``source`` is ``recaudo.view``; ``occurred_at`` is when it happened in event
time (a boundary crossed at the start of a day, a promise at its deadline),
not when it was noticed.
"""

from __future__ import annotations

import uuid

from recaudo.contracts.records import BucketChanged, DebtCured, DebtEvent, PromiseBroken
from recaudo.view.facts import AccountFacts, Promise
from recaudo.view.ledger import Milestone
from recaudo.view.timebase import from_day, from_ms

SOURCE = "recaudo.view"
DERIVED_NAMESPACE = uuid.UUID("3b1f7d52-9c0e-4f3a-8d6b-2e5a7c9f1b40")


def derived_id(debtor_id: str, account_id: str, milestone: Milestone) -> uuid.UUID:
    kind, bucket, cause, ordinal = milestone.key
    name = f"{debtor_id}/{account_id}/{kind}/{bucket}/{cause}/{ordinal}"
    return uuid.uuid5(DERIVED_NAMESPACE, name)


def derived_event(
    debtor_id: str, account_id: str, facts: AccountFacts, milestone: Milestone
) -> DebtEvent:
    event_id = derived_id(debtor_id, account_id, milestone)
    occurred_at = from_ms(milestone.at)
    if milestone.type == "BUCKET_CHANGED":
        return DebtEvent(
            event_id=event_id,
            occurred_at=occurred_at,
            source=SOURCE,
            debtor_id=debtor_id,
            account_id=account_id,
            type="BUCKET_CHANGED",
            payload=BucketChanged(
                from_bucket=milestone.from_bucket,
                to_bucket=milestone.to_bucket,
                days_past_due=milestone.days_past_due,
            ),
        )
    if milestone.type == "DEBT_CURED":
        return DebtEvent(
            event_id=event_id,
            occurred_at=occurred_at,
            source=SOURCE,
            debtor_id=debtor_id,
            account_id=account_id,
            type="DEBT_CURED",
            payload=DebtCured(previous_bucket=milestone.from_bucket),
        )
    promise = facts.promises.get(milestone.cause)
    if promise is None:  # a plan's instalment: "<plan id>#<k>"
        plan_id, _, k = milestone.cause.rpartition("#")
        plan = facts.plans[plan_id]
        promise = Promise(plan.at, plan.amount(int(k)), plan.due_day(int(k)))
    return DebtEvent(
        event_id=event_id,
        occurred_at=occurred_at,
        source=SOURCE,
        debtor_id=debtor_id,
        account_id=account_id,
        type="PROMISE_BROKEN",
        payload=PromiseBroken(
            promise_id=milestone.cause,
            amount_minor=promise.amount,
            currency=facts.currency,
            promised_date=from_day(promise.promised_day),
        ),
    )
