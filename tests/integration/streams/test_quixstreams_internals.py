"""streams.quixstreams_internals against the quixstreams version installed,
on a real processor: an upgrade that moves one of the private attributes it
reaches fails here, by name, instead of changing the view silently."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator

import pytest
from quixstreams.state.rocksdb import RocksDBStore

from recaudo.settings import Settings
from streams import quixstreams_internals
from streams.debtor_view import DebtorViewProcessor
from streams.processor import STATE_OPTIONS


@pytest.fixture
def view(topics_ready: Settings) -> Iterator[DebtorViewProcessor]:
    processor = DebtorViewProcessor(topics_ready, orchestrate=True, timers=True)
    try:
        yield processor
    finally:
        processor.sink.close()
        processor.processor.dead_letters.close()


def test_the_view_and_orchestrator_read_their_inputs_time_aligned(
    view: DebtorViewProcessor,
) -> None:
    # The view would be the same in any order, but a decision is taken on the
    # view as it stands: an earlier opt-out on one input must be read before a
    # later trigger on another (quixstreams merges concatenated inputs by
    # message timestamp within a partition number).
    assert quixstreams_internals.requires_time_alignment(view.processor.app)


def test_the_consumer_is_reached_and_its_close_can_be_wrapped(view: DebtorViewProcessor) -> None:
    app = view.processor.app
    consumer = quixstreams_internals.consumer(app)
    assert callable(consumer.get_watermark_offsets)
    closed: list[str] = []

    def wrap(close: Callable[[], None]) -> Callable[[], None]:
        def wrapped() -> None:
            closed.append("wrapped")
            close()

        return wrapped

    quixstreams_internals.wrap_consumer_close(app, wrap)
    quixstreams_internals.consumer(app).close()
    assert closed == ["wrapped"]


def test_offsets_can_be_stored_for_a_message_not_processed(view: DebtorViewProcessor) -> None:
    context = view.processor.app._processing_context  # noqa: SLF001  (what the adapter calls)
    parameters = list(inspect.signature(context.store_offset).parameters)
    assert parameters == ["topic", "partition", "offset"]


def test_store_partitions_are_listed_and_found_behind_a_state(
    view: DebtorViewProcessor, tmp_path: object
) -> None:
    app = view.processor.app
    # No partition is assigned before the application runs.
    assert list(quixstreams_internals.store_partitions(app)) == []
    store = RocksDBStore("view", "inputs", str(tmp_path), options=STATE_OPTIONS)
    try:
        store.assign_partition(0)
        transaction = store.start_partition_transaction(0)
        behind = quixstreams_internals.state_partition(transaction.as_state(prefix="D-1"))
        assert behind is store.partitions[0]
    finally:
        store.close()
