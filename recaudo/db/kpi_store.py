"""KPI rows in Postgres: batched ``COPY`` + upsert, and reads for the dashboard.

A row is replaced only by a later revision of the same window, so a replayed or
redelivered batch never rolls a counter back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
from psycopg import sql

from recaudo.kpis import COUNTER_NAMES, MAP_NAMES, Counters, KpiRow

KPI_COLUMNS = (
    "dimension",
    "member",
    "period",
    "window_start",
    "window_end",
    "revision",
    "last_event_at",
    *COUNTER_NAMES,
    *MAP_NAMES,
)


def _row(row: KpiRow) -> tuple[Any, ...]:
    c = row.counters
    end = row.window_end_ms
    return (
        row.dimension,
        row.member,
        row.period,
        KpiRow.time(row.window_start_ms),
        KpiRow.time(end) if end is not None else None,
        row.revision,
        KpiRow.time(row.last_event_ms),
        *(getattr(c, name) for name in COUNTER_NAMES),
        *(orjson.dumps(getattr(c, name)).decode() for name in MAP_NAMES),
    )


def latest(rows: Sequence[KpiRow]) -> list[KpiRow]:
    """The highest revision of each window in ``rows``."""
    found: dict[tuple[str, str, str, int], KpiRow] = {}
    for row in rows:
        held = found.get(row.ident)
        if held is None or row.revision >= held.revision:
            found[row.ident] = row
    return list(found.values())


def write_kpis(conn: psycopg.Connection[Any], rows: Sequence[KpiRow]) -> int:
    """Upsert a batch (latest revision per window); returns the rows written."""
    batch = latest(rows)
    if not batch:
        return 0
    cols = sql.SQL(", ").join(map(sql.Identifier, KPI_COLUMNS))
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in KPI_COLUMNS[4:]
    )
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS tmp_kpi (LIKE kpi INCLUDING DEFAULTS)")
        cur.execute("TRUNCATE tmp_kpi")
        stmt = sql.SQL("COPY tmp_kpi ({}) FROM STDIN").format(cols)
        with cur.copy(stmt) as copy:
            for row in batch:
                copy.write_row(_row(row))
        cur.execute(
            sql.SQL(
                "INSERT INTO kpi ({cols}) SELECT {cols} FROM tmp_kpi "
                "ON CONFLICT (dimension, member, period, window_start) DO UPDATE "
                "SET {updates}, written_at = now() WHERE kpi.revision <= EXCLUDED.revision"
            ).format(cols=cols, updates=updates)
        )
        written = cur.rowcount
    return written


def counters_of(record: dict[str, Any]) -> Counters:
    """A ``kpi`` row (as a dict) back to its counters."""
    # Columns a row read from an older table lacks count as zero.
    data = {name: record.get(name, 0) for name in COUNTER_NAMES}
    for name in MAP_NAMES:
        value = record.get(name) or {}
        data[name] = orjson.loads(value) if isinstance(value, str | bytes) else dict(value)
    return Counters.from_dict(data)


def read_kpis(
    conn: psycopg.Connection[Any], period: str = "TOTAL", dimension: str | None = None
) -> list[dict[str, Any]]:
    """Rows of ``period`` (optionally one dimension), as dicts, oldest window first."""
    query = "SELECT * FROM kpi WHERE period = %s"
    params: list[Any] = [period]
    if dimension is not None:
        query += " AND dimension = %s"
        params.append(dimension)
    query += " ORDER BY window_start, dimension, member"
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return list(cur.execute(query.encode(), params))
