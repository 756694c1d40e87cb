"""The desk's Postgres: the agent tasks and debtor views the sinks keep, and
the ``agent_audit`` table, one row per action an agent took (created here
when missing: the desk is the only writer)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Final

from psycopg.types.json import Jsonb

from recaudo.contracts.records import AgentTask, DebtorView
from recaudo.db.agent_task_store import open_tasks, read_task
from recaudo.db.migrate import migrate
from recaudo.db.service_pool import PooledStore
from recaudo.db.view_store import read_view

AUDIT_TABLE: Final = """
CREATE TABLE IF NOT EXISTS agent_audit (
    audit_id   uuid        PRIMARY KEY,  -- the action's id: a form submitted twice is one row
    at         timestamptz NOT NULL,
    agent      text        NOT NULL,
    action     text        NOT NULL,     -- sign_in, sign_in_refused, view, reply, outcome, close
    task_id    text,
    debtor_id  text,
    detail     jsonb       NOT NULL DEFAULT '{}',
    -- the order actions were written in (``at`` is the desk's clock)
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS agent_audit_task ON agent_audit (task_id, at);
CREATE INDEX IF NOT EXISTS agent_audit_agent ON agent_audit (agent, at);
"""


def task_of(row: dict[str, Any]) -> AgentTask:
    """The task's latest record, rebuilt from its ``agent_task`` row."""
    transcript = row["transcript"]
    view = row["debtor_view"]
    return AgentTask(
        event_id=row["event_id"],
        occurred_at=row["last_event_at"],
        source="recaudo.desk",
        debtor_id=row["debtor_id"],
        task_id=row["task_id"],
        account_id=row["account_id"],
        reason=row["reason"],
        status=row["status"],
        priority=row["priority"],
        transcript=json.loads(transcript) if isinstance(transcript, str) else transcript,
        view_json=view if isinstance(view, str) or view is None else json.dumps(view),
        suggested_action=row["suggested_action"],
        created_at=row["created_at"],
        closed_at=row["closed_at"],
        closed_by=row["closed_by"],
        outcome=row["outcome"],
    )


class DeskStore(PooledStore):
    def __init__(self, dsn: str, max_connections: int = 4) -> None:
        migrate(dsn)
        super().__init__(dsn, (AUDIT_TABLE,), max_connections)

    def open_tasks(self, limit: int = 200) -> list[AgentTask]:
        with self._pool.connection() as conn:
            return [task_of(row) for row in open_tasks(conn, limit)]

    def task(self, task_id: str) -> AgentTask | None:
        with self._pool.connection() as conn:
            row = read_task(conn, task_id)
        return task_of(row) if row is not None else None

    def view(self, debtor_id: str, now: datetime) -> DebtorView | None:
        with self._pool.connection() as conn:
            return read_view(conn, debtor_id, now)

    def audit(
        self,
        audit_id: uuid.UUID,
        at: datetime,
        agent: str,
        action: str,
        task: AgentTask | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """One action, once per id."""
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO agent_audit (audit_id, at, agent, action, task_id, debtor_id, detail)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (audit_id) DO NOTHING",
                (
                    audit_id,
                    at,
                    agent,
                    action,
                    task.task_id if task else None,
                    task.debtor_id if task else None,
                    Jsonb(detail or {}),
                ),
            )

    def audit_trail(self, task_id: str) -> list[dict[str, Any]]:
        """The task's audited actions, oldest first."""
        with self._pool.connection() as conn:
            cur = conn.execute(
                "SELECT at, agent, action, detail FROM agent_audit WHERE task_id = %s"
                " ORDER BY at, recorded_at",
                (task_id,),
            )
            return [
                {"at": at, "agent": agent, "action": action, "detail": detail}
                for at, agent, action, detail in cur.fetchall()
            ]
