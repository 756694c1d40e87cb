"""Agent tasks in Postgres: batched ``COPY`` + upsert, and reads.

A batch is one transaction: the latest record of each task is copied into a
temporary table and upserted into ``agent_task`` unless the stored row is
further along (a later record, or as late and already CLOSED): a redelivered
or replayed batch never reopens a closed task nor rolls one back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from recaudo.contracts.records import AgentTask

COLUMNS = (
    "task_id",
    "debtor_id",
    "account_id",
    "reason",
    "status",
    "priority",
    "transcript",
    "debtor_view",
    "suggested_action",
    "created_at",
    "closed_at",
    "closed_by",
    "outcome",
    "event_id",
    "last_event_at",
)


def _order(task: AgentTask) -> tuple[Any, bool]:
    """Which of two records of a task is further along."""
    return (task.occurred_at, task.status == "CLOSED")


def _row(task: AgentTask) -> tuple[Any, ...]:
    transcript = json.dumps([turn.model_dump(mode="json") for turn in task.transcript])
    return (
        task.task_id,
        task.debtor_id,
        task.account_id,
        task.reason,
        task.status,
        task.priority,
        transcript,
        task.view_json,
        task.suggested_action,
        task.created_at,
        task.closed_at,
        task.closed_by,
        task.outcome,
        task.event_id,
        task.occurred_at,
    )


def write_tasks(conn: psycopg.Connection[Any], tasks: Sequence[AgentTask]) -> int:
    """Upsert a batch (latest record per task); returns the tasks written."""
    latest: dict[str, AgentTask] = {}
    for task in tasks:
        held = latest.get(task.task_id)
        if held is None or _order(task) >= _order(held):
            latest[task.task_id] = task
    if not latest:
        return 0
    cols = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in COLUMNS[1:]
    )
    copy = sql.SQL("COPY tmp_agent_task ({}) FROM STDIN").format(cols)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS tmp_agent_task (LIKE agent_task INCLUDING DEFAULTS)"
        )
        cur.execute("TRUNCATE tmp_agent_task")
        with cur.copy(copy) as rows:
            for task in latest.values():
                rows.write_row(_row(task))
        cur.execute(
            sql.SQL(
                "INSERT INTO agent_task ({cols}) SELECT {cols} FROM tmp_agent_task "
                "ON CONFLICT (task_id) DO UPDATE SET {updates}, written_at = now() "
                "WHERE (agent_task.last_event_at, agent_task.status = 'CLOSED')"
                " <= (EXCLUDED.last_event_at, EXCLUDED.status = 'CLOSED')"
            ).format(cols=cols, updates=updates)
        )
        return cur.rowcount


def read_task(conn: psycopg.Connection[Any], task_id: str) -> dict[str, Any] | None:
    """One task's row, by column name."""
    cur = conn.execute(
        sql.SQL("SELECT {} FROM agent_task WHERE task_id = %s").format(
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
        ),
        (task_id,),
    )
    row = cur.fetchone()
    return dict(zip(COLUMNS, row, strict=True)) if row else None


def open_tasks(conn: psycopg.Connection[Any], limit: int = 100) -> list[dict[str, Any]]:
    """The agents' queue: open tasks, most urgent first, then oldest."""
    cur = conn.execute(
        sql.SQL(
            "SELECT {} FROM agent_task WHERE status = 'OPEN' ORDER BY"
            " array_position(ARRAY['URGENT','HIGH','NORMAL','LOW'], priority), created_at"
            " LIMIT %s"
        ).format(sql.SQL(", ").join(map(sql.Identifier, COLUMNS))),
        (limit,),
    )
    return [dict(zip(COLUMNS, row, strict=True)) for row in cur.fetchall()]
