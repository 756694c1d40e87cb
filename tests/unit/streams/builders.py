"""What the view processor's unit tests share: a dict store seen as
quixstreams' per-key ``State``, and the bytes a history folds into."""

from __future__ import annotations

from typing import Any

from recaudo.contracts.records import Event
from recaudo.view import DebtorState, apply
from streams.debtor_view import Folder
from tests.unit.view.builders import dpd, missed, opened, paid, profile


class DictState:
    """One key's view of a dict store, as quixstreams' State gives it."""

    def __init__(
        self, store: dict[tuple[str, str], bytes], key: str, reads: list[str] | None = None
    ) -> None:
        self._store = store
        self._key = key
        self._reads = reads

    def get(self, name: str, default: Any = None) -> Any:
        if self._reads is not None:
            self._reads.append(name)
        return self._store.get((self._key, name), default)

    def set(self, name: str, value: bytes) -> None:
        self._store[(self._key, name)] = value


def folded(events: list[Event]) -> bytes:
    state: DebtorState | None = None
    for event in events:
        state = apply(state, event).state
    assert state is not None
    return state.encode()


def feed(folder: Folder, store: dict[tuple[str, str], bytes], events: list[Event]) -> None:
    for event in events:
        folder(event, event.debtor_id, 0, None, DictState(store, event.debtor_id))


def history() -> list[Event]:
    return [
        opened(),
        profile(-29),
        missed(1, due=-5, when=-4),
        dpd(10, when=-1, balance=95_000),
        paid("P-1", when=0),
    ]
