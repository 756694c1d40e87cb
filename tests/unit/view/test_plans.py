"""The view folds PAYMENT_PLAN_AGREED: the plan shows on the account like a
promise of its running instalment, and the first instalment missed breaks it
(PROMISE_BROKEN)."""

from __future__ import annotations

import itertools
from datetime import date

from recaudo.contracts.records import DebtEvent, Event, PromiseView
from recaudo.view import DebtorState, snapshot, tick
from recaudo.view.facts import FREQUENCIES, Plan
from recaudo.view.timebase import from_ms, promise_deadline, to_day
from tests.unit.view.builders import DEBTOR, at, day, opened, paid, plan, run, view


def _plan_view(*events: Event) -> PromiseView:
    (p,) = [p for p in view(*events).promises if p.promise_id == "PL-1"]
    return p


def test_an_agreed_plan_shows_its_first_instalment_as_a_pending_promise() -> None:
    p = _plan_view(opened(dpd=40), plan("PL-1", 1, first=5))
    assert (p.status, p.amount_minor, p.promised_date) == ("PENDING", 10_000, day(5))


def test_a_kept_instalment_moves_the_plan_to_the_next_one() -> None:
    p = _plan_view(opened(dpd=40), plan("PL-1", 1, first=5), paid("pay-1", 4), tick_to(7))
    assert (p.status, p.promised_date) == ("PENDING", day(12))


def tick_to(days: float) -> DebtEvent:
    """A payment far in the past that only moves the clock (amount 1 of another account)."""
    return paid("clock", days, amount=1, account="A-CLOCK")


def test_a_missed_instalment_breaks_the_plan_once() -> None:
    events = [
        opened(dpd=40),
        plan("PL-1", 1, first=5),
        paid("pay-1", 4),  # instalment 1 kept
        tick_to(30),  # instalments 2 and 3 passed unpaid
    ]
    state, derived = run(events)
    broken = [e for e in derived if e.type == "PROMISE_BROKEN"]
    assert len(broken) == 1
    payload = broken[0].payload
    assert payload.promise_id == "PL-1#2"  # type: ignore[union-attr]
    assert payload.amount_minor == 10_000  # type: ignore[union-attr]
    assert payload.promised_date == day(12)  # type: ignore[union-attr]
    (p,) = [p for p in snapshot(state, DEBTOR).promises if p.promise_id == "PL-1"]
    assert (p.status, p.promised_date) == ("BROKEN", day(12))


def test_the_broken_instalment_is_found_by_the_clock_alone() -> None:
    state, _ = run([opened(dpd=0), plan("PL-1", 1, first=5)])
    # Nothing overdue ages: the instalment's deadline is the only wake-up.
    assert state.next_wakeup == from_ms(promise_deadline(to_day(day(5))))
    result = tick(state, at(7))
    assert [e.type for e in result.derived] == ["PROMISE_BROKEN"]


def test_paying_early_or_more_counts_towards_later_instalments() -> None:
    p = _plan_view(
        opened(dpd=40), plan("PL-1", 1, first=5), paid("pay-1", 2, amount=20_000), tick_to(13)
    )
    assert (p.status, p.promised_date) == ("PENDING", day(19))


def test_the_last_instalment_is_what_remains_and_a_paid_plan_is_kept() -> None:
    events = [opened(dpd=40), plan("PL-1", 1, first=5, instalment=10_000, total=25_000)]
    events += [paid(f"pay-{k}", 4 + 7 * k, amount=10_000 if k < 2 else 5_000) for k in range(3)]
    state, derived = run([*events, tick_to(40)])
    assert [e for e in derived if e.type == "PROMISE_BROKEN"] == []
    (p,) = [p for p in snapshot(state, DEBTOR).promises if p.promise_id == "PL-1"]
    assert (p.status, p.amount_minor, p.promised_date) == ("KEPT", 5_000, day(19))


def test_arrival_order_does_not_change_the_plan() -> None:
    events = [opened(dpd=40), plan("PL-1", 1, first=5), paid("pay-1", 4), paid("pay-2", 11)]
    views = {
        tuple(
            (p.promise_id, p.status, p.promised_date)
            for p in snapshot(run(order)[0], DEBTOR).promises
        )
        for order in itertools.permutations(events)
    }
    assert len(views) == 1


def test_a_plan_survives_the_state_encoding() -> None:
    state, _ = run([opened(dpd=40), plan("PL-1", 1, first=5, frequency="MONTHLY")])
    decoded = DebtorState.decode(state.encode())
    assert decoded == state
    assert snapshot(decoded, DEBTOR) == snapshot(state, DEBTOR)


def test_a_state_without_plans_encodes_as_before() -> None:
    """No plan, no plan section: states written before plans existed decode unchanged."""
    state, _ = run([opened(dpd=40), paid("pay-1", 1)])
    assert DebtorState.decode(state.encode()).encode() == state.encode()
    assert not any(a.plans for a in state.accounts.values())


def test_monthly_instalments_keep_the_day_or_the_months_last() -> None:
    monthly = FREQUENCIES.index("MONTHLY")
    p = Plan(0, 100, 300, 3, to_day(date(2027, 1, 31)), monthly)
    assert [p.due_day(k) for k in (1, 2, 3)] == [
        to_day(date(2027, 1, 31)),
        to_day(date(2027, 2, 28)),
        to_day(date(2027, 3, 31)),
    ]
