"""The embedded runtime's state directory and its ``runtime.json``.

Layout of ``RECAUDO_STATE_DIR`` (default ``~/.recaudo``)::

    postgres/       PostgreSQL data (kept across runs)
    logs/           broker.log, one log per worker, up.log when detached, and
                    workers.json: each worker's exits (restarts, last exit
                    code, last error line), written by the supervisor
    streams/        RocksDB state of the stream processors (derived: cleared
                    at each `recaudo up` that starts its own broker)
    journal/        what was published to the embedded broker's input topics,
                    replayed into the next one (recaudo.embedded.journal)
    connectors/     the connectors' sent-ledgers (kept: no contact made twice)
    runtime.json    what `recaudo up` is running: pids, addresses, readiness
    up.lock         held by the running `recaudo up`: one per state directory

A pid in ``runtime.json`` can outlive its process: after a crash or a reboot
the number may belong to something else. Each recorded pid therefore comes
with its process's start time, and a pid whose start time differs is treated
as gone, never signalled.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

Phase = Literal["starting", "ready", "stopping"]

#: A worker is crash-looping when it has exited at least this many times within
#: the last ``CRASH_LOOP_WINDOW_S`` seconds: one exit is a failure the
#: supervisor's restart handles; three in five minutes is a worker that keeps
#: failing and needs someone to look at its log.
CRASH_LOOP_EXITS = 3
CRASH_LOOP_WINDOW_S = 300.0


def process_start_time(pid: int) -> str | None:
    """An opaque token that differs between two processes that had the same pid;
    None when it cannot be read (no such process, or no way to ask)."""
    if sys.platform.startswith("linux"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            # Field 22, start time in clock ticks since boot; the command name
            # (field 2) may contain spaces, so count from its closing paren.
            return stat.rsplit(")", 1)[1].split()[19]
        except (OSError, IndexError):
            return None
    try:
        out = subprocess.run(
            ["ps", "-o", "lstart=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


def pid_alive(pid: int | None) -> bool:
    """Whether ``pid`` names a running process (a zombie does not count)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): signal 0 is all we can know


@dataclass
class RuntimeRecord:
    supervisor_pid: int
    phase: Phase
    started_at: float
    bootstrap_servers: str | None = None
    database_url: str | None = None
    embedded_broker: bool = False
    broker_pid: int | None = None
    postgres_pid: int | None = None
    children: dict[str, int | None] = field(default_factory=dict)
    #: Child name -> the port of its /healthz, /readyz and /metrics.
    health_ports: dict[str, int] = field(default_factory=dict)
    ready_after_s: float | None = None
    #: str(pid) -> process_start_time(pid) when it was recorded.
    start_times: dict[str, str] = field(default_factory=dict)

    def pids(self) -> dict[str, int]:
        """Every recorded process by role: supervisor, broker, postgres, children."""
        named: dict[str, int | None] = {
            "supervisor": self.supervisor_pid,
            "broker": self.broker_pid,
            "postgres": self.postgres_pid,
            **self.children,
        }
        return {name: pid for name, pid in named.items() if pid}

    def stamp(self) -> None:
        """Remember the start time of every recorded pid (call before writing)."""
        times = {str(pid): process_start_time(pid) for pid in self.pids().values()}
        self.start_times = {pid: t for pid, t in times.items() if t is not None}

    def owns(self, pid: int | None) -> bool:
        """``pid`` is running and is still the process this record names."""
        if not pid:
            return False
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            # PermissionError: another user's process, so not one `recaudo up` started.
            return False
        if not pid_alive(pid):
            return False
        recorded = self.start_times.get(str(pid))
        if recorded is None:
            return True  # start time was not readable then: the pid is all we have
        return process_start_time(pid) == recorded

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> RuntimeRecord:
        data: dict[str, Any] = json.loads(text)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def runtime_file(state_dir: Path) -> Path:
    return state_dir / "runtime.json"


def log_dir(state_dir: Path) -> Path:
    return state_dir / "logs"


def postgres_dir(state_dir: Path) -> Path:
    return state_dir / "postgres"


def write_record(state_dir: Path, record: RuntimeRecord) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    record.stamp()
    path = runtime_file(state_dir)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    # The file holds the Postgres URL: owner-only from the first byte.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(record.to_json())
    tmp.replace(path)  # atomic: readers never see half a file


def read_record(state_dir: Path) -> RuntimeRecord | None:
    try:
        return RuntimeRecord.from_json(runtime_file(state_dir).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def remove_record(state_dir: Path) -> None:
    runtime_file(state_dir).unlink(missing_ok=True)


def live_record(state_dir: Path) -> RuntimeRecord | None:
    """The record of a `recaudo up` that is still running, else None."""
    record = read_record(state_dir)
    if record is None or not record.owns(record.supervisor_pid):
        return None
    return record


def try_lock(state_dir: Path) -> IO[bytes] | None:
    """Take the state directory's `recaudo up` lock; None if another process holds it.

    Keep the returned file open for as long as the lock is needed; the kernel
    drops it when the process exits, however it exits.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = (state_dir / "up.lock").open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def release_lock(handle: IO[bytes]) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()


# --- worker exits (logs/workers.json) -----------------------------------------------


@dataclass
class WorkerExits:
    """What the supervisor saw of one worker's exits since `recaudo up` started it."""

    restarts: int = 0
    last_exit_code: int | None = None
    #: Wall-clock time of the last exit.
    last_exit_at: float | None = None
    #: The last error-level line of the worker's output before its last exit.
    last_error: str | None = None
    #: Wall-clock times of its exits within the last ``CRASH_LOOP_WINDOW_S``.
    recent_exits: list[float] = field(default_factory=list)

    def exited(self, code: int, at: float, error: str | None) -> None:
        self.last_exit_code = code
        self.last_exit_at = at
        self.last_error = error
        self.recent_exits = [t for t in self.recent_exits if at - t < CRASH_LOOP_WINDOW_S]
        self.recent_exits.append(at)

    def exits_within(self, now: float, window_s: float = CRASH_LOOP_WINDOW_S) -> int:
        return sum(1 for t in self.recent_exits if now - t < window_s)

    def crash_looping(self, now: float) -> bool:
        return self.exits_within(now) >= CRASH_LOOP_EXITS

    def report(self, now: float) -> dict[str, Any]:
        """What `recaudo status` and the dashboard show of it at ``now``."""
        return {
            "restarts": self.restarts,
            "last_exit_code": self.last_exit_code,
            "last_exit_ago_s": None
            if self.last_exit_at is None
            else round(now - self.last_exit_at),
            "last_error": self.last_error,
            "exits_recently": self.exits_within(now),
            "crash_looping": self.crash_looping(now),
        }


def worker_exits_file(state_dir: Path) -> Path:
    return log_dir(state_dir) / "workers.json"


def write_worker_exits(path: Path, supervisor_pid: int, exits: dict[str, WorkerExits]) -> None:
    """Replace ``path`` atomically: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"supervisor_pid": supervisor_pid, "workers": {n: asdict(e) for n, e in exits.items()}}
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(body, indent=2), encoding="utf-8")
    tmp.replace(path)


def read_worker_exits(state_dir: Path, supervisor_pid: int) -> dict[str, WorkerExits]:
    """The exits recorded by the supervisor ``supervisor_pid`` (a file left by
    an earlier run reads as none)."""
    try:
        data: dict[str, Any] = json.loads(worker_exits_file(state_dir).read_text("utf-8"))
        if data.get("supervisor_pid") != supervisor_pid:
            return {}
        fields = WorkerExits.__dataclass_fields__
        return {
            name: WorkerExits(**{k: v for k, v in entry.items() if k in fields})
            for name, entry in data["workers"].items()
        }
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
        return {}


def live_worker_exits(state_dir: Path) -> dict[str, WorkerExits]:
    """The exits of the running `recaudo up`'s workers; none when nothing runs."""
    record = live_record(state_dir)
    return {} if record is None else read_worker_exits(state_dir, record.supervisor_pid)
