"""Held debtors across checkpoints, against quixstreams' real RocksDB store:
kept decoded while the partition stays assigned, read again once quixstreams
has reopened it (a rebalance, a recovery), when its contents may have been
changed by another worker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from quixstreams.state.rocksdb import RocksDBStore

from recaudo.contracts.records import Event
from recaudo.orchestration.clock import FixedClock
from streams.debtor_view import STATE_KEY, Folder
from streams.processor import STATE_OPTIONS
from tests.unit.streams.builders import folded
from tests.unit.view.builders import DEBTOR, T, dpd, opened, paid

PARTITION = 0


def checkpoint(store: RocksDBStore, folder: Folder, events: list[Event]) -> bytes | None:
    """One checkpoint: ``events`` folded in, written back and flushed; what
    the store then holds for the debtor."""
    transaction = store.start_partition_transaction(PARTITION)
    for event in events:
        folder(event, DEBTOR, 0, None, transaction.as_state(prefix=DEBTOR))
    folder.write_back()
    transaction.prepare()
    transaction.flush()
    return stored(store)


def stored(store: RocksDBStore) -> bytes | None:
    transaction = store.start_partition_transaction(PARTITION)
    value: bytes | None = transaction.as_state(prefix=DEBTOR).get(STATE_KEY)
    return value


def test_a_held_debtor_is_reread_after_its_partition_is_reassigned(tmp_path: Path) -> None:
    store = RocksDBStore("view", "inputs", str(tmp_path), options=STATE_OPTIONS)
    store.assign_partition(PARTITION)
    folder = Folder(None, FixedClock(T), timers=False)
    first = [opened(), dpd(10, when=-1, balance=95_000)]
    assert checkpoint(store, folder, first) == folded(first)

    # The partition moves to another worker, which folds a payment in, and
    # comes back (its store recovered from the changelog).
    store.revoke_partition(PARTITION)
    store.assign_partition(PARTITION)
    elsewhere = Folder(None, FixedClock(T), timers=False)
    payment = paid("P-1", when=0)
    assert checkpoint(store, elsewhere, [*first, payment]) == folded([*first, payment])
    store.revoke_partition(PARTITION)
    store.assign_partition(PARTITION)

    later = dpd(20, when=1, balance=85_000)
    assert checkpoint(store, folder, [later]) == folded([*first, payment, later])
    store.close()


def test_a_held_debtor_survives_checkpoints_while_the_partition_stays(tmp_path: Path) -> None:
    store = RocksDBStore("view", "inputs", str(tmp_path), options=STATE_OPTIONS)
    store.assign_partition(PARTITION)
    folder = Folder(None, FixedClock(T), timers=False)
    first = [opened(), dpd(10, when=-1, balance=95_000)]
    checkpoint(store, folder, first)
    held = folder.held[DEBTOR].state

    later = [paid("P-1", when=0), dpd(20, when=1, balance=85_000)]
    assert checkpoint(store, folder, later) == folded(first + later)
    assert folder.held[DEBTOR].state is held  # folded in place, not decoded again

    folder.forget()
    assert DEBTOR not in folder.held
    store.close()


def assigned_in(store: RocksDBStore) -> Callable[[object], bool]:
    """What the processor asks quixstreams (StreamProcessor.is_assigned)."""
    return lambda partition: any(partition is live for live in store.partitions.values())


def test_a_debtor_held_from_a_lost_partition_is_not_written_back(tmp_path: Path) -> None:
    store = RocksDBStore("view", "inputs", str(tmp_path), options=STATE_OPTIONS)
    store.assign_partition(PARTITION)
    folder = Folder(None, FixedClock(T), timers=False, is_assigned=assigned_in(store))
    first = [opened(), dpd(10, when=-1, balance=95_000)]
    checkpoint(store, folder, first)

    # Folded in, not yet written back, when the partition is lost (another
    # worker owns it now and will fold the same events from the committed
    # offsets): its transaction, which the checkpoint would turn into
    # changelog records, must stay empty.
    later = paid("P-1", when=0)
    transaction = store.start_partition_transaction(PARTITION)
    folder(later, DEBTOR, 0, None, transaction.as_state(prefix=DEBTOR))
    store.revoke_partition(PARTITION)
    folder.write_back()
    assert not transaction.changed
    assert DEBTOR not in folder.held

    store.assign_partition(PARTITION)
    assert stored(store) == folded(first)
    assert checkpoint(store, folder, [later]) == folded([*first, later])
    store.close()


def test_a_settled_debtor_of_a_lost_partition_is_not_handed_on(tmp_path: Path) -> None:
    store = RocksDBStore("view", "inputs", str(tmp_path), options=STATE_OPTIONS)
    store.assign_partition(PARTITION)
    folder = Folder(None, FixedClock(T), timers=False, is_assigned=assigned_in(store))
    transaction = store.start_partition_transaction(PARTITION)
    state = folder(opened(), DEBTOR, 0, None, transaction.as_state(prefix=DEBTOR)).state
    store.revoke_partition(PARTITION)
    assert folder.write_one(DEBTOR, state) is None
    assert not transaction.changed
    store.close()


def test_the_least_recently_used_debtor_of_a_lost_partition_is_dropped_unwritten(
    tmp_path: Path,
) -> None:
    store = RocksDBStore("view", "inputs", str(tmp_path), options=STATE_OPTIONS)
    store.assign_partition(PARTITION)
    folder = Folder(None, FixedClock(T), timers=False, max_held=1, is_assigned=assigned_in(store))
    lost = store.start_partition_transaction(PARTITION)
    folder(opened(), DEBTOR, 0, None, lost.as_state(prefix=DEBTOR))
    store.revoke_partition(PARTITION)
    store.assign_partition(PARTITION)
    # Another debtor pushes the first out of the held set.
    current = store.start_partition_transaction(PARTITION)
    folder(opened(), "D-2", 0, None, current.as_state(prefix="D-2"))
    assert not lost.changed
    assert list(folder.held) == ["D-2"]
    store.close()
