"""A debtor in arrears on the real pipeline, and readers of what it makes,
for the desk's tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from recaudo.contracts.records import (
    ChannelResponse,
    DebtorProfile,
    DispatchCommand,
    Event,
)
from recaudo.db.agent_task_store import read_task
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.orchestration import FixedClock
from recaudo.settings import Settings
from streams.agent_task_sink import AgentTaskSink
from streams.debtor_view import DebtorViewProcessor
from tests.integration.kafka_io import consume_all
from tests.integration.stories import open_debt_with_a_missed_instalment
from tests.integration.waiting import wait_until

# A Wednesday, 11:00 in Bogotá: inside Ley 2300's Monday-Friday 07:00-19:00.
NOON = datetime(2026, 11, 18, 16, tzinfo=UTC)
FRIDAY = date(2026, 11, 20)
PHONE = "+573001234567"


def arrears(debtor: str) -> list[Event]:
    """A profile, an open debt and its missed payment (which starts an outreach)."""
    account = f"{debtor}-ACC-0001"
    profile = DebtorProfile(
        occurred_at=NOON - timedelta(days=50),
        source="crm",
        debtor_id=debtor,
        preferred_language="es",
        time_zone="America/Bogota",
        country="CO",
        jurisdiction="co_ley_2300",
        contact_points=[{"channel": "sms", "address": PHONE, "consent": True}],
    )
    return [profile, *open_debt_with_a_missed_instalment(debtor, account, NOON)]


def message(debtor: str, text: str, dispatch: str | None, minute: int = 1) -> ChannelResponse:
    """The debtor writes on SMS."""
    return ChannelResponse(
        occurred_at=NOON + timedelta(minutes=minute),
        source="twilio",
        debtor_id=debtor,
        channel="sms",
        status="REPLIED",
        provider="twilio",
        dispatch_id=dispatch,
        text=text,
    )


def publish(settings: Settings, events: list[Event]) -> None:
    with RecaudoProducer(settings) as producer:
        producer.publish_many(events)
        producer.flush()


def sms_sent(settings: Settings, serde: Serde, debtor: str) -> list[DispatchCommand]:
    """Every SMS dispatch to ``debtor`` so far."""
    topic = serde.topics.dispatch("sms")
    return [
        d
        for m in consume_all(settings, topic, expected=10_000, timeout_s=1.0)
        if isinstance(d := serde.deserialize(topic, m.value()), DispatchCommand)
        and d.debtor_id == debtor
    ]


class TasksRead:
    """Counts the agent-task records the view worker has processed (its on_processed)."""

    def __init__(self, settings: Settings) -> None:
        self.topic = Serde(settings).topics.agent_tasks
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, topic: str, partition: int, offset: int) -> None:
        if topic == self.topic:
            with self._lock:
                self.count += 1


def view_worker(settings: Settings, tasks_read: TasksRead) -> DebtorViewProcessor:
    return DebtorViewProcessor(
        settings,
        clock=FixedClock(NOON + timedelta(minutes=1)),
        snapshots="inline",
        on_processed=tasks_read,
    )


@contextmanager
def task_sink(settings: Settings) -> Iterator[AgentTaskSink]:
    running = AgentTaskSink(settings, interval_s=0.3)
    thread = threading.Thread(target=running.run, name="agent-task-sink")
    thread.start()
    try:
        yield running
    finally:
        running.stop()
        thread.join(60)


def task_row(dsn: str, debtor: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The debtor's task row once ``done(row)``."""
    found: list[dict[str, Any]] = []

    def landed() -> bool:
        try:
            with psycopg.connect(dsn) as conn:
                ids = conn.execute(
                    "SELECT task_id FROM agent_task WHERE debtor_id = %s", (debtor,)
                ).fetchall()
                rows = [read_task(conn, task_id) for (task_id,) in ids]
        except psycopg.errors.UndefinedTable:
            return False  # the sink applies the migrations when it starts
        found[:] = [r for r in rows if r is not None and done(r)]
        return bool(found)

    assert wait_until(landed, 60, every_s=0.2), f"no task row of {debtor} as expected"
    return found[0]
