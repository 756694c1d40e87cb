"""Agent tasks in real Postgres: one row per task, its latest state; a record
written again late (a replay, a redelivery) never reopens or rolls back a task."""

from __future__ import annotations

import psycopg
import pytest

from recaudo.db.agent_task_store import open_tasks, read_task, write_tasks
from recaudo.db.migrate import migrate
from tests.integration.streams.test_agent_task_sink import closed, task

pytestmark = pytest.mark.integration


def test_a_closed_task_stays_closed_when_its_open_record_comes_again(pg_dsn: str) -> None:
    migrate(pg_dsn)
    opened = task("T-9", "D-9")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert write_tasks(conn, [opened]) == 1
        assert write_tasks(conn, [closed(opened)]) == 1
        assert write_tasks(conn, [opened]) == 0
        row = read_task(conn, "T-9")
        assert row is not None and row["status"] == "CLOSED"
        assert open_tasks(conn) == []
        # Within one batch the later record wins, whatever the order.
        assert write_tasks(conn, [task("T-10", "D-9"), closed(task("T-10", "D-9"))]) == 1
        assert write_tasks(conn, [closed(task("T-11", "D-9")), task("T-11", "D-9")]) == 1
        for task_id in ("T-10", "T-11"):
            row = read_task(conn, task_id)
            assert row is not None and row["status"] == "CLOSED"
