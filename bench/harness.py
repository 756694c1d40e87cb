"""What every benchmark needs: a broker (the embedded one unless
KAFKA_BOOTSTRAP_SERVERS is set), fresh topics, a scratch directory."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from recaudo.embedded.broker import EmbeddedBroker
from recaudo.settings import Settings
from recaudo.topics_admin import ensure_topics


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
