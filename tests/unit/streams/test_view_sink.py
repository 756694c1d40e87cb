"""The view sink writes a debtor's state to the store when its burst is over
(its snapshot is built), not all at the checkpoint: the checkpoint's pause
holds only the debtors still settling."""

from __future__ import annotations

import pytest

import streams.debtor_view as debtor_view
from recaudo.kafka.serde import Serde
from recaudo.orchestration.clock import FixedClock
from recaudo.settings import Settings
from streams.debtor_view import STATE_KEY, DebtorViewSink, Folder
from tests.unit.streams.builders import DictState, folded, history
from tests.unit.view.builders import DEBTOR, T


def test_a_settled_debtor_is_written_before_the_checkpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(debtor_view, "COALESCE_S", 0.0)  # every change settles at once
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:9")  # nothing is produced
    folder = Folder(None, FixedClock(T), timers=False)
    sink = DebtorViewSink(
        settings,
        Serde(settings),
        publish_views=False,
        publish_derived=False,
        dsn=None,
        write_back=folder.write_back,
        write_one=folder.write_one,
    )
    store: dict[tuple[str, str], bytes] = {}
    events = history()
    try:
        for n, event in enumerate(events, start=1):
            result = folder(event, DEBTOR, 0, None, DictState(store, DEBTOR))
            sink.add(result, DEBTOR, 0, [], "debt-events", 0, n)
            assert store[(DEBTOR, STATE_KEY)] == folded(events[:n])
    finally:
        sink.close()


def test_a_settled_debtor_is_handed_on_as_its_stored_bytes() -> None:
    # What the publisher reads is exactly what the store holds: no second encoding.
    folder = Folder(None, FixedClock(T), timers=False)
    store: dict[tuple[str, str], bytes] = {}
    events = history()
    for n, event in enumerate(events, start=1):
        state = folder(event, DEBTOR, 0, None, DictState(store, DEBTOR)).state
        assert folder.write_one(DEBTOR, state) == folded(events[:n]) == store[(DEBTOR, STATE_KEY)]
        # Written already: handed on again, the same bytes, nothing rewritten.
        assert folder.write_one(DEBTOR, state) == folded(events[:n])
    # No longer held (evicted, so written): its state as the sink holds it.
    other = folder(events[0], "D-evicted", 0, None, DictState(store, "D-evicted")).state
    folder.forget()
    assert folder.write_one("D-evicted", other) == other.encode()
