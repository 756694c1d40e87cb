"""A crash-looping worker under `recaudo up` is visible: `recaudo status` (the
command, as a user runs it) shows its restarts, last exit code and last error
line and exits 2; the dashboard's data shows it too. A healthy runtime's
status exits 0."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from recaudo.dashboard.data import Snapshot, read_workers
from recaudo.dashboard.lag import LagReport
from recaudo.dashboard.page import figures, sections
from recaudo.embedded.broker import EmbeddedBroker
from recaudo.embedded.state import CRASH_LOOP_EXITS, read_worker_exits
from tests.integration.embedded.test_runtime_core import wait_ready
from tests.integration.environment import cli_env
from tests.integration.waiting import wait_until

pytestmark = pytest.mark.integration

ERROR_LINE = "2026-12-07 10:00:00,000 ERROR streams.kpis: cannot go on at offset 7"

UP = f"""
import sys
from recaudo.embedded.runtime import run_up
from recaudo.embedded.supervisor import ProcessSpec
from recaudo.settings import Settings

crasher = [sys.executable, "-c", '''
import sys
print("starting", flush=True)
print({ERROR_LINE!r}, file=sys.stderr, flush=True)
print("shutting down", flush=True)
sys.exit(3)
''']
sleeper = [sys.executable, "-c", "import time; time.sleep(1000)"]
workers = [ProcessSpec("sleeper", sleeper)]
if sys.argv[1] == "with-crasher":
    workers.append(ProcessSpec("crasher", crasher))
sys.exit(run_up(Settings(), workers, progress=lambda line: print(line, flush=True)))
"""


@contextmanager
def up(state_dir: Path, broker: EmbeddedBroker, pg_dsn: str, mode: str) -> Iterator[int]:
    """`recaudo up` on the session's broker and Postgres; yields its pid."""
    proc = subprocess.Popen(
        [sys.executable, "-c", UP, mode],
        env=cli_env(
            state_dir,
            KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers,
            DATABASE_URL=pg_dsn,
            RECAUDO_TOPIC_PREFIX=f"t{uuid.uuid4().hex[:8]}",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_ready(state_dir, proc)
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0]
        assert proc.returncode == 0, out


def recaudo_status(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recaudo", "status", *args],
        env=cli_env(state_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_crash_looping_worker_shows_in_status_and_on_the_dashboard(
    tmp_path: Path, broker: EmbeddedBroker, pg_dsn: str
) -> None:
    with up(tmp_path, broker, pg_dsn, "with-crasher") as supervisor_pid:

        def crash_looped() -> bool:
            exits = read_worker_exits(tmp_path, supervisor_pid).get("crasher")
            return exits is not None and len(exits.recent_exits) >= CRASH_LOOP_EXITS

        assert wait_until(crash_looped, 60), "the crasher did not exit 3 times"

        shown = recaudo_status(tmp_path)
        assert shown.returncode == 2, shown.stdout + shown.stderr
        out = shown.stdout
        crasher = [line for line in out.splitlines() if line.strip().startswith("crasher ")]
        assert crasher and "CRASH-LOOPING" in crasher[-1], out
        assert "last exit code 3" in crasher[-1], out
        assert f"last error: {ERROR_LINE}" in out  # not the line printed after it
        assert "crash-looping: crasher (exited 3 or more times in 5 min)" in out
        assert not [line for line in out.splitlines() if "sleeper" in line and "CRASH" in line]

        as_json = json.loads(recaudo_status(tmp_path, "--json").stdout)
        assert as_json["crash_looping"] == ["crasher"]
        reported = as_json["worker_exits"]["crasher"]
        assert reported["last_exit_code"] == 3 and reported["last_error"] == ERROR_LINE
        assert reported["restarts"] >= CRASH_LOOP_EXITS - 1
        assert as_json["worker_exits"]["sleeper"]["last_exit_code"] is None

        workers = read_workers(tmp_path)
        assert set(workers) == {"crasher"}  # the sleeper never exited
        snap = Snapshot(workers=workers)
        page = sections(snap, LagReport())["workers"]
        assert 'data-crash-looping="crasher"' in page
        assert "cannot go on at offset 7" in page
        assert figures(snap, LagReport())["crash_looping"] == ["crasher"]


def test_a_healthy_runtime_status_exits_0(
    tmp_path: Path, broker: EmbeddedBroker, pg_dsn: str
) -> None:
    with up(tmp_path, broker, pg_dsn, "healthy"):
        shown = recaudo_status(tmp_path)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert "sleeper" in shown.stdout
        assert "CRASH-LOOPING" not in shown.stdout
        assert read_workers(tmp_path) == {}
        assert sections(Snapshot(workers=read_workers(tmp_path)), LagReport())["workers"] == ""
