"""What the dashboard shows: the KPI table and the debtor view, read from
Postgres, and the exits of `recaudo up`'s workers, read from its state directory."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from recaudo.db.kpi_store import counters_of, read_kpis
from recaudo.embedded.state import live_worker_exits
from recaudo.kpis import Counters

#: Hourly windows shown on the timeline: the last two weeks of event time.
TIMELINE_WINDOWS = 14 * 24


@dataclass(slots=True)
class Snapshot:
    """One read of everything on the page."""

    overall: Counters = field(default_factory=Counters)
    by_dimension: dict[str, dict[str, Counters]] = field(default_factory=dict)
    hourly: list[tuple[Any, Counters]] = field(default_factory=list)
    debtors: int = 0
    debtors_by_bucket: dict[str, int] = field(default_factory=dict)
    open_promises: int = 0
    last_event_at: Any = None
    error: str | None = None
    #: Worker name -> its exits (``WorkerExits.report``), for the workers of
    #: the running `recaudo up` that exited at least once.
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def members(self, dimension: str) -> dict[str, Counters]:
        return self.by_dimension.get(dimension, {})

    @property
    def crash_looping(self) -> list[str]:
        return sorted(name for name, w in self.workers.items() if w["crash_looping"])


def _tables(conn: psycopg.Connection[Any]) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )
    return {r[0] for r in rows}


def read_workers(state_dir: Path, now: float | None = None) -> dict[str, dict[str, Any]]:
    """The workers of the `recaudo up` running in ``state_dir`` that have
    exited since it started them (none when nothing runs there)."""
    now = time.time() if now is None else now
    return {
        name: exits.report(now)
        for name, exits in live_worker_exits(state_dir).items()
        if exits.last_exit_code is not None
    }


def read_snapshot(dsn: str, state_dir: Path | None = None) -> Snapshot:
    """Everything the page shows; tables not there yet read as empty; the
    workers' exits when given the state directory of `recaudo up`."""
    snap = Snapshot()
    if state_dir is not None:
        snap.workers = read_workers(state_dir)
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            tables = _tables(conn)
            if "kpi" in tables:
                _read_kpis(conn, snap)
            if "debtor_view" in tables:
                _read_view(conn, snap)
    except psycopg.Error as exc:
        snap.error = f"Postgres: {exc}".strip()
    return snap


def _read_kpis(conn: psycopg.Connection[Any], snap: Snapshot) -> None:
    for row in read_kpis(conn, "TOTAL"):
        counters = counters_of(row)
        if row["dimension"] == "ALL":
            snap.overall = counters
            snap.last_event_at = row["last_event_at"]
        else:
            snap.by_dimension.setdefault(row["dimension"], {})[row["member"]] = counters
    with conn.cursor(row_factory=dict_row) as cur:
        # The window ends at the newest hour and reaches TIMELINE_WINDOWS back
        # from it: hours with no row inside it are zeros, not skipped.
        hours = cur.execute(
            "SELECT * FROM kpi WHERE period = 'HOUR' AND dimension = 'ALL' AND window_start"
            " > (SELECT max(window_start) FROM kpi WHERE period = 'HOUR' AND dimension = 'ALL')"
            " - make_interval(hours => %s) ORDER BY window_start",
            (TIMELINE_WINDOWS,),
        ).fetchall()
    snap.hourly = [(row["window_start"], counters_of(row)) for row in hours]


def _read_view(conn: psycopg.Connection[Any], snap: Snapshot) -> None:
    snap.debtors_by_bucket = {
        bucket: count
        for bucket, count in conn.execute(
            "SELECT bucket, count(*) FROM debtor_view GROUP BY bucket ORDER BY bucket"
        )
    }
    snap.debtors = sum(snap.debtors_by_bucket.values())
    row = conn.execute("SELECT count(*) FROM debtor_promise WHERE status = 'PENDING'").fetchone()
    snap.open_promises = int(row[0]) if row else 0
