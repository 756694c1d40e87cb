"""The agent-task sink on the real broker and real Postgres: a task produced
to the agent-tasks topic lands in ``agent_task``; its CLOSED record updates
the row, and a replayed OPEN one does not reopen it; a record that is not an
agent task is dead-lettered and the sink goes on."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from recaudo.contracts.records import AgentTask, ConversationTurn, DeadLetter
from recaudo.db.agent_task_store import open_tasks, read_task
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings
from streams.agent_task_sink import AgentTaskSink
from tests.integration.kafka_io import consume_all
from tests.integration.waiting import wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def task(task_id: str, debtor_id: str, **update: Any) -> AgentTask:
    values: dict[str, Any] = {
        "occurred_at": T0,
        "source": "recaudo.conversation",
        "debtor_id": debtor_id,
        "task_id": task_id,
        "account_id": "ACC-1",
        "reason": "hardship",
        "status": "OPEN",
        "priority": "HIGH",
        "transcript": [
            ConversationTurn(direction="OUTBOUND", channel="sms", text="Su cuota vence", at=T0),
            ConversationTurn(
                direction="INBOUND",
                channel="sms",
                text="perdí mi trabajo, no puedo pagar",
                intent="hardship",
                confidence_permille=912,
                at=T0 + timedelta(minutes=3),
            ),
        ],
        "view_json": json.dumps({"debtor_id": debtor_id, "bucket": "DPD_31_60"}),
        "suggested_action": "Offer a payment plan within the hardship policy.",
        "created_at": T0 + timedelta(minutes=3),
    }
    values.update(update)
    return AgentTask(**values)


def closed(open_task: AgentTask) -> AgentTask:
    at = T0 + timedelta(hours=2)
    return open_task.model_copy(
        update={
            "status": "CLOSED",
            "occurred_at": at,
            "closed_at": at,
            "closed_by": "agent-17",
            "outcome": "plan agreed: 6 instalments",
        }
    )


@contextmanager
def sink(settings: Settings) -> Iterator[AgentTaskSink]:
    running = AgentTaskSink(settings, interval_s=0.3)
    thread = threading.Thread(target=running.run, name="agent-task-sink")
    thread.start()
    try:
        yield running
    finally:
        running.stop()
        thread.join(60)
        assert not thread.is_alive(), "the agent-task sink did not stop"


def row_when(dsn: str, task_id: str, done: Any, timeout_s: float = 60) -> dict[str, Any] | None:
    """The task's row once ``done(row)``; the last row read if never."""
    row: dict[str, Any] | None = None

    def landed() -> bool:
        nonlocal row
        try:
            with psycopg.connect(dsn) as conn:
                row = read_task(conn, task_id)
        except psycopg.errors.UndefinedTable:
            row = None  # the sink applies the migrations when it starts
        return row is not None and bool(done(row))

    wait_until(landed, timeout_s, every_s=0.2)
    return row


def test_tasks_land_close_and_poison_is_dead_lettered(pg_settings: Settings) -> None:
    serde = Serde(pg_settings)
    topic = serde.topics.agent_tasks
    dsn = pg_settings.database_dsn()
    opened = task("T-1", "D-41")
    with sink(pg_settings), RecaudoProducer(pg_settings, serde) as producer:
        producer.publish(opened, topic)
        producer.produce_raw(topic, b"D-41", b"\x00\x00\x00\x00\x63 not avro", [])
        producer.flush(10)
        row = row_when(dsn, "T-1", lambda r: True)
        assert row is not None
        assert (row["debtor_id"], row["status"], row["reason"], row["priority"]) == (
            "D-41",
            "OPEN",
            "hardship",
            "HIGH",
        )
        assert [t["intent"] for t in row["transcript"]] == [None, "hardship"]
        assert row["transcript"][1]["confidence_permille"] == 912
        assert row["debtor_view"] == {"debtor_id": "D-41", "bucket": "DPD_31_60"}
        with psycopg.connect(dsn) as conn:
            assert [t["task_id"] for t in open_tasks(conn)] == ["T-1"]

        # Closed by an agent, then the OPEN record replayed: it stays closed.
        producer.publish(closed(opened), topic)
        producer.publish(opened, topic)
        producer.publish(task("T-2", "D-41", reason="ask_human", priority="NORMAL"), topic)
        producer.flush(10)
        assert row_when(dsn, "T-2", lambda r: True) is not None
        row = row_when(dsn, "T-1", lambda r: r["status"] == "CLOSED")
        assert row is not None
        assert (row["status"], row["closed_by"], row["outcome"]) == (
            "CLOSED",
            "agent-17",
            "plan agreed: 6 instalments",
        )
        with psycopg.connect(dsn) as conn:
            assert [t["task_id"] for t in open_tasks(conn)] == ["T-2"]

    [message] = consume_all(pg_settings, serde.topics.dlq, expected=1)
    letter = serde.deserialize(serde.topics.dlq, message.value())
    assert isinstance(letter, DeadLetter)
    assert letter.source_topic == topic
    assert letter.value == b"\x00\x00\x00\x00\x63 not avro"
