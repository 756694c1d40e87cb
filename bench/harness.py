"""What every benchmark needs: a broker (the embedded one unless
KAFKA_BOOTSTRAP_SERVERS is set), fresh topics, a scratch directory."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from recaudo.contracts.records import CHANNELS
from recaudo.embedded.broker import EmbeddedBroker
from recaudo.kafka.topics_admin import ensure_topics
from recaudo.settings import Settings


@dataclass(frozen=True)
class BenchEnvironment:
    settings: Settings
    # The embedded broker's process, for CPU accounting; None on an external broker.
    broker_pid: int | None


@contextmanager
def bench_environment(name: str, partitions: int) -> Iterator[BenchEnvironment]:
    work = Path(tempfile.mkdtemp(prefix=name))
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker = None if external else EmbeddedBroker(log_path=work / "broker.log").start()
    try:
        settings = Settings(
            kafka_bootstrap_servers=external or (broker.bootstrap_servers if broker else None),
            embedded_broker=broker is not None,
            topic_prefix=f"{name}{uuid.uuid4().hex[:6]}",
            topic_partitions=partitions,
            state_dir=work,
            log_level="WARNING",
        )
        ensure_topics(settings)
        yield BenchEnvironment(settings, broker.pid if broker else None)
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def bench_settings(name: str, partitions: int) -> Iterator[Settings]:
    with bench_environment(name, partitions) as environment:
        yield environment.settings


def read_dispatch_arrivals(
    settings: Settings, partitions: int, arrived: dict[str, float], stop: threading.Event
) -> threading.Thread:
    """A started thread recording when each debtor's first dispatch arrives on
    any channel, read as a channel connector reads (the same fetch settings)."""

    def read() -> None:
        consumer = Consumer(settings.consumer_config("bench-reader", low_latency=True))
        consumer.assign(
            [
                TopicPartition(settings.topic_prefix + f".dispatch.{c}", p, 0)
                for c in CHANNELS
                for p in range(partitions)
            ]
        )
        while not stop.is_set():
            # poll, not consume(n): a batch read waits for n messages or its
            # timeout, which would stamp arrivals late.
            msg = consumer.poll(0.05)
            if msg is not None and msg.error() is None and msg.key() is not None:
                arrived.setdefault(msg.key().decode(), time.monotonic())
        consumer.close()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader
