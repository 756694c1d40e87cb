"""The debtor view's Postgres tables: migrations, COPY + upsert, version guard."""

from __future__ import annotations

import uuid
from datetime import date

import psycopg
import pytest

from recaudo.contracts.records import AccountView, ChannelView, DebtorView, PromiseView, Total
from recaudo.db.migrate import available, migrate
from recaudo.db.view_store import all_views, list_views, read_view, write_views
from tests.fixtures import T0

pytestmark = pytest.mark.integration


def view(
    debtor_id: str, version: int, balance: int = 10_000, bucket: str = "DPD_1_30"
) -> DebtorView:
    return DebtorView(
        event_id=uuid.uuid5(uuid.NAMESPACE_OID, f"{debtor_id}/{version}/{balance}"),
        occurred_at=T0,
        source="recaudo.view",
        debtor_id=debtor_id,
        version=version,
        bucket=bucket,
        max_days_past_due=12,  # type: ignore[arg-type]
        totals=[Total(currency="COP", balance_minor=balance, overdue_minor=500)],
        accounts=[
            AccountView(
                account_id="A1",
                status="OPEN",
                currency="COP",
                balance_minor=balance,
                overdue_minor=500,
                days_past_due=12,
                bucket="DPD_1_30",
            )
        ],
        promises=[
            PromiseView(
                promise_id="P1",
                account_id="A1",
                amount_minor=500,
                currency="COP",
                promised_date=date(2026, 12, 1),
                status="PENDING",
            )
        ],
        channels=[
            ChannelView(
                channel="sms",
                address="+573001112233",
                consent=True,
                opted_out=False,
                valid=True,
                sent=2,
                delivered=2,
                read=0,
                replied=1,
                failed=0,
            )
        ],
    )


def test_migrations_apply_once(pg_dsn: str) -> None:
    assert migrate(pg_dsn) == [name for _, name, _ in available()]
    assert migrate(pg_dsn) == []


def test_upsert_keeps_the_newest_version(pg_dsn: str) -> None:
    migrate(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        assert write_views(conn, [view("D1", 2), view("D2", 1), view("D1", 1)]) == 2
        assert read_view(conn, "D1", T0) == view("D1", 2)
        # A redelivered older batch does not roll D1 back.
        assert write_views(conn, [view("D1", 1, balance=1)]) == 0
        assert read_view(conn, "D1", T0) == view("D1", 2)
        assert write_views(conn, [view("D1", 3, balance=7)]) == 1
        assert read_view(conn, "D1", T0) == view("D1", 3, balance=7)
        children = conn.execute(
            "SELECT count(*) FROM debtor_account WHERE debtor_id = 'D1'"
        ).fetchone()
        assert children == (1,)
        assert [v.debtor_id for v in list_views(conn, bucket="DPD_1_30", now=T0)] == ["D1", "D2"]
        assert set(all_views(conn)) == {"D1", "D2"}
        by_bucket = conn.execute(
            "SELECT bucket, currency, debtors, balance_minor FROM debtors_by_bucket"
        ).fetchall()
        assert by_bucket == [("DPD_1_30", "COP", 2, 10_007)]
        assert conn.execute("SELECT count(*) FROM open_promises").fetchone() == (2,)
        assert conn.execute(
            "SELECT reply_rate FROM contact_history WHERE debtor_id = 'D1'"
        ).fetchone()[0] == pytest.approx(0.5)  # type: ignore[index]
