"""A typical debtor's state fits the 2 KiB budget of the view's store."""

from __future__ import annotations

import random
from datetime import timedelta

from recaudo.contracts.records import DebtorProfile, Event
from recaudo.demo.portfolio import generate
from recaudo.view import DebtorState, apply
from tests.unit.view.builders import (
    decision,
    dpd,
    missed,
    opened,
    paid,
    profile,
    promise,
    response,
    run,
)

BUDGET = 2048


def contacts(debtor: DebtorProfile, rng: random.Random, days: int) -> list[Event]:
    """Dispatches with their outcomes, as the orchestrator and connectors report them."""
    out: list[Event] = []
    channels = [p.channel for p in debtor.contact_points] or ["sms"]
    for n in range(rng.randint(6, 18)):
        channel = rng.choice(channels)
        at = debtor.occurred_at + timedelta(days=rng.uniform(1, days))
        dispatch = f"{debtor.debtor_id}-{n}"
        out.append(
            decision(0, channel, dispatch).model_copy(
                update={"occurred_at": at, "debtor_id": debtor.debtor_id}
            )
        )
        statuses = ["ACCEPTED", "DELIVERED"] + (["READ", "REPLIED"] if rng.random() < 0.2 else [])
        for i, status in enumerate(statuses):
            event = response(
                status, 0, channel, dispatch, text="ok" if status == "REPLIED" else None
            )
            out.append(
                event.model_copy(
                    update={
                        "occurred_at": at + timedelta(minutes=5 * (i + 1)),
                        "debtor_id": debtor.debtor_id,
                    }
                )
            )
    return out


def test_the_debtor_of_the_brief_fits() -> None:
    """3 accounts with a month of daily snapshots, misses, payments and a promise;
    a profile with 3 contact points; 12 dispatches with 3 outcomes each."""
    events: list[Event] = [profile(-1)]
    for account in ("A-1", "A-2", "A-3"):
        events.append(opened(account=account))
        events += [dpd(10 + d, d, account=account) for d in range(30)]
        events += [
            missed(1, 0).model_copy(update={"account_id": account}),
            missed(2, 25).model_copy(update={"account_id": account}),
            paid(f"{account}-p1", 12).model_copy(update={"account_id": account}),
            paid(f"{account}-p2", 27).model_copy(update={"account_id": account}),
            promise(f"{account}-pr1", 13, by=20).model_copy(update={"account_id": account}),
        ]
    for n in range(12):
        channel = ("sms", "email", "voice")[n % 3]
        events.append(decision(n * 2, channel, f"d{n}"))
        events += [
            response(s, n * 2 + 0.01 * (i + 1), channel, f"d{n}")
            for i, s in enumerate(
                ("ACCEPTED", "DELIVERED", "READ" if channel != "voice" else "CALL_ANSWERED")
            )
        ]
    state, _ = run(events)
    size = len(state.encode())
    assert size <= BUDGET, size


def test_a_generated_book_fits() -> None:
    rng = random.Random(3)
    events: list[Event] = list(generate(200, days=30, seed=5))
    events += [e for p in events if isinstance(p, DebtorProfile) for e in contacts(p, rng, 30)]
    events.sort(key=lambda e: e.occurred_at)
    states: dict[str, DebtorState] = {}
    for event in events:
        states[event.debtor_id] = apply(states.get(event.debtor_id), event).state
    sizes = sorted(len(s.encode()) for s in states.values())
    assert sizes[len(sizes) // 2] <= BUDGET // 2, sizes[len(sizes) // 2]  # the median debtor
    assert sizes[-1] <= BUDGET, sizes[-1]  # and every one of the 200
