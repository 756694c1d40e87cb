"""``run_up`` / ``run_status`` / ``run_down`` with the real Tansu and Postgres,
and stand-in workers: the runtime's own promises, without the CLI."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from recaudo.embedded.runtime import run_down, run_status, run_up
from recaudo.embedded.state import RuntimeRecord, pid_alive, read_record
from recaudo.settings import Settings
from tests.integration.environment import cli_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="looks for leftovers in /proc"),
]

READY_WITHIN_S = 20.0

UP = """
import sys
from recaudo.embedded.runtime import run_up
from recaudo.embedded.supervisor import ProcessSpec
from recaudo.settings import Settings
from tests.integration.environment import cli_env

sleeper = [sys.executable, "-c", "import time; time.sleep(1000)"]
workers = [ProcessSpec(f"sleeper-{i}", sleeper) for i in range(2)]
sys.exit(run_up(Settings(), workers, progress=lambda line: print(line, flush=True)))
"""


def start_up(state_dir: Path, *, own_group: bool = False, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", UP],
        env=cli_env(state_dir, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0 if own_group else None,
    )


def wait_ready(state_dir: Path, proc: subprocess.Popen[str]) -> tuple[RuntimeRecord, float]:
    started = time.monotonic()
    while time.monotonic() - started < READY_WITHIN_S:
        record = read_record(state_dir)
        if record is not None and record.phase == "ready" and record.supervisor_pid == proc.pid:
            return record, time.monotonic() - started
        if proc.poll() is not None:
            pytest.fail(f"run_up exited with {proc.returncode}:\n{proc.communicate()[0]}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"not ready within {READY_WITHIN_S} s:\n{proc.communicate()[0]}")


def processes_of(state_dir: Path, record: RuntimeRecord) -> list[str]:
    """Command lines of any process still tied to this runtime: its Postgres
    (data dir in the command line), its Tansu (port), its workers."""
    port = (record.bootstrap_servers or "").rpartition(":")[2]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ours = str(state_dir) in cmd or ("tansu" in cmd and f":{port} " in f"{cmd} ")
        if ours and pid_alive(int(entry.name)):
            found.append(f"{entry.name}: {cmd}")
    return found


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Short: Postgres puts its Unix socket in here.
    path = Path(tempfile.mkdtemp(prefix="rc"))
    yield path
    run_down(Settings(state_dir=path), timeout_s=5)
    shutil.rmtree(path, ignore_errors=True)


def test_up_status_roundtrip_down(state_dir: Path) -> None:
    proc = start_up(state_dir)
    record, took = wait_ready(state_dir, proc)
    print(f"run_up ready in {took:.2f} s (own measure {record.ready_after_s} s)")
    settings = Settings(state_dir=state_dir)

    status = run_status(settings)
    assert status["running"] and status["phase"] == "ready"
    assert status["broker"]["embedded"] and status["broker"]["alive"]
    assert status["broker"]["reachable"]
    assert status["postgres"]["embedded"] and status["postgres"]["alive"]
    assert set(status["workers"]) == {"sleeper-0", "sleeper-1"}
    assert all(w["alive"] for w in status["workers"].values())

    refused: list[str] = []
    assert run_up(settings, [], progress=refused.append) == 1
    assert refused == [f"recaudo is already running (pid {proc.pid}); `recaudo down` stops it."]

    assert record.bootstrap_servers is not None
    topic = "recaudo.debt-events"
    value = uuid.uuid4().hex.encode()
    producer = Producer({"bootstrap.servers": record.bootstrap_servers})
    producer.produce(topic, value, key=b"debtor-1", partition=0)
    assert producer.flush(10) == 0
    # An open client connection holds Tansu's shutdown up to its 5 s stop timeout.
    del producer
    consumer = Consumer(
        {
            "bootstrap.servers": record.bootstrap_servers,
            "group.id": "t",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    got = None
    deadline = time.monotonic() + 10
    while got is None and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is not None and not msg.error() and msg.value() == value:
            got = msg
    consumer.close()
    assert got is not None and got.key() == b"debtor-1"

    pids = record.pids()
    assert run_down(settings) is True
    assert proc.wait(5) == 0
    out = proc.communicate()[0]
    for line in (
        "starting broker (Tansu)… ready on 127.0.0.1:",
        "starting Postgres… ready",
        "creating topics…",
        "starting workers: sleeper-0, sleeper-1",
        "recaudo is up in",
        "stopping…",
        "stopped (",
    ):
        assert line in out, out
    assert not [name for name, pid in pids.items() if pid_alive(pid)]
    assert processes_of(state_dir, record) == []
    assert read_record(state_dir) is None
    assert run_status(settings) == {"running": False, "state_dir": str(state_dir)}
    assert run_down(settings) is False


def test_sigterm_to_up_leaves_no_orphan(state_dir: Path) -> None:
    proc = start_up(state_dir)
    record, _ = wait_ready(state_dir, proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert not [pid for pid in record.pids().values() if pid_alive(pid)]
    assert processes_of(state_dir, record) == []
    assert read_record(state_dir) is None


def test_ctrl_c_in_the_terminal_stops_everything_in_order(state_dir: Path) -> None:
    # A terminal sends SIGINT to its whole foreground process group.
    proc = start_up(state_dir, own_group=True)
    record, _ = wait_ready(state_dir, proc)
    os.killpg(proc.pid, signal.SIGINT)
    out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, out
    assert "stopped (" in out and "exited unexpectedly" not in out, out
    assert not [pid for pid in record.pids().values() if pid_alive(pid)]
    assert processes_of(state_dir, record) == []
    # Workers are in groups of their own: stopped by the supervisor, not the terminal.
    for name in ("sleeper-0", "sleeper-1"):
        assert "KeyboardInterrupt" not in (state_dir / "logs" / f"{name}.log").read_text()


def test_a_dead_broker_stops_the_runtime(state_dir: Path) -> None:
    proc = start_up(state_dir)
    record, _ = wait_ready(state_dir, proc)
    assert record.broker_pid is not None
    os.kill(record.broker_pid, signal.SIGKILL)
    out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 1, out
    assert "the embedded broker exited unexpectedly" in out
    assert not [pid for pid in record.pids().values() if pid_alive(pid)]
    assert processes_of(state_dir, record) == []


def processes_in(directory: Path) -> list[int]:
    """Processes working in ``directory`` (Postgres' postmaster and every helper
    run in its data directory, whatever their command line says)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = (entry / "cwd").resolve()
        except OSError:
            continue
        if cwd.is_relative_to(directory.resolve()) and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def produce(bootstrap: str, topic: str, value: bytes, key: bytes) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, value, key=key, partition=0, headers=[("ce_id", value)])
    assert producer.flush(10) == 0
    # An open client connection holds Tansu's shutdown up to its 5 s stop timeout.
    del producer


def read_back(bootstrap: str, topic: str, value: bytes) -> bool:
    """Whether ``value`` is on ``topic``[0] (reading from its beginning)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "t", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error() and msg.value() == value:
                return True
        return False
    finally:
        consumer.close()


def wait_journaled(state_dir: Path, value: bytes, proc: subprocess.Popen[str]) -> None:
    path = state_dir / "journal" / "debt-events.jsonl"
    encoded = base64.b64encode(value)
    deadline = time.monotonic() + READY_WITHIN_S
    while not (path.is_file() and encoded in path.read_bytes()):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, f"{value!r} never reached {path}"
        time.sleep(0.05)


def test_a_killed_up_leaves_nothing_running_and_the_next_up_brings_its_inputs_back(
    state_dir: Path,
) -> None:
    proc = start_up(state_dir)
    record, _ = wait_ready(state_dir, proc)
    assert record.bootstrap_servers is not None
    value = uuid.uuid4().hex.encode()
    produce(record.bootstrap_servers, "recaudo.debt-events", value, b"debtor-1")
    wait_journaled(state_dir, value, proc)
    # Derived state of this run, which the next one must not take as its own.
    (state_dir / "streams" / "kpis").mkdir(parents=True)

    proc.kill()  # no chance to clean up: only what the kernel does
    proc.wait()
    settings = Settings(state_dir=state_dir)
    # Workers, the broker and Postgres (with its helpers) go with their parent.
    deadline = time.monotonic() + 15
    while (
        any(pid_alive(p) for p in record.pids().values()) or processes_in(state_dir)
    ) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [name for name, pid in record.pids().items() if pid_alive(pid)]
    assert processes_in(state_dir) == []
    assert processes_of(state_dir, record) == []
    status = run_status(settings)
    assert not status["running"] and status["stale"] and status["leftovers"] == {}

    again = start_up(state_dir)
    second, _ = wait_ready(state_dir, again)
    assert second.bootstrap_servers is not None
    assert read_back(second.bootstrap_servers, "recaudo.debt-events", value)
    assert not (state_dir / "streams" / "kpis").exists()
    assert run_down(settings) is True
    out = again.communicate(timeout=30)[0]
    assert "replaying the journal… 1 published record(s) back (debt-events 1)" in out, out
    assert "clearing derived state… 0 debtor view(s), 0 KPI row(s) and the stream state" in out


def test_postgres_killed_under_up_is_restarted(state_dir: Path) -> None:
    proc = start_up(state_dir)
    record, _ = wait_ready(state_dir, proc)
    assert record.postgres_pid is not None and record.bootstrap_servers is not None
    assert record.database_url is not None
    value = uuid.uuid4().hex.encode()
    produce(record.bootstrap_servers, "recaudo.debt-events", value, b"debtor-1")
    with psycopg.connect(record.database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE survives (x int)")

    os.kill(record.postgres_pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    restarted = None
    while restarted is None:
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "Postgres was not restarted"
        current = read_record(state_dir)
        if current is not None and current.postgres_pid not in (None, record.postgres_pid):
            restarted = current
        else:
            time.sleep(0.1)
    assert restarted.postgres_pid is not None and pid_alive(restarted.postgres_pid)
    status = run_status(Settings(state_dir=state_dir))
    assert status["running"] and status["postgres"]["alive"]
    with psycopg.connect(record.database_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM survives").fetchone() == (0,)
    # The broker, its topics and the workers carried on.
    assert restarted.broker_pid == record.broker_pid and pid_alive(record.broker_pid)
    assert restarted.children == record.children
    assert read_back(record.bootstrap_servers, "recaudo.debt-events", value)

    assert run_down(Settings(state_dir=state_dir)) is True
    out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, out
    assert "the embedded Postgres exited (code -9); restarting it in" in out, out
    assert "the embedded Postgres is back (pid " in out, out
    assert processes_in(state_dir) == []


def test_a_failing_step_exits_1_with_a_clear_message(state_dir: Path) -> None:
    proc = start_up(state_dir, RECAUDO_TANSU_BIN=str(state_dir / "no-tansu"))
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1, out
    assert "recaudo up: starting broker (Tansu) failed:" in out
    assert "no-tansu" in out
    assert read_record(state_dir) is None


def test_with_real_services_configured_it_starts_none(
    state_dir: Path, broker: object, pg_dsn: str
) -> None:
    from recaudo.embedded.broker import EmbeddedBroker

    assert isinstance(broker, EmbeddedBroker)
    proc = start_up(
        state_dir,
        KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers,
        DATABASE_URL=pg_dsn,
        RECAUDO_TOPIC_PREFIX=f"t{uuid.uuid4().hex[:8]}",
    )
    record, _ = wait_ready(state_dir, proc)
    assert record.broker_pid is None and record.postgres_pid is None
    assert record.bootstrap_servers == broker.bootstrap_servers
    assert not (state_dir / "postgres").exists()
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, out
    assert f"using Kafka at {broker.bootstrap_servers}" in out
    assert "using the Postgres of DATABASE_URL" in out
    assert "starting broker" not in out and "starting Postgres" not in out
