"""The debtor view in Postgres: batched ``COPY`` + upsert, and reads for the CLI.

A batch is written in one transaction: rows are copied into temporary tables,
upserted into ``debtor_view`` unless the stored row is further along (later
"as of", or as late and more facts known: a redelivered or replayed batch never
rolls a debtor back), and the child tables of exactly those debtors are replaced.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from recaudo.contracts.records import Bucket, DebtorView
from recaudo.view.today import as_of

VIEW_COLUMNS = (
    "debtor_id",
    "version",
    "snapshot_id",
    "last_event_at",
    "bucket",
    "max_days_past_due",
    "language",
    "time_zone",
    "country",
    "jurisdiction",
    "risk_segment",
    "preferred_channel",
    "deceased",
    "bankruptcy",
    "cease_and_desist",
    "vulnerable",
    "last_payment_at",
    "last_payment_minor",
    "last_payment_currency",
    "snapshot",
)

CHILD_TABLES: dict[str, tuple[str, ...]] = {
    "debtor_total": ("currency", "balance_minor", "overdue_minor"),
    "debtor_account": (
        "account_id",
        "product",
        "status",
        "currency",
        "balance_minor",
        "overdue_minor",
        "days_past_due",
        "bucket",
        "next_due_date",
        "next_due_minor",
        "last_payment_at",
        "last_payment_minor",
    ),
    "debtor_promise": (
        "promise_id",
        "account_id",
        "amount_minor",
        "currency",
        "promised_date",
        "status",
    ),
    "debtor_dispute": ("dispute_id", "account_id", "status", "opened_at"),
    "debtor_channel": (
        "channel",
        "address",
        "consent",
        "opted_out",
        "valid",
        "sent",
        "delivered",
        "read",
        "replied",
        "failed",
        "last_contact_at",
        "last_response_at",
    ),
}

_CHILD_SOURCE = {
    "debtor_total": "totals",
    "debtor_account": "accounts",
    "debtor_promise": "promises",
    "debtor_dispute": "disputes",
    "debtor_channel": "channels",
}


def _view_row(view: DebtorView) -> tuple[Any, ...]:
    f = view.flags
    return (
        view.debtor_id,
        view.version,
        view.event_id,
        view.occurred_at,
        view.bucket,
        view.max_days_past_due,
        view.language,
        view.time_zone,
        view.country,
        view.jurisdiction,
        view.risk_segment,
        view.preferred_channel,
        f.deceased,
        f.bankruptcy,
        f.cease_and_desist,
        f.vulnerable,
        view.last_payment_at,
        view.last_payment_minor,
        view.last_payment_currency,
        view.model_dump_json(),
    )


def _copy(
    cur: psycopg.Cursor[Any], table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with cur.copy(stmt) as copy:
        for row in rows:
            copy.write_row(row)


def write_views(conn: psycopg.Connection[Any], views: Sequence[DebtorView]) -> int:
    """Upsert a batch of snapshots (latest per debtor); returns debtors written."""
    latest: dict[str, DebtorView] = {}
    for view in views:
        held = latest.get(view.debtor_id)
        if held is None or (view.occurred_at, view.version) >= (held.occurred_at, held.version):
            latest[view.debtor_id] = view
    if not latest:
        return 0
    cols = sql.SQL(", ").join(map(sql.Identifier, VIEW_COLUMNS))
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in VIEW_COLUMNS[1:]
    )
    with conn.transaction(), conn.cursor() as cur:
        # Session-scoped and reused: works whether or not the caller's
        # connection is in autocommit mode.
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS tmp_debtor_view (LIKE debtor_view INCLUDING DEFAULTS)"
        )
        cur.execute("TRUNCATE tmp_debtor_view")
        _copy(cur, "tmp_debtor_view", VIEW_COLUMNS, (_view_row(v) for v in latest.values()))
        cur.execute(
            sql.SQL(
                "INSERT INTO debtor_view ({cols}) SELECT {cols} FROM tmp_debtor_view "
                "ON CONFLICT (debtor_id) DO UPDATE SET {updates}, written_at = now() "
                "WHERE (debtor_view.last_event_at, debtor_view.version)"
                " <= (EXCLUDED.last_event_at, EXCLUDED.version) RETURNING debtor_id"
            ).format(cols=cols, updates=updates)
        )
        written = [row[0] for row in cur.fetchall()]
        for table, columns in CHILD_TABLES.items():
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE debtor_id = ANY(%s)").format(sql.Identifier(table)),
                (written,),
            )
            source = _CHILD_SOURCE[table]
            rows = (
                (debtor_id, *(getattr(item, c) for c in columns))
                for debtor_id in written
                for item in getattr(latest[debtor_id], source)
            )
            _copy(cur, table, ("debtor_id", *columns), rows)
    return len(written)


def read_view(
    conn: psycopg.Connection[Any], debtor_id: str, now: datetime | None = None
) -> DebtorView | None:
    """One debtor's view, its days past due as of ``now`` (default: the wall
    clock; :mod:`recaudo.view.today`)."""
    row = conn.execute(
        "SELECT snapshot FROM debtor_view WHERE debtor_id = %s", (debtor_id,)
    ).fetchone()
    if row is None:
        return None
    snapshot = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    return as_of(DebtorView.model_validate(snapshot), now or datetime.now(UTC))


#: Debtors by their highest days past due as of ``today``: the stored figure
#: aged by the UTC days since the view's "as of", as
#: :func:`recaudo.view.today.as_of` does; ``lowest``/``highest`` bound it.
_LIST_TODAY = """
SELECT snapshot
FROM debtor_view,
     LATERAL (
         SELECT CASE WHEN max_days_past_due > 0
                     THEN max_days_past_due
                          + GREATEST(0, %(today)s::date - (last_event_at AT TIME ZONE 'UTC')::date)
                     ELSE 0 END AS dpd
     ) aged
WHERE aged.dpd BETWEEN %(lowest)s AND %(highest)s
ORDER BY aged.dpd DESC, debtor_id
LIMIT %(limit)s
"""


def list_views(
    conn: psycopg.Connection[Any],
    bucket: Bucket | None = None,
    limit: int = 100,
    now: datetime | None = None,
) -> list[DebtorView]:
    """Debtors, most days past due first, as of ``now`` (default: the wall
    clock); ``bucket`` is the one they are in then."""
    now = now or datetime.now(UTC)
    lowest, highest = BUCKET_DAYS[bucket] if bucket is not None else (0, MAX_DAYS)
    params = {
        "today": now.astimezone(UTC).date(),
        "lowest": lowest,
        "highest": highest,
        "limit": limit,
    }
    return [
        as_of(DebtorView.model_validate(r[0]), now)
        for r in conn.execute(_LIST_TODAY.encode(), params)
    ]


MAX_DAYS = 2**31 - 1

#: The days past due each bucket spans (:func:`recaudo.view.buckets.bucket_for`).
BUCKET_DAYS: dict[Bucket, tuple[int, int]] = {
    "CURRENT": (0, 0),
    "DPD_1_30": (1, 30),
    "DPD_31_60": (31, 60),
    "DPD_61_90": (61, 90),
    "DPD_90_PLUS": (91, MAX_DAYS),
}


def all_views(conn: psycopg.Connection[Any]) -> dict[str, DebtorView]:
    return {
        r[0]: DebtorView.model_validate(r[1])
        for r in conn.execute("SELECT debtor_id, snapshot FROM debtor_view")
    }


def truncate(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        conn.execute("TRUNCATE debtor_view CASCADE")
