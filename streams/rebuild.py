"""Rebuilding the debtor view from the topics: ``recaudo rebuild``.

A scratch view processor (its own consumer group and state directory) reads
every input topic from the beginning until it has passed the offsets they had
when the rebuild started and the topics have gone quiet (the embedded broker
can under-report high watermarks, so they are a floor, not the stop signal),
into emptied Postgres tables, building the snapshots itself; it publishes no
derived events, no snapshots and no states, since those are on the topics
already. Because the view is a
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
from recaudo.embedded.partition_end import FetchedEnds
from recaudo.kafka.topics import Topics
from recaudo.settings import Settings
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
    finally:
        consumer.close()
    if not settings.embedded_broker:
        return ends
    # Its ListOffsets reads ends short: see recaudo.embedded.partition_end.
    fetched = FetchedEnds(settings.kafka_config())
    try:
        return fetched.ends(ends)
    finally:
        fetched.close()


def rebuild(
    settings: Settings,
    progress: Callable[[str], None] = print,
    timeout_s: float = 3600,
    quiet_s: float = 3.0,
) -> int:
    """Rebuild Postgres from the topics; returns how many messages were replayed."""
    dsn = settings.database_dsn()
    migrate(dsn)
    topics = Topics.from_settings(settings)
    ends = end_offsets(settings, [topics.name(k) for k in INPUTS])
    progress(f"replaying {len(ends)} partitions")
    with psycopg.connect(dsn) as conn:
        truncate(conn)
    scratch = Path(tempfile.mkdtemp(prefix="recaudo-rebuild-"))
    remaining = set(ends)
    replayed = [0]
    last_message = [time.monotonic()]
    done = threading.Event()

    def on_processed(topic: str, partition: int, offset: int) -> None:
        replayed[0] += 1
        last_message[0] = time.monotonic()
        key = (topic, partition)
        if key in remaining and offset + 1 >= ends[key]:
            remaining.discard(key)

    processor = DebtorViewProcessor(
        settings.model_copy(update={"state_dir": scratch}),
        publish_derived=False,
        publish_views=False,
        snapshots="inline",  # straight into the emptied tables, no publisher
        orchestrate=False,
        timers=False,
        group=f"{settings.topic_prefix}.view-rebuild-{int(time.time())}",
        on_processed=on_processed,
    )

    def stop_when_done() -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if not remaining and time.monotonic() - last_message[0] >= quiet_s:
                done.set()
                break
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
    progress(
        f"replayed {replayed[0]:,} messages; "
        f"rebuilt the debtor view: {processor.sink.snapshots_written:,} debtor snapshots written"
    )
    return replayed[0]
