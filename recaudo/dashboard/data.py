"""What the dashboard shows, read from Postgres: the KPI table and the debtor view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from recaudo.db.kpi_store import counters_of, read_kpis
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

    def members(self, dimension: str) -> dict[str, Counters]:
        return self.by_dimension.get(dimension, {})


def _tables(conn: psycopg.Connection[Any]) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )
    return {r[0] for r in rows}


def read_snapshot(dsn: str) -> Snapshot:
    """Everything the page shows; tables not there yet read as empty."""
    snap = Snapshot()
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
        hours = cur.execute(
            "SELECT * FROM (SELECT * FROM kpi WHERE period = 'HOUR' AND dimension = 'ALL'"
            " ORDER BY window_start DESC LIMIT %s) recent ORDER BY window_start",
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
