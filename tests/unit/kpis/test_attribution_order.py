"""A contact is credited only with outcomes that happened after it (event
time), whatever order the events arrive in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.kpis import DebtorKpiState, observe
from tests.fixtures import T0, debt_event
from tests.unit.kpis.test_attribution import decision, opened


def payment(minutes: int, pid: str = "x") -> Any:
    return debt_event(
        type="PAYMENT_RECEIVED",
        occurred_at=T0 + timedelta(minutes=minutes),
        payload={"payment_id": pid, "amount_minor": 100, "currency": "COP"},
    )


def promise(minutes: int, pid: str = "p") -> Any:
    return debt_event(
        type="PROMISE_TO_PAY",
        occurred_at=T0 + timedelta(minutes=minutes),
        payload={
            "promise_id": pid,
            "amount_minor": 100,
            "currency": "COP",
            "promised_date": "2026-12-30",
        },
    )


def cure(minutes: int, _id: str = "") -> Any:
    return debt_event(
        type="DEBT_CURED",
        occurred_at=T0 + timedelta(minutes=minutes),
        payload={"previous_bucket": "DPD_1_30"},
    )


def contact(minutes: int, n: int) -> Any:
    return decision(occurred_at=T0 + timedelta(minutes=minutes), dispatch_id=f"d{n}", arm=f"A{n}")


def test_a_payment_dated_before_the_contact_is_not_credited_to_it() -> None:
    state = DebtorKpiState()
    observe(state, opened(20))
    observe(state, contact(60, 1))
    (paid,) = observe(state, payment(10))  # history, read after the contact
    assert paid.touch.channel is None and paid.touch.arm is None
    (later,) = observe(state, payment(90, "y"))
    assert later.touch.arm == "s/A1"


def test_a_cure_before_the_contacts_counts_none_of_them() -> None:
    state = DebtorKpiState()
    observe(state, opened(20))
    observe(state, contact(60, 1))
    observe(state, contact(70, 2))
    (cured,) = observe(state, cure(30))
    c = cured.counters
    assert (c.cures, c.contacted_cures, c.contacts_to_cure) == (1, 0, 0)
    # The contacts after the cure are the next episode's.
    (again,) = observe(state, cure(80))
    assert (again.counters.contacted_cures, again.counters.contacts_to_cure) == (1, 2)


def test_a_state_written_before_touches_had_times_still_reads() -> None:
    old = orjson.dumps(
        {"b": {}, "t": ["sms", "DPD_1_30", "s/A"], "n": 1, "d": {}, "p": {}, "e": []}
    )
    state = DebtorKpiState.decode(old)
    assert state.last_touch is not None and state.last_touch.arm == "s/A"
    assert DebtorKpiState.decode(state.encode()).touches == state.touches


OUTCOMES = {"payment": payment, "promise": promise, "cure": cure}


@settings(max_examples=200, deadline=None)
@given(
    contacts=st.lists(st.integers(min_value=0, max_value=500), min_size=0, max_size=6),
    outcomes=st.lists(
        st.tuples(st.sampled_from(sorted(OUTCOMES)), st.integers(min_value=0, max_value=500)),
        min_size=1,
        max_size=6,
    ),
    order=st.randoms(use_true_random=False),
)
def test_no_outcome_is_credited_to_a_contact_after_it_whatever_the_arrival_order(
    contacts: list[int], outcomes: list[tuple[str, int]], order: Any
) -> None:
    events: list[tuple[str, int, Any]] = [
        ("contact", minutes, contact(minutes, n)) for n, minutes in enumerate(contacts)
    ]
    events += [
        (kind, minutes, OUTCOMES[kind](minutes, f"{kind}{i}"))
        for i, (kind, minutes) in enumerate(outcomes)
    ]
    order.shuffle(events)
    state = DebtorKpiState()
    observe(state, opened(20))
    seen: dict[str, int] = {}  # arm -> contact time, of the contacts read so far
    for kind, minutes, event in events:
        found = observe(state, event)
        if kind == "contact":
            seen[f"s/{event.arm}"] = minutes
            continue
        for a in found:
            if a.touch.arm is None:
                continue
            # Credited to a contact read so far, at or before the outcome, and
            # the latest such (a kept promise: the contact before the promise).
            assert seen[a.touch.arm] <= minutes
            if not a.counters.promises_kept:
                assert seen[a.touch.arm] == max(t for t in seen.values() if t <= minutes)
        if kind != "cure":
            continue
        (cured,) = found
        if not any(t <= minutes for t in seen.values()):
            assert cured.counters.contacted_cures == 0
