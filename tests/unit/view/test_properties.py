"""The view is a function of the set of events: order and duplicates do not matter.

* The snapshot is the same for any order and any duplication.
* The encoded state, and so the milestones it implies, are the same too when
  each account's days-past-due snapshots and openings arrive in event-time
  order, as a bank's feed does (everything else in any order), and then a
  redelivery changes nothing at all. A snapshot arriving after later and
  earlier ones of its run have been folded together can leave different ends
  of that run in the state, with the same view (see recaudo.view.facts); a
  redelivered base can then restore an end, still with the same view.
* Derived events: every order publishes the milestones the final facts imply,
  and duplicates or a replay publish exactly the same. The whole set published
  cannot be the same for every order (a promise reported broken when its date
  passed with no payment known stays published when a payment dated in time
  arrives late), so that is not asserted.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recaudo.contracts.records import DebtEvent, DebtorView, Event
from recaudo.view import DebtorState, apply, implied, snapshot
from recaudo.view.ledger import fold
from recaudo.view.timebase import tie64
from tests.unit.view.builders import DEBTOR, run
from tests.unit.view.strategies import histories


def fast(examples: int) -> settings:
    return settings(
        max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )


def with_duplicates(data: st.DataObject, events: list[Event]) -> list[Event]:
    """``events`` with random duplicates, each somewhere after its original."""
    out = list(events)
    for event in data.draw(st.lists(st.sampled_from(events), max_size=len(events))):
        first = out.index(event)
        out.insert(data.draw(st.integers(first + 1, len(out))), event)
    return out


def is_base(event: Event) -> bool:
    return isinstance(event, DebtEvent) and event.type in ("DEBT_OPENED", "DAYS_PAST_DUE_UPDATED")


def bases_in_order(events: list[Event]) -> list[Event]:
    """``events`` (no duplicates) with the bases put in event-time order in the
    slots bases occupy, everything else where it was."""
    bases = iter(sorted([e for e in events if is_base(e)], key=_when))
    return [next(bases) if is_base(e) else e for e in events]


def _when(event: Event) -> tuple[object, int]:
    # Same-millisecond facts fold in tie order: that is "event-time order".
    return (event.occurred_at, tie64(event.event_id))


@fast(200)
@given(events=histories(), data=st.data())
def test_any_permutation_and_duplication_gives_the_same_view(
    events: list[Event], data: st.DataObject
) -> None:
    reference, _ = run(events)
    shuffled = data.draw(st.permutations(events))
    mixed = data.draw(st.permutations(with_duplicates(data, shuffled)))
    state, _ = run(mixed)
    assert snapshot(state, DEBTOR) == snapshot(reference, DEBTOR)


@fast(150)
@given(events=histories(), data=st.data())
def test_bases_in_order_and_the_rest_in_any_order_give_the_same_bytes(
    events: list[Event], data: st.DataObject
) -> None:
    reference, _ = run(bases_in_order(events))
    shuffled = bases_in_order(data.draw(st.permutations(events)))
    state, _ = run(with_duplicates(data, shuffled))
    assert state.encode() == reference.encode()
    assert state.version == reference.version
    assert {e.event_id for e in implied(state)} == {e.event_id for e in implied(reference)}


@fast(120)
@given(events=histories(), data=st.data())
def test_every_order_publishes_the_milestones_of_its_final_state(
    events: list[Event], data: st.DataObject
) -> None:
    state, published = run(data.draw(st.permutations(with_duplicates(data, events))))
    assert {e.event_id for e in implied(state)} <= {e.event_id for e in published}


@fast(120)
@given(events=histories(), data=st.data())
def test_duplicates_anywhere_derive_nothing_more(events: list[Event], data: st.DataObject) -> None:
    order = data.draw(st.permutations(events))
    _, clean = run(order)
    _, noisy = run(with_duplicates(data, order))
    assert [e.event_id for e in noisy] == [e.event_id for e in clean]


@fast(60)
@given(events=histories())
def test_a_replay_derives_identical_events(events: list[Event]) -> None:
    assert run(events)[1] == run(events)[1]


@fast(100)
@given(events=histories(), data=st.data())
def test_redelivery_changes_nothing(events: list[Event], data: st.DataObject) -> None:
    state, _ = run(bases_in_order(data.draw(st.permutations(events))))
    before = state.encode()
    for event in data.draw(st.permutations(events)):
        result = apply(state, event)
        assert not result.changed
        assert result.derived == []
    assert state.encode() == before


@fast(80)
@given(events=histories(), data=st.data())
def test_redelivery_in_any_order_never_changes_the_view(
    events: list[Event], data: st.DataObject
) -> None:
    state, _ = run(data.draw(st.permutations(events)))
    view = snapshot(state, DEBTOR)
    for event in data.draw(st.permutations(events)):
        apply(state, event)
    assert snapshot(state, DEBTOR) == view


@fast(80)
@given(events=histories())
def test_state_survives_encoding(events: list[Event]) -> None:
    state, _ = run(events)
    decoded = DebtorState.decode(state.encode())
    assert decoded == state
    assert snapshot(decoded, DEBTOR) == snapshot(state, DEBTOR)


@fast(80)
@given(events=histories(), data=st.data())
def test_version_never_decreases(events: list[Event], data: st.DataObject) -> None:
    state: DebtorState | None = None
    version = 0
    for event in with_duplicates(data, events):
        state = apply(state, event).state
        assert state.version >= version
        version = state.version


@fast(100)
@given(events=histories(), data=st.data())
def test_a_remembered_fold_is_the_fold_of_the_facts_held(
    events: list[Event], data: st.DataObject
) -> None:
    state: DebtorState | None = None
    for event in with_duplicates(data, events):
        state = apply(state, event).state
        for facts in state.accounts.values():
            if facts.memo is not None:
                clock, ledger = facts.memo
                assert ledger == fold(facts, clock)


@fast(80)
@given(events=histories())
def test_every_snapshot_validates_as_it_is(events: list[Event]) -> None:
    # Snapshots are built without validation: each must pass it unchanged.
    state: DebtorState | None = None
    for event in events:
        state = apply(state, event).state
        view = snapshot(state, DEBTOR)
        assert DebtorView.model_validate(view.model_dump()) == view


@fast(150)
@given(events=histories(), data=st.data())
def test_a_state_kept_across_snapshots_and_encodings_is_that_of_its_events(
    events: list[Event], data: st.DataObject
) -> None:
    # The view processor keeps a debtor's state for long, snapshotting,
    # encoding and decoding it between events; whatever it did, the bytes and
    # the snapshot are those of the same events folded in one go.
    state: DebtorState | None = None
    for i, event in enumerate(events):
        state = apply(state, event).state
        for action in data.draw(
            st.lists(st.sampled_from(["snapshot", "encode", "decode", "check"]), max_size=3)
        ):
            if action == "snapshot":
                snapshot(state, DEBTOR)
            elif action == "encode":
                state.encode()
            elif action == "decode":
                state = DebtorState.decode(state.encode())
            else:
                straight, _ = run(events[: i + 1])
                assert state.encode() == straight.encode()
                assert snapshot(state, DEBTOR) == snapshot(straight, DEBTOR)
    if state is not None:
        straight, _ = run(events)
        assert state.encode() == straight.encode()
        assert snapshot(state, DEBTOR) == snapshot(straight, DEBTOR)
