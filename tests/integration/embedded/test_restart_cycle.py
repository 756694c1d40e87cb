"""`recaudo up`, publish, `recaudo down`, `recaudo up`, publish: with the real
workers on the embedded broker (which forgets its topics at `down`) and
Postgres (which does not), the second run rebuilds the same view from the
journaled inputs, contacts nobody again, and no worker crash-loops."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from recaudo.contracts.records import CHANNELS, DispatchCommand
from recaudo.embedded.ports import free_port
from recaudo.embedded.runtime import run_down
from recaudo.embedded.state import RuntimeRecord, live_record, pid_alive
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings
from tests.integration.environment import cli_env
from tests.integration.kafka_io import caught_up, no_timer_due, worker_groups

pytestmark = pytest.mark.integration

PORTFOLIO = Path(__file__).resolve().parents[3] / "examples" / "portfolio.jsonl"
FIRST, SECOND = "D-CO-0001", "D-US-0001"
#: A Friday, 10:00 in Bogotá, the day the first debtor missed a payment (a
#: trigger recent enough to contact about), inside the allowed hours; frozen
#: so that both runs decide at the same instant. The portfolio's records up to
#: then are published.
FROZEN_AT = datetime(2026, 11, 6, 15, 0, tzinfo=UTC)
#: With the clock frozen the pipeline reaches a fixed point within this.
SETTLE_S = 90.0
DASHBOARD_PORT = free_port()


@pytest.fixture
def state_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="rccy"))  # short: Postgres' socket lives in it
    yield path
    run_down(Settings(state_dir=path), timeout_s=5)
    shutil.rmtree(path, ignore_errors=True)


def recaudo(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(
        state_dir,
        RECAUDO_CLOCK_ORIGIN=FROZEN_AT.isoformat(),
        RECAUDO_CLOCK_UNTIL=FROZEN_AT.isoformat(),
        RECAUDO_CLOCK_STARTED=repr(time.time()),
        # Its own dashboard port: another runtime on this machine may hold the default.
        RECAUDO_DASHBOARD_PORT=str(DASHBOARD_PORT),
    )
    return subprocess.run(
        [sys.executable, "-m", "recaudo", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def rows_of(debtor_id: str, tmp: Path) -> tuple[Path, int]:
    """The portfolio's records of one debtor up to the frozen instant, in a file of their own."""
    records = [json.loads(line) for line in PORTFOLIO.read_text().splitlines() if line[:1] == "{"]
    lines = [
        json.dumps(record)
        for record in records
        if record["debtor_id"] == debtor_id
        and datetime.fromisoformat(record["occurred_at"]) <= FROZEN_AT
    ]
    path = tmp / f"{debtor_id}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, len(lines)


def up(state_dir: Path) -> tuple[RuntimeRecord, str]:
    started = recaudo(state_dir, "up", "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    record = live_record(state_dir)
    assert record is not None and record.phase == "ready"
    return record, started.stdout


def publish(state_dir: Path, path: Path, count: int) -> None:
    done = recaudo(state_dir, "publish", str(path))
    assert f"published {count} event(s); 0 invalid" in done.stdout, done.stdout + done.stderr


def view(record: RuntimeRecord, debtor_id: str) -> dict[str, Any] | None:
    """What the view says of the debtor, without what changes with each rebuild."""
    assert record.database_url is not None
    with psycopg.connect(record.database_url) as conn:
        row = conn.execute(
            "SELECT snapshot FROM debtor_view WHERE debtor_id = %s", (debtor_id,)
        ).fetchone()
    if row is None:
        return None
    snapshot: dict[str, Any] = row[0]
    for volatile in ("event_id", "occurred_at", "version"):
        snapshot.pop(volatile, None)
    return snapshot


def contacted(snapshot: dict[str, Any] | None) -> int:
    return 0 if snapshot is None else sum(c["sent"] for c in snapshot["channels"])


def ledger(state_dir: Path) -> set[str]:
    """Every dispatch id the connectors handed to their providers."""
    ids: set[str] = set()
    for path in (state_dir / "connectors").glob("*.sqlite"):
        with sqlite3.connect(path) as db:
            # A connector that has just opened its ledger may not have created the table yet.
            created = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sent'"
            ).fetchone()
            if created:
                ids.update(row[0] for row in db.execute("SELECT dispatch_id FROM sent"))
    return ids


def wait_for(what: str, check: Any, record: RuntimeRecord) -> Any:
    deadline = time.monotonic() + SETTLE_S
    while True:
        assert pid_alive(record.supervisor_pid), f"recaudo up died waiting for {what}"
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"no {what} within {SETTLE_S:.0f} s"
        time.sleep(0.3)


def settled(state_dir: Path, record: RuntimeRecord, debtor_id: str) -> dict[str, Any]:
    """The debtor's view once the pipeline is at its fixed point (at least
    one contact made): no timer due and every group's inputs committed to
    their end, twice in a row (a wake-up on its way shows in between)."""
    wait_for("a contact", lambda: contacted(view(record, debtor_id)), record)
    settings = Settings(kafka_bootstrap_servers=record.bootstrap_servers, embedded_broker=True)
    groups = worker_groups(settings)
    streak = [0]

    def at_rest() -> bool:
        still = no_timer_due(settings, FROZEN_AT) and caught_up(settings, groups)
        streak[0] = streak[0] + 1 if still else 0
        return streak[0] >= 2

    wait_for("the pipeline at rest", at_rest, record)
    found = view(record, debtor_id)
    assert found is not None
    return found


def dispatched(record: RuntimeRecord, wanted: set[str]) -> set[str]:
    """Which of the ``wanted`` dispatch ids are on this broker's dispatch topics."""
    settings = Settings(kafka_bootstrap_servers=record.bootstrap_servers, embedded_broker=True)
    serde = Serde(settings)
    topics = [serde.topics.dispatch(channel) for channel in CHANNELS]
    consumer = Consumer(
        {"bootstrap.servers": record.bootstrap_servers, "group.id": "t", "enable.auto.commit": 0}
    )
    assignment = []
    for topic in topics:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        assignment += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions]
    consumer.assign(assignment)
    found: set[str] = set()
    deadline = time.monotonic() + 20
    try:
        while found < wanted and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                command = serde.deserialize(msg.topic() or "", msg.value())
                assert isinstance(command, DispatchCommand)
                found.add(command.dispatch_id)
    finally:
        consumer.close()
    return found & wanted


def keys_on(record: RuntimeRecord, topic: str, expected: int) -> list[bytes]:
    """Keys of the first ``expected`` records of ``topic`` (every partition)."""
    assert record.bootstrap_servers is not None
    consumer = Consumer(
        {"bootstrap.servers": record.bootstrap_servers, "group.id": "t", "enable.auto.commit": 0}
    )
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
    keys: list[bytes] = []
    deadline = time.monotonic() + 20
    try:
        while len(keys) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                keys.append(msg.key() or b"")
    finally:
        consumer.close()
    return keys


def test_down_then_up_rebuilds_the_same_view_and_contacts_nobody_again(
    state_dir: Path, tmp_path: Path
) -> None:
    first_rows, first_count = rows_of(FIRST, tmp_path)
    second_rows, second_count = rows_of(SECOND, tmp_path)

    record, _ = up(state_dir)
    publish(state_dir, first_rows, first_count)
    before = settled(state_dir, record, FIRST)
    sent_before = ledger(state_dir)
    assert "recaudo stopped." in recaudo(state_dir, "down").stdout

    record, said = up(state_dir)
    # `up` says what it dropped and what came back.
    assert "clearing derived state… 1 debtor view(s)" in said, said
    replayed = f"published record(s) back (debt-events {first_count - 1}, debtor-profiles 1"
    assert replayed in said, said
    children = dict(record.children)
    # The fresh broker holds what was published before `down`, replayed.
    events = keys_on(record, "recaudo.debt-events", first_count - 1)
    assert events.count(FIRST.encode()) == first_count - 1
    assert keys_on(record, "recaudo.debtor-profiles", 1) == [FIRST.encode()]
    # The same view, rebuilt from the replay; every contact of the first run
    # decided again with the same dispatch id, so answered from the
    # sent-ledger: nobody was contacted again.
    after = settled(state_dir, record, FIRST)
    assert after == before, (before, after)
    assert dispatched(record, sent_before) == sent_before
    assert ledger(state_dir) == sent_before, (sent_before, ledger(state_dir))

    publish(state_dir, second_rows, second_count)
    wait_for("the second debtor's view", lambda: view(record, SECOND), record)
    assert view(record, FIRST) == before
    # No worker died along the way (the old local state crash-looped the KPI worker).
    current = live_record(state_dir)
    assert current is not None and current.children == children
    logs = "".join(p.read_text(errors="replace") for p in (state_dir / "logs").glob("*.log"))
    assert "InvalidChangelogOffset" not in logs
    assert "recaudo stopped." in recaudo(state_dir, "down").stdout
