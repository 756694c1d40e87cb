"""The view processor's per-message step with its write-back state: what the
store holds after a checkpoint, and a step that fails halfway.

The store is quixstreams' per-key ``State`` reduced to what the step uses
(:class:`~tests.unit.streams.builders.DictState`); the real store is
exercised by test_held_state.py and tests/integration/streams.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import recaudo.view.reducer as reducer
from recaudo.orchestration.clock import FixedClock
from recaudo.settings import Settings
from streams.debtor_view import (
    HEARD_KEY,
    MAX_APPLIED,
    ORCH_KEY,
    STATE_KEY,
    TIMER_KEY,
    Folder,
    build_orchestrator,
)
from streams.processor import SKIPPED
from tests.unit.streams.builders import DictState, feed, folded, history
from tests.unit.view.builders import DEBTOR, T, dpd, opened, paid


@pytest.fixture
def folder() -> Folder:
    return Folder(None, FixedClock(T), timers=False)


def test_the_store_is_written_at_the_checkpoint_once(folder: Folder) -> None:
    store: dict[tuple[str, str], bytes] = {}
    events = history()
    feed(folder, store, events)
    assert (DEBTOR, STATE_KEY) not in store  # held, not yet written
    folder.write_back()
    assert store[(DEBTOR, STATE_KEY)] == folded(events)
    # Still held after the checkpoint: the next one writes what came since.
    more = [dpd(20, when=1, balance=85_000)]
    feed(folder, store, more)
    folder.write_back()
    assert store[(DEBTOR, STATE_KEY)] == folded(events + more)


def test_a_long_burst_is_written_before_the_checkpoint(folder: Folder) -> None:
    store: dict[tuple[str, str], bytes] = {}
    events = [opened(when=-100)] + [dpd(i, when=-100 + i) for i in range(1, MAX_APPLIED)]
    feed(folder, store, events)
    assert store[(DEBTOR, STATE_KEY)] == folded(events)


def test_held_debtors_are_not_read_again_at_the_next_checkpoint(folder: Folder) -> None:
    store: dict[tuple[str, str], bytes] = {}
    reads: list[str] = []
    for event in history():
        folder(event, DEBTOR, 0, None, DictState(store, DEBTOR, reads))
        folder.write_back()
    assert reads == [STATE_KEY]
    folder.forget()
    folder(dpd(20, when=1), DEBTOR, 0, None, DictState(store, DEBTOR, reads))
    assert reads == [STATE_KEY, STATE_KEY]


def test_held_debtors_are_bounded() -> None:
    folder = Folder(None, FixedClock(T), timers=False, max_held=2)
    store: dict[tuple[str, str], bytes] = {}
    first = opened()
    for debtor in ["D-a", "D-b", "D-a", "D-c"]:
        event = first.model_copy(update={"debtor_id": debtor, "event_id": uuid.uuid4()})
        folder(event, debtor, 0, None, DictState(store, debtor))
    # The least recently used, written to make room.
    assert [key for key, _ in store] == ["D-b"]
    assert set(folder.held) == {"D-a", "D-c"}


def test_a_step_failing_halfway_leaves_the_debtor_as_before_it(
    folder: Folder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store: dict[tuple[str, str], bytes] = {}
    before = history()
    feed(folder, store, before)
    second = paid("P-2", when=1)
    held = folder(second, DEBTOR, 0, None, DictState(store, DEBTOR)).state

    # The reducer fails once, after the facts changed (deriving the events
    # is its last step); redoing the steps before it must not.
    derive = reducer._events  # noqa: SLF001  (the failure is injected into this step)
    failures = [RuntimeError("boom")]

    def fail_once(*args: Any) -> list[Any]:
        if failures:
            raise failures.pop()
        return derive(*args)

    monkeypatch.setattr(reducer, "_events", fail_once)
    with pytest.raises(RuntimeError):
        feed(folder, store, [paid("P-3", when=2, amount=50_000)])
    monkeypatch.undo()

    expected = [*before, second]
    assert held.encode() == folded(expected)  # the object the sink may hold, restored
    after = [dpd(5, when=3)]
    feed(folder, store, after)
    folder.write_back()
    assert store[(DEBTOR, STATE_KEY)] == folded(expected + after)


def test_a_skipped_message_publishes_nothing(folder: Folder) -> None:
    store: dict[tuple[str, str], bytes] = {}
    out = folder(SKIPPED, DEBTOR, 0, None, DictState(store, DEBTOR))
    assert not out.publishes
    folder.write_back()
    assert store == {}


def orchestrating() -> Folder:
    orchestrator = build_orchestrator(Settings(kafka_bootstrap_servers="k:9092"))
    return Folder(orchestrator, FixedClock(T), timers=True)


def test_orchestration_timer_and_held_response_values_are_read_once() -> None:
    folder = orchestrating()
    store: dict[tuple[str, str], bytes] = {}
    reads: list[str] = []
    outputs = []
    events = history()
    for event in events:
        out = folder(event, DEBTOR, 0, None, DictState(store, DEBTOR, reads))
        outputs.append((out.outputs, out.timer, out.timer_changed))
    assert sorted(reads) == sorted([ORCH_KEY, STATE_KEY, TIMER_KEY, HEARD_KEY])
    folder.write_back()

    # The same events, each in a checkpoint of its own and every value read
    # back from the store (as after a restart), decide the same and leave the
    # same store.
    one_by_one = orchestrating()
    again: dict[tuple[str, str], bytes] = {}
    for event, expected in zip(events, outputs, strict=True):
        out = one_by_one(event, DEBTOR, 0, None, DictState(again, DEBTOR))
        one_by_one.write_back()
        one_by_one.forget()
        assert (out.outputs, out.timer, out.timer_changed) == expected
    assert again == store
    assert {ORCH_KEY, TIMER_KEY} <= {name for _, name in store}
