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

from recaudo.embedded.ports import free_port
from recaudo.embedded.runtime import run_down
from recaudo.embedded.state import RuntimeRecord, live_record, pid_alive
from recaudo.settings import Settings
from tests.integration.environment import cli_env

pytestmark = pytest.mark.integration

PORTFOLIO = Path(__file__).resolve().parents[3] / "examples" / "portfolio.jsonl"
FIRST, SECOND = "D-CO-0001", "D-BR-0001"
#: A Tuesday, 10:00 in Bogotá: inside every preset's allowed hours, frozen so
#: that both runs decide at the same instant.
FROZEN_AT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
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
    """The portfolio's records of one debtor, in a file of their own."""
    lines = [
        line
        for line in PORTFOLIO.read_text().splitlines()
        if line.startswith("{") and json.loads(line)["debtor_id"] == debtor_id
    ]
    path = tmp / f"{debtor_id}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, len(lines)


def up(state_dir: Path) -> RuntimeRecord:
    started = recaudo(state_dir, "up", "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    record = live_record(state_dir)
    assert record is not None and record.phase == "ready"
    return record


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

    record = up(state_dir)
    publish(state_dir, first_rows, first_count)
    wait_for("first contact", lambda: contacted(view(record, FIRST)) and ledger(state_dir), record)
    before = view(record, FIRST)
    sent_before = ledger(state_dir)
    assert "recaudo stopped." in recaudo(state_dir, "down").stdout

    record = up(state_dir)
    children = dict(record.children)
    # The fresh broker holds what was published before `down`, replayed.
    profile_and_events = keys_on(record, "recaudo.debt-events", first_count - 1)
    assert profile_and_events.count(FIRST.encode()) == first_count - 1
    assert keys_on(record, "recaudo.debtor-profiles", 1) == [FIRST.encode()]
    wait_for("the same view", lambda: view(record, FIRST) == before, record)
    publish(state_dir, second_rows, second_count)
    wait_for("the second debtor's view", lambda: view(record, SECOND), record)

    # Every contact of the first run was decided again with the same dispatch
    # id, so answered from the sent-ledger: nobody was contacted twice.
    assert sent_before <= ledger(state_dir)
    assert view(record, FIRST) == before
    assert contacted(view(record, FIRST)) == contacted(before)
    # No worker died along the way (the old local state crash-looped the KPI worker).
    current = live_record(state_dir)
    assert current is not None and current.children == children
    logs = "".join(p.read_text(errors="replace") for p in (state_dir / "logs").glob("*.log"))
    assert "InvalidChangelogOffset" not in logs
    assert "recaudo supervisor:" not in logs
    up_log = (state_dir / "logs" / "up.log").read_text()
    assert "clearing derived state… 1 debtor view(s)" in up_log, up_log
    replayed = f"published record(s) back (debt-events {first_count - 1}, debtor-profiles 1"
    assert replayed in up_log, up_log
    assert "recaudo stopped." in recaudo(state_dir, "down").stdout
