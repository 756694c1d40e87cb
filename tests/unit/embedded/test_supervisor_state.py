"""runtime.json and the state directory: what `status` and `down` trust."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from recaudo.embedded.state import (
    RuntimeRecord,
    live_record,
    process_start_time,
    read_record,
    release_lock,
    remove_record,
    runtime_file,
    try_lock,
    write_record,
)


def record(**fields: object) -> RuntimeRecord:
    return RuntimeRecord(
        supervisor_pid=os.getpid(),
        phase="ready",
        started_at=1.0,
        **fields,  # type: ignore[arg-type]
    )


def write_record_raw(state_dir: Path, rec: RuntimeRecord) -> None:
    """As written, start times included (write_record would take fresh ones)."""
    runtime_file(state_dir).write_text(rec.to_json())


def test_record_round_trip_is_private(tmp_path: Path) -> None:
    rec = record(broker_pid=os.getpid(), children={"w": None}, database_url="postgresql://x")
    write_record(tmp_path, rec)
    assert stat.S_IMODE(runtime_file(tmp_path).stat().st_mode) == 0o600
    back = read_record(tmp_path)
    assert back == rec
    assert back.start_times == {str(os.getpid()): process_start_time(os.getpid())}
    remove_record(tmp_path)
    assert read_record(tmp_path) is None
    remove_record(tmp_path)  # twice is fine


def test_a_broken_file_reads_as_no_record(tmp_path: Path) -> None:
    runtime_file(tmp_path).write_text("{not json")
    assert read_record(tmp_path) is None


def test_a_record_owns_only_its_own_live_processes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(done.stdout)
    rec = record(broker_pid=dead)
    write_record(tmp_path, rec)
    assert rec.owns(os.getpid()) and not rec.owns(dead) and not rec.owns(None)
    assert live_record(tmp_path) is not None
    # The same number, but a process that started at another time: a reused pid.
    rec.start_times[str(os.getpid())] = "1"
    write_record_raw(tmp_path, rec)
    assert not rec.owns(os.getpid())
    assert live_record(tmp_path) is None


def test_pids_by_role() -> None:
    rec = record(broker_pid=11, postgres_pid=None, children={"a": 12, "b": None})
    assert rec.pids() == {"supervisor": os.getpid(), "broker": 11, "a": 12}


def test_one_up_lock_per_state_dir(tmp_path: Path) -> None:
    first = try_lock(tmp_path)
    assert first is not None
    assert try_lock(tmp_path) is None
    release_lock(first)
    again = try_lock(tmp_path)
    assert again is not None
    release_lock(again)
