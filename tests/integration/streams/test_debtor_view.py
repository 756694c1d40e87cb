"""The view processor on the real broker and real Postgres."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from recaudo.contracts.records import DebtEvent, DebtorView, Envelope
from recaudo.db.view_store import all_views
from recaudo.demo.portfolio import generate
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings, env_for_children
from recaudo.view import DebtorState, apply, snapshot
from streams.debtor_view import NAME, DebtorViewProcessor
from tests.integration.kafka_io import consume_all, wait_caught_up
from tests.integration.streams.worker_process import streams_worker, view_publisher
from tests.integration.waiting import wait_until

pytestmark = pytest.mark.integration


def expected_views(events: list[Envelope]) -> dict[str, dict[str, Any]]:
    states: dict[str, DebtorState | None] = {}
    for event in events:
        assert hasattr(event, "debtor_id")
        states[event.debtor_id] = apply(states.get(event.debtor_id), event).state  # type: ignore[attr-defined]
    return {d: comparable(snapshot(s, d)) for d, s in states.items() if s is not None}


def comparable(view: DebtorView) -> dict[str, Any]:
    return view.model_dump()


def publish(settings: Settings, events: list[Envelope]) -> None:
    with RecaudoProducer(settings) as producer:
        producer.publish_many(events)


def wait_for(dsn: str, expected: dict[str, dict[str, Any]], timeout_s: float) -> dict[str, Any]:
    """The views in Postgres once they are ``expected``, or as they stand at the deadline."""
    got: dict[str, Any] = {}

    def arrived() -> bool:
        nonlocal got
        try:
            with psycopg.connect(dsn) as conn:
                got = {d: comparable(v) for d, v in all_views(conn).items()}
        except psycopg.errors.UndefinedTable:
            pass  # the worker applies the migrations when it starts
        return got == expected

    wait_until(arrived, timeout_s, every_s=0.2)
    return got


def run_until_views(
    settings: Settings,
    expected: dict[str, dict[str, Any]],
    caught_up: Callable[[DebtorViewProcessor], None] | None = None,
) -> dict[str, Any]:
    """Run the view processor and the view publisher until Postgres holds
    ``expected`` (or 90 s pass); ``caught_up`` sees the processor then,
    still running.

    The processor's signal handlers need the main thread: it runs there, and a
    helper thread watches Postgres and stops it."""
    # The view of the events alone: no orchestrator, no wall-clock timers.
    processor = DebtorViewProcessor(settings, orchestrate=False, timers=False)
    result: dict[str, Any] = {}

    def watch() -> None:
        try:
            result["views"] = wait_for(settings.database_dsn(), expected, timeout_s=90)
            if caught_up is not None:
                caught_up(processor)
        finally:
            processor.stop()

    with view_publisher(settings):
        watcher = threading.Thread(target=watch)
        watcher.start()
        processor.run()
        watcher.join()
    return result["views"]  # type: ignore[no-any-return]


def test_portfolio_view_lands_in_postgres_and_on_the_topic(pg_settings: Settings) -> None:
    events = list(generate(40, days=10, seed=3))
    publish(pg_settings, events)
    expected = expected_views(events)
    partitions: list[object] = []
    assigned_while_running: list[bool] = []
    seen: list[DebtorViewProcessor] = []

    def held_partitions(processor: DebtorViewProcessor) -> None:
        # Caught up, so nothing folds in meanwhile: the held set is still.
        # (Recorded, not asserted: a failed assert in this helper thread
        # would only be a warning.)
        held = {id(h.partition): h.partition for h in processor.folder.held.values()}
        partitions.extend(held.values())
        assigned_while_running.extend(processor.processor.is_assigned(p) for p in partitions)
        seen.append(processor)

    assert run_until_views(pg_settings, expected, held_partitions) == expected
    assert partitions, "the processor held no debtor"
    assert all(assigned_while_running)
    # Stopped, the worker's store partitions are closed: none is its any more
    # (what keeps a lost partition's debtors out of the changelog).
    assert not any(seen[0].processor.is_assigned(p) for p in partitions)

    serde = Serde(pg_settings)
    snapshots = consume_all(pg_settings, serde.topics.debtor_view, expected=len(expected))
    latest: dict[str, DebtorView] = {}
    for message in snapshots:
        view = serde.deserialize(serde.topics.debtor_view, message.value())
        assert isinstance(view, DebtorView)
        if view.debtor_id not in latest or view.version > latest[view.debtor_id].version:
            latest[view.debtor_id] = view
    assert {d: comparable(v) for d, v in latest.items()} == expected
    # Coalesced: far fewer snapshots than events.
    assert len(snapshots) < len(events) / 3

    derived = [
        e
        for m in consume_all(pg_settings, serde.topics.debt_events, expected=len(events) + 1)
        if isinstance(e := serde.deserialize(serde.topics.debt_events, m.value()), DebtEvent)
        and e.source == "recaudo.view"
    ]
    assert derived, "bucket changes and cures are published back"
    assert len({e.event_id for e in derived}) == len(derived)


def test_killed_worker_restarts_and_converges(pg_settings: Settings) -> None:
    events = list(generate(60, days=12, seed=5))
    expected = expected_views(events)
    env = env_for_children(
        pg_settings,
        RECAUDO_INSTANCE_ID="w0",
        RECAUDO_LOG_LEVEL="WARNING",
        # The view of the events alone, as `expected` is.
        RECAUDO_ORCHESTRATE="false",
        RECAUDO_TIMERS="false",
    )

    third = len(events) // 3
    serde = Serde(pg_settings)
    t = serde.topics
    inputs = [t.debt_events, t.debtor_profiles, t.contact_decisions, t.channel_responses]
    view_group = {f"{pg_settings.topic_prefix}.{NAME}": inputs}
    with streams_worker(env) as worker, streams_worker(env, "publisher") as publisher:
        publish(pg_settings, events[:third])
        wait_caught_up(pg_settings, view_group)  # joined, and a third folded in
        publish(pg_settings, events[third : 2 * third])
        worker.kill_and_restart()  # mid-stream: what it read of the second third is uncommitted
        publish(pg_settings, events[2 * third :])
        publisher.kill_and_restart()
        got = wait_for(pg_settings.database_dsn(), expected, timeout_s=120)
        assert got == expected


def test_rebuild_equals_the_live_view(pg_settings: Settings) -> None:
    from streams.rebuild import rebuild

    events = list(generate(30, days=8, seed=9))
    publish(pg_settings, events)
    expected = expected_views(events)
    live = run_until_views(pg_settings, expected)
    assert live == expected

    # Stopped at the ends read when it starts: no quiet period to wait out.
    replayed = rebuild(pg_settings, progress=lambda _: None, timeout_s=120, quiet_s=0)
    assert replayed >= len(events)
    with psycopg.connect(pg_settings.database_dsn()) as conn:
        rebuilt = {d: comparable(v) for d, v in all_views(conn).items()}
    assert rebuilt == live


def test_a_restarted_worker_resumes_from_its_own_store(pg_settings: Settings) -> None:
    # The second worker finds the first one's RocksDB store and checks it
    # against the changelog's end before recovering from it.
    events = list(generate(40, days=10, seed=7))
    half = len(events) // 2
    publish(pg_settings, events[:half])
    assert run_until_views(pg_settings, expected_views(events[:half])) == expected_views(
        events[:half]
    )
    publish(pg_settings, events[half:])
    expected = expected_views(events)
    assert run_until_views(pg_settings, expected) == expected
