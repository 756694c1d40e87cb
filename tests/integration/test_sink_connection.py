"""Sinks across a Postgres restart, on the real broker and a real Postgres
stopped and started again on the same data directory: the worker stays up,
the batch that failed is written on a new connection, and its input offsets
are committed only once it has been."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from pydantic import SecretStr

from recaudo.dashboard.lag import LagProbe
from recaudo.db.sink_connection import SinkConnection
from recaudo.embedded.postgres import EmbeddedPostgres
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings
from recaudo.view import snapshot
from streams.kpis import KpiProcessor
from tests.integration.fixtures import create_database
from tests.integration.streams.kpi_scenario import (
    EXPECTED_TOTAL,
    publish,
    story,
    total_of,
    without_conversations,
)
from tests.integration.streams.test_view_publisher import states, wait_for_views
from tests.integration.streams.worker_process import view_publisher
from tests.integration.waiting import wait_until

pytestmark = pytest.mark.integration

UNREACHABLE = "Postgres unreachable"


class RestartablePostgres:
    """A Postgres of this test's own, stopped and started on the same data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.server = EmbeddedPostgres(data_dir).start()

    def stop(self) -> None:
        self.server.stop()  # a fast shutdown: open sessions are terminated

    def start(self) -> None:
        self.server.start()


@pytest.fixture
def restartable_postgres() -> Iterator[RestartablePostgres]:
    # Short path: the Unix socket lives in the data directory (107-byte limit).
    data_dir = Path(tempfile.mkdtemp(prefix="rcpr"))
    pg = RestartablePostgres(data_dir)
    try:
        yield pg
    finally:
        pg.server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def settings(topics_ready: Settings, restartable_postgres: RestartablePostgres) -> Settings:
    dsn = create_database(restartable_postgres.server)
    return topics_ready.model_copy(update={"database_url": SecretStr(dsn)})


def said_unreachable(caplog: pytest.LogCaptureFixture) -> bool:
    return any(
        r.name == "recaudo.db.sink_connection" and UNREACHABLE in r.getMessage()
        for r in caplog.records
    )


def committed_total(settings: Settings, group: str, topic: str) -> int:
    """Offsets the group has committed on ``topic``, summed over its partitions."""
    consumer = Consumer({**settings.kafka_config(), "group.id": group})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        offsets = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
    finally:
        consumer.close()
    return sum(max(tp.offset, 0) for tp in offsets)


def test_the_view_publisher_writes_across_a_postgres_restart(
    settings: Settings,
    restartable_postgres: RestartablePostgres,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="recaudo.db.sink_connection")
    serde = Serde(settings)
    topic = serde.topics.debtor_states
    dsn = settings.database_dsn()
    before = [f"D-before-{i}" for i in range(5)]
    during = [f"D-during-{i}" for i in range(5)]
    expected = {d: snapshot(states(d)[-1], d) for d in [*before, *during]}

    def produce(debtors: list[str]) -> None:
        with RecaudoProducer(settings, serde) as producer:
            for debtor_id in debtors:
                producer.produce_raw(topic, debtor_id.encode(), states(debtor_id)[-1].encode(), [])

    with view_publisher(settings) as publisher:
        produce(before)
        assert set(wait_for_views(dsn, len(before))) == set(before)
        assert wait_until(lambda: committed_total(settings, publisher.group, topic) == len(before))

        restartable_postgres.stop()
        produce(during)
        # The publisher has read the batch and failed to write it.
        assert wait_until(lambda: said_unreachable(caplog)), "no write was attempted"
        assert publisher.running
        # Read but not written: not committed either.
        assert committed_total(settings, publisher.group, topic) == len(before)

        restartable_postgres.start()
        views = wait_for_views(dsn, len(expected))
        assert views == expected  # the batch that failed landed, nothing else was lost
        assert wait_until(lambda: committed_total(settings, publisher.group, topic) == 10)
        assert publisher.running  # the same process, never restarted


def test_the_kpi_sink_writes_across_a_postgres_restart(
    settings: Settings,
    restartable_postgres: RestartablePostgres,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="recaudo.db.sink_connection")
    events = story()
    first, rest = events[:8], events[8:]
    dsn = settings.database_dsn()
    # The processor needs the main thread (signal handlers): the scenario
    # runs beside it and stops it at the end.
    processor = KpiProcessor(without_conversations(settings), commit_interval=0.5)
    probe = LagProbe(settings)
    outcome: dict[str, object] = {}
    # Postgres started from a thread lives as long as that thread (its
    # parent-death signal follows the thread): the scenario waits for the
    # processor to have stopped before it ends.
    processor_done = threading.Event()

    def caught_up() -> bool:
        groups = {g.group: g for g in probe.sample().groups}
        return "kpis" in groups and groups["kpis"].lag == 0

    def scenario() -> None:
        try:
            publish(settings, first)
            outcome["first"] = wait_until(lambda: total_of(dsn) is not None and caught_up())
            restartable_postgres.stop()
            publish(settings, rest)
            outcome["failed"] = wait_until(lambda: said_unreachable(caplog))
            outcome["alive_while_down"] = processor.running
            restartable_postgres.start()
            outcome["done"] = wait_until(lambda: total_of(dsn) == EXPECTED_TOTAL and caught_up())
            outcome["alive_after"] = processor.running
        finally:
            processor.stop()
            processor_done.wait(120)
            outcome["total"] = total_of(dsn)

    thread = threading.Thread(target=scenario, name="scenario")
    thread.start()
    try:
        processor.run()  # raises if the sink's failure reached it
    finally:
        processor_done.set()
        thread.join(120)
        probe.close()
    assert outcome == {
        "first": True,
        "failed": True,
        "alive_while_down": True,
        "done": True,
        "alive_after": True,
        "total": EXPECTED_TOTAL,
    }


def test_an_error_that_is_not_the_connection_is_raised_at_once(pg_dsn: str) -> None:
    waits: list[float] = []
    db = SinkConnection(pg_dsn, sleep=waits.append)
    db.open()
    try:

        def bad_sql(conn: psycopg.Connection[Any]) -> None:
            conn.execute("SELECT * FROM no_such_table")

        with pytest.raises(psycopg.errors.UndefinedTable):
            db.write(bad_sql)
        assert waits == [] and db.failed_attempts == 0
    finally:
        db.close()


def test_a_postgres_that_stays_away_is_given_up_on_with_backoff(tmp_path: Path) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)  # the deadline is on the clock

    nowhere = f"postgresql://postgres@/postgres?host={tmp_path}&connect_timeout=2"
    db = SinkConnection(
        nowhere, backoff_initial_s=0.05, backoff_max_s=0.2, retry_for_s=1.0, sleep=sleep
    )
    with pytest.raises(psycopg.OperationalError, match="Postgres unreachable for 1 s while"):
        db.write(lambda conn: conn.execute("SELECT 1"))
    # Doubling up to the cap, then the same wait, until the next would pass the deadline.
    assert waits[:3] == [0.05, 0.1, 0.2] and set(waits[3:]) == {0.2}
    assert db.failed_attempts == len(waits) + 1
