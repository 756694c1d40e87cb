"""The view publisher on the real broker and real Postgres: states in,
snapshots on the debtor-view topic and in Postgres; bad bytes dead-lettered."""

from __future__ import annotations

import logging
import threading
import time

import psycopg
import pytest

from recaudo.contracts.records import DeadLetter, DebtorView
from recaudo.db.view_store import all_views
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings
from recaudo.view import DebtorState, apply, snapshot
from streams.view_publisher import ViewPublisher
from tests.integration.kafka_io import consume_all
from tests.integration.streams.worker_process import view_publisher
from tests.unit.view.builders import dpd, missed, opened, paid, profile

pytestmark = pytest.mark.integration


def states(debtor_id: str) -> list[DebtorState]:
    """A debtor's state after each event of a short history."""
    out: list[DebtorState] = []
    state: DebtorState | None = None
    for event in (opened(), profile(-29), missed(1, due=-5, when=-4), dpd(10, when=-1)):
        state = apply(state, event.model_copy(update={"debtor_id": debtor_id})).state
        out.append(DebtorState.decode(state.encode()))  # a copy as it stood
    assert state is not None
    out.append(apply(state, paid("P-1", when=0).model_copy(update={"debtor_id": debtor_id})).state)
    return out


def wait_for_views(dsn: str, count: int, timeout_s: float = 60) -> dict[str, DebtorView]:
    deadline = time.monotonic() + timeout_s
    views: dict[str, DebtorView] = {}
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(dsn) as conn:
                views = all_views(conn)
        except psycopg.errors.UndefinedTable:
            pass  # the publisher applies the migrations when it starts
        if len(views) >= count:
            break
        time.sleep(0.3)
    return views


def test_latest_states_become_snapshots_and_garbage_is_dead_lettered(
    pg_settings: Settings,
) -> None:
    serde = Serde(pg_settings)
    topic = serde.topics.debtor_states
    history = {d: states(d) for d in ("D-pub-1", "D-pub-2")}
    garbage = b"\x13\x37 not a debtor state"
    with RecaudoProducer(pg_settings, serde) as producer:
        for debtor_id, steps in history.items():
            for state in steps:
                producer.produce_raw(topic, debtor_id.encode(), state.encode(), [])
        producer.produce_raw(topic, b"D-garbage", garbage, [("origin", b"test")])
        producer.produce_raw(topic, b"D-empty", b"", [])

    with view_publisher(pg_settings) as publisher:
        views = wait_for_views(pg_settings.database_dsn(), len(history))
        letters = consume_all(pg_settings, serde.topics.dlq, expected=2)
    assert publisher.snapshots_written >= len(history)

    expected = {d: snapshot(steps[-1], d) for d, steps in history.items()}
    assert views == expected  # the latest state of each, not an earlier one
    on_topic: dict[str, DebtorView] = {}
    for message in consume_all(pg_settings, serde.topics.debtor_view, expected=len(history)):
        view = serde.deserialize(serde.topics.debtor_view, message.value())
        assert isinstance(view, DebtorView)
        on_topic[view.debtor_id] = view
    assert on_topic == expected

    dead = [serde.deserialize(serde.topics.dlq, m.value()) for m in letters]
    assert all(isinstance(d, DeadLetter) for d in dead)
    by_key = {d.key: d for d in dead if isinstance(d, DeadLetter)}
    assert set(by_key) == {b"D-garbage", b"D-empty"}
    assert by_key[b"D-garbage"].value == garbage  # the original bytes
    assert by_key[b"D-garbage"].source_topic == topic
    assert by_key[b"D-garbage"].error_type == "DECODE_ERROR"
    assert "not a debtor state" in by_key[b"D-garbage"].error_message
    assert ("origin", b"test") in [(h.key, h.value) for h in by_key[b"D-garbage"].headers]


def test_a_restarted_publisher_goes_on_from_its_committed_offsets(pg_settings: Settings) -> None:
    serde = Serde(pg_settings)
    topic = serde.topics.debtor_states
    first, second = states("D-pub-a"), states("D-pub-b")
    with RecaudoProducer(pg_settings, serde) as producer:
        producer.produce_raw(topic, b"D-pub-a", first[-1].encode(), [])
    with view_publisher(pg_settings) as publisher:
        assert set(wait_for_views(pg_settings.database_dsn(), 1)) == {"D-pub-a"}
    assert publisher.snapshots_written == 1

    with RecaudoProducer(pg_settings, serde) as producer:
        producer.produce_raw(topic, b"D-pub-b", second[-1].encode(), [])
    with view_publisher(pg_settings) as again:
        views = wait_for_views(pg_settings.database_dsn(), 2)
    assert set(views) == {"D-pub-a", "D-pub-b"}
    assert again.snapshots_written == 1  # D-pub-a was committed: not read again


def test_a_publisher_stalled_past_its_poll_interval_rejoins_and_goes_on(
    pg_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # A publisher that cannot reach Postgres for longer than
    # max.poll.interval.ms is put out of its group and its assignment is
    # lost. It must not die of the commit that is then refused, nor publish
    # what it read from partitions another replica may own by now: it
    # rejoins, reads them again from the last committed offset and goes on.
    serde = Serde(pg_settings)
    topic = serde.topics.debtor_states
    steps = states("D-stall")
    dsn = pg_settings.database_dsn()
    with RecaudoProducer(pg_settings, serde) as producer:
        producer.produce_raw(topic, b"D-stall", steps[0].encode(), [])
    publisher = ViewPublisher(
        pg_settings, interval_s=0.5, consumer_overrides={"max.poll.interval.ms": 7000}
    )
    caplog.set_level(logging.WARNING, logger="streams.view_publisher")
    failures: list[BaseException] = []

    def run() -> None:
        try:
            publisher.run()
        except BaseException as exc:
            failures.append(exc)
            raise

    thread = threading.Thread(target=run, name="view-publisher")
    thread.start()
    try:
        assert wait_for_views(dsn, 1) == {"D-stall": snapshot(steps[0], "D-stall")}
        with psycopg.connect(dsn) as blocker:
            # Held until the rollback: the publisher's upsert waits on it.
            blocker.execute("LOCK TABLE debtor_view IN ACCESS EXCLUSIVE MODE")
            with RecaudoProducer(pg_settings, serde) as producer:
                producer.produce_raw(topic, b"D-stall", steps[-1].encode(), [])
            time.sleep(9)
            blocker.rollback()
        expected = snapshot(steps[-1], "D-stall")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
            publisher.assignments_lost == 0
            or not publisher.ready
            or wait_for_views(dsn, 1, timeout_s=1) != {"D-stall": expected}
        ):
            time.sleep(0.5)
        assert publisher.assignments_lost >= 1
        assert wait_for_views(dsn, 1) == {"D-stall": expected}
        assert thread.is_alive() and publisher.running
    finally:
        publisher.stop()
        thread.join(60)
    assert not thread.is_alive()
    assert failures == []  # it stopped as asked, not of an error
    said = [r.getMessage() for r in caplog.records if r.name == "streams.view_publisher"]
    assert any("lost" in line for line in said), said
