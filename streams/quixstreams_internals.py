"""Every use of quixstreams' private attributes, in one module.

quixstreams has no public handle for what these functions need. Keeping them
here means an upgrade that moves one fails
``tests/unit/streams/test_quixstreams_internals.py`` instead of changing the
view silently; ruff's ``SLF`` rule keeps private access out of every other
module. The dependency is pinned to the minor version these are tested with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from quixstreams import Application
from quixstreams.kafka import BaseConsumer
from quixstreams.state import State


def consumer(app: Application) -> BaseConsumer:
    """The application's Kafka consumer (quixstreams builds it in the constructor)."""
    found: BaseConsumer = app._consumer
    return found


def store_offset(app: Application, topic: str, partition: int, offset: int) -> None:
    """Store a message's offset with the next checkpoint, as if it were processed."""
    app._processing_context.store_offset(topic, partition, offset)


def store_partitions(app: Application) -> Iterator[object]:
    """Every state store partition this application holds open now."""
    for stores in app._state_manager.stores.values():
        for store in stores.values():
            yield from store.partitions.values()


def state_partition(state: State[Any, Any]) -> object | None:
    """The store partition behind a key's ``State`` (None for a state not backed by one)."""
    transaction = getattr(state, "_transaction", None)
    return getattr(transaction, "_partition", None)


def requires_time_alignment(app: Application) -> bool:
    """Whether the application merges its concatenated inputs by timestamp."""
    return bool(app._dataframe_registry.requires_time_alignment)


def wrap_consumer_close(app: Application, wrap: Callable[[Callable[[], None]], Any]) -> None:
    """Replace the consumer's ``close`` with ``wrap(close)`` (a deadline on it)."""
    kafka = consumer(app)
    kafka.close = wrap(kafka.close)  # type: ignore[method-assign]
