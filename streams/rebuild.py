"""Rebuilding the debtor view from the topics: ``recaudo rebuild``.

A scratch view processor (its own consumer group and state directory) reads
every input topic from the beginning up to the offsets they had when the
rebuild started, into emptied Postgres tables; it publishes no derived events
and no snapshots, since those are on the topics already. Because the view is a
function of the events, not of their order, the result equals what the live
processor built.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from confluent_kafka import Consumer, TopicPartition

from recaudo.db.migrate import migrate
from recaudo.db.view_store import truncate
from recaudo.settings import Settings
from recaudo.topics import Topics
from streams.debtor_view import INPUTS, DebtorViewProcessor


def end_offsets(settings: Settings, topics: list[str]) -> dict[tuple[str, int], int]:
    """High watermarks of every partition, for the partitions that hold data."""
    consumer = Consumer({**settings.kafka_config(), "group.id": "recaudo-rebuild-probe"})
    try:
        ends: dict[tuple[str, int], int] = {}
        for topic in topics:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            for partition in meta.partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10
                )
                if high > low:
                    ends[(topic, partition)] = high
        return ends
    finally:
        consumer.close()


def rebuild(settings: Settings, progress: Callable[[str], None] = print,
            timeout_s: float = 3600) -> int:  # fmt: skip
    """Rebuild Postgres from the topics; returns how many messages were replayed."""
    dsn = settings.database_dsn()
    migrate(dsn)
    topics = Topics.from_settings(settings)
    ends = end_offsets(settings, [topics.name(k) for k in INPUTS])
    total = sum(ends.values())
    progress(f"replaying {total:,} messages from {len(ends)} partitions")
    with psycopg.connect(dsn) as conn:
        truncate(conn)
    scratch = Path(tempfile.mkdtemp(prefix="recaudo-rebuild-"))
    seen: dict[tuple[str, int], int] = {}
    remaining = set(ends)
    done = threading.Event()

    def on_processed(topic: str, partition: int, offset: int) -> None:
        key = (topic, partition)
        seen[key] = offset
        if key in remaining and offset + 1 >= ends[key]:
            remaining.discard(key)
            if not remaining:
                done.set()

    processor = DebtorViewProcessor(
        settings.model_copy(update={"state_dir": scratch}),
        publish_derived=False,
        publish_views=False,
        group=f"{settings.topic_prefix}.view-rebuild-{int(time.time())}",
        on_processed=on_processed,
    )
    if not remaining:
        done.set()

    def stop_when_done() -> None:
        done.wait(timeout_s)
        # One more commit interval so the last batch is flushed to Postgres.
        time.sleep(1.5)
        processor.stop()

    threading.Thread(target=stop_when_done, daemon=True).start()
    try:
        processor.run()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not done.is_set():
        raise TimeoutError(f"rebuild did not reach the end of {sorted(remaining)}")
    progress(f"rebuilt the debtor view: {processor.sink.snapshots_written:,} debtors written")
    return total
