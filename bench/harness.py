"""What every benchmark needs: a broker (the embedded one unless
KAFKA_BOOTSTRAP_SERVERS is set), fresh topics, a scratch directory."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from recaudo.embedded.broker import EmbeddedBroker
from recaudo.settings import Settings
from recaudo.topics_admin import ensure_topics


@contextmanager
def bench_settings(name: str, partitions: int) -> Iterator[Settings]:
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
        yield settings
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(work, ignore_errors=True)
