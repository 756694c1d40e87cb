"""Days past due read as of a later day (:mod:`recaudo.view.today`): the same
figure however the view got there, by events alone or by a timer's tick."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.view import snapshot, tick
from recaudo.view.buckets import bucket_for
from recaudo.view.today import as_of
from tests.unit.view.builders import DEBTOR, at, missed, opened, paid, run


def test_a_view_five_days_old_is_five_days_further_past_due() -> None:
    state, _ = run([opened(-30), missed(1, 0, when=1)])
    view = snapshot(state, DEBTOR)
    assert view.max_days_past_due == 1  # as of day 1
    later = as_of(view, at(6))
    assert later.max_days_past_due == 6 and later.accounts[0].days_past_due == 6
    assert later.bucket == "DPD_1_30" and later.occurred_at == view.occurred_at


def test_a_debtor_owing_nothing_does_not_age() -> None:
    state, _ = run([opened(-30), missed(1, 0, when=1), paid("p1", 2)])
    view = snapshot(state, DEBTOR)
    assert as_of(view, at(40)).max_days_past_due == 0
    assert as_of(view, at(40)).bucket == "CURRENT"


def test_a_view_ticked_into_a_later_day_is_as_of_that_day() -> None:
    state, _ = run([opened(-30), missed(1, 0, when=1)])
    tick(state, at(1.2))  # the same UTC day: as of its last event still
    assert snapshot(state, DEBTOR).occurred_at == at(1)
    tick(state, at(4.7))
    view = snapshot(state, DEBTOR)
    assert view.occurred_at == at(4.5)  # 2026-10-06 00:00 UTC
    assert view.max_days_past_due == 5


@settings(max_examples=100, deadline=None)
@given(
    ticks=st.lists(st.floats(min_value=1.0, max_value=120.0), max_size=4),
    read=st.floats(min_value=0.0, max_value=200.0),
)
def test_reading_later_agrees_with_ticking_to_then(ticks: list[float], read: float) -> None:
    """Ticks (timer wake-ups) in between change nothing about what a reader
    sees at a later day: the view aged at read time equals the view ticked
    to that time."""
    state, _ = run([opened(-30), missed(1, 0, when=1)])
    for when in sorted(ticks):
        tick(state, at(when))
    now = at(max([1.0, *ticks]) + read)
    seen = as_of(snapshot(state, DEBTOR), now)
    tick(state, now)
    exact = snapshot(state, DEBTOR)
    assert seen.max_days_past_due == exact.max_days_past_due
    assert seen.accounts[0].days_past_due == exact.accounts[0].days_past_due
    assert seen.bucket == exact.bucket == bucket_for(exact.max_days_past_due)
