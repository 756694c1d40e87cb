"""Days past due are read as of today: a debtor whose view was last brought up
to date five days ago is five days further past due, in the view store, in
Postgres' ``*_today`` views and in ``recaudo debtor show`` / ``list``."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from recaudo.contracts.records import AccountView, Bucket, DebtorView, Total
from recaudo.db.migrate import migrate
from recaudo.db.view_store import list_views, read_view, write_views

pytestmark = pytest.mark.integration


def view(debtor_id: str, as_of: datetime, dpd: int, overdue: int = 500) -> DebtorView:
    bucket: Bucket = "CURRENT" if dpd == 0 else "DPD_1_30"
    return DebtorView(
        event_id=uuid.uuid5(uuid.NAMESPACE_OID, f"{debtor_id}/{dpd}"),
        occurred_at=as_of,
        source="recaudo.view",
        debtor_id=debtor_id,
        version=1,
        bucket=bucket,
        max_days_past_due=dpd,
        totals=[Total(currency="COP", balance_minor=10_000, overdue_minor=overdue)],
        accounts=[
            AccountView(
                account_id="A1",
                status="OPEN",
                currency="COP",
                balance_minor=10_000,
                overdue_minor=overdue,
                days_past_due=dpd,
                bucket=bucket,
            )
        ],
    )


def test_a_view_five_days_old_reads_five_days_further_past_due(pg_dsn: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    five_days_ago = now - timedelta(days=5)
    migrate(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        write_views(
            conn,
            [
                view("LATE", five_days_ago, dpd=3),
                view("ON-TIME", five_days_ago, dpd=0, overdue=0),
                view("OLDER", now - timedelta(days=40), dpd=28),
            ],
        )
        late = read_view(conn, "LATE", now)
        assert late is not None
        assert late.max_days_past_due == 8 and late.accounts[0].days_past_due == 8
        assert late.occurred_at == five_days_ago  # still what the view is as of
        current = read_view(conn, "ON-TIME", now)
        assert current is not None and current.max_days_past_due == 0
        # 28 days past due 40 days ago: 68 today, so in 61-90.
        assert [v.debtor_id for v in list_views(conn, now=now)] == ["OLDER", "LATE", "ON-TIME"]
        assert [v.debtor_id for v in list_views(conn, bucket="DPD_61_90", now=now)] == ["OLDER"]
        assert [v.debtor_id for v in list_views(conn, bucket="DPD_1_30", now=now)] == ["LATE"]
        today: dict[str, int] = dict(
            conn.execute("SELECT debtor_id, max_days_past_due FROM debtor_view_today").fetchall()
        )
        assert today == {"LATE": 8, "ON-TIME": 0, "OLDER": 68}
        accounts = conn.execute(
            "SELECT days_past_due, bucket FROM debtor_account_today WHERE debtor_id = 'OLDER'"
        ).fetchall()
        assert accounts == [(68, "DPD_61_90")]
        # The stored figures stay as of the view's time.
        stored = conn.execute(
            "SELECT max_days_past_due FROM debtor_view WHERE debtor_id = 'LATE'"
        ).fetchone()
        assert stored == (3,)

    env = {k: v for k, v in os.environ.items() if not k.startswith("RECAUDO_")}
    env["DATABASE_URL"] = pg_dsn

    def debtor_show(*args: str) -> str:
        shown = subprocess.run(
            [sys.executable, "-m", "recaudo", "debtor", "show", "LATE", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert shown.returncode == 0, shown.stderr
        return shown.stdout

    assert DebtorView.model_validate_json(debtor_show("--json")).max_days_past_due == 8
    readable = debtor_show()
    assert "max DPD 8" in readable and "(days past due as of today)" in readable
    assert "DPD   8" in readable  # the account's line
