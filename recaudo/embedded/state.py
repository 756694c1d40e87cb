"""The embedded runtime's state directory and its ``runtime.json``.

Layout of ``RECAUDO_STATE_DIR`` (default ``~/.recaudo``)::

    postgres/       PostgreSQL data (kept across runs)
    logs/           broker.log, one log per worker, up.log when detached
    streams/        RocksDB state of the stream processors
    runtime.json    what `recaudo up` is running: pids, addresses, readiness
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Phase = Literal["starting", "ready", "stopping"]


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
    ready_after_s: float | None = None

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


def write_record(state_dir: Path, record: RuntimeRecord) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = runtime_file(state_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(record.to_json(), encoding="utf-8")
    # The file holds the Postgres URL: owner-only.
    tmp.chmod(0o600)
    tmp.replace(path)  # atomic: readers never see half a file


def read_record(state_dir: Path) -> RuntimeRecord | None:
    try:
        return RuntimeRecord.from_json(runtime_file(state_dir).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def remove_record(state_dir: Path) -> None:
    runtime_file(state_dir).unlink(missing_ok=True)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not running.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def live_record(state_dir: Path) -> RuntimeRecord | None:
    """The record of a `recaudo up` that is still running, else None."""
    record = read_record(state_dir)
    if record is None or not pid_alive(record.supervisor_pid):
        return None
    return record
