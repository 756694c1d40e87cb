"""Real services for integration tests: one Tansu broker and one PostgreSQL per
test session, started here on 127.0.0.1 (nothing needs to be installed)."""

from __future__ import annotations

import gc
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from recaudo.embedded.broker import EmbeddedBroker
from recaudo.embedded.postgres import EmbeddedPostgres
from recaudo.settings import Settings


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    log = Path(tempfile.gettempdir()) / f"recaudo-test-broker-{uuid.uuid4().hex[:6]}.log"
    with EmbeddedBroker(log_path=log) as running:
        yield running
        # Clients the tests dropped disconnect now, while the broker still
        # answers, instead of logging connection errors after the run.
        gc.collect()


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    # Short path: Postgres' Unix socket lives in the data directory (107-byte limit).
    data_dir = Path(tempfile.mkdtemp(prefix="rcpg"))
    try:
        with EmbeddedPostgres(data_dir) as running:
            yield running
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def kafka_settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    """Settings on the session broker with a topic prefix of this test's own."""
    return Settings(
        kafka_bootstrap_servers=broker.bootstrap_servers,
        embedded_broker=True,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}",
        topic_partitions=3,
        state_dir=tmp_path,
    )


@pytest.fixture
def topics_ready(kafka_settings: Settings) -> Settings:
    from recaudo.kafka.topics_admin import ensure_topics

    ensure_topics(kafka_settings)
    return kafka_settings


def create_database(postgres: EmbeddedPostgres) -> str:
    """A fresh, empty database on ``postgres``; its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    base, _, query = postgres.url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


@pytest.fixture
def pg_dsn(postgres: EmbeddedPostgres) -> str:
    """A fresh, empty database of this test's own on the session Postgres."""
    return create_database(postgres)


@pytest.fixture
def pg_settings(topics_ready: Settings, pg_dsn: str) -> Settings:
    """Broker with topics created, plus a database of this test's own."""
    return topics_ready.model_copy(update={"database_url": SecretStr(pg_dsn)})
