"""The conversation inside the view worker, on the real broker: a debtor's
reply is understood and answered once on the channel written from, in the
debtor's language; what it caused (a promise, an opt-out, a person called
in) reaches the view, the other channels and the agent-tasks topic."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from recaudo.cloudevents import ce_headers
from recaudo.events import (
    AgentTask,
    ChannelResponse,
    DebtEvent,
    DebtorProfile,
    DebtorView,
    DispatchCommand,
    Event,
)
from recaudo.orchestration import FixedClock
from recaudo.producer import RecaudoProducer
from recaudo.serde import Serde
from recaudo.settings import Settings
from streams.debtor_view import DebtorViewProcessor
from tests.integration.kafka_io import consume_all
from tests.integration.streams.test_orchestration import publish, read, run_with, wait_until
from tests.integration.test_cli_inspect import run

pytestmark = pytest.mark.integration

# A Wednesday, 11:00 in Bogotá: inside Ley 2300's Monday-Friday 07:00-19:00.
NOON = datetime(2026, 11, 18, 16, tzinfo=UTC)
FRIDAY = date(2026, 11, 20)
ANSWER = "conversation."


def profile(debtor: str, language: str) -> DebtorProfile:
    return DebtorProfile(
        occurred_at=NOON - timedelta(days=50),
        source="crm",
        debtor_id=debtor,
        preferred_language=language,
        time_zone="America/Bogota",
        country="CO",
        jurisdiction="co_ley_2300",
        contact_points=[
            {"channel": "sms", "address": "+573001234567", "consent": True},
            {"channel": "whatsapp", "address": "+573001234567", "consent": True},
            {"channel": "email", "address": f"{debtor.lower()}@example.com", "consent": True},
        ],
    )


def arrears(debtor: str, language: str) -> list[Event]:
    """A profile, an open debt and its missed payment (which starts an outreach)."""
    account = f"{debtor}-ACC-0001"
    due = (NOON - timedelta(days=3)).date()
    opened = DebtEvent(
        occurred_at=NOON - timedelta(days=40),
        source="core-banking",
        debtor_id=debtor,
        account_id=account,
        type="DEBT_OPENED",
        payload={
            "principal_minor": 50_000_000,
            "currency": "COP",
            "balance_minor": 40_000_000,
            "product": "card",
            "instalment_minor": 2_000_000,
            "next_due_date": due,
        },
    )
    missed = DebtEvent(
        occurred_at=NOON - timedelta(minutes=30),
        source="core-banking",
        debtor_id=debtor,
        account_id=account,
        type="PAYMENT_MISSED",
        payload={
            "instalment_number": 3,
            "amount_minor": 2_000_000,
            "currency": "COP",
            "due_date": due,
        },
    )
    return [profile(debtor, language), opened, missed]


def reply(
    debtor: str, channel: str, text: str, dispatch: str | None, minute: int = 1
) -> ChannelResponse:
    return ChannelResponse(
        occurred_at=NOON + timedelta(minutes=minute),
        source="twilio",
        debtor_id=debtor,
        channel=channel,
        status="REPLIED",
        provider="twilio",
        dispatch_id=dispatch,
        text=text,
    )


class Processed:
    """Counts the channel responses and agent tasks the worker has processed
    (its on_processed)."""

    def __init__(self, settings: Settings) -> None:
        topics = Serde(settings).topics
        self.topic, self.tasks_topic = topics.channel_responses, topics.agent_tasks
        self.responses = 0
        self.tasks = 0
        self._lock = threading.Lock()

    def __call__(self, topic: str, partition: int, offset: int) -> None:
        with self._lock:
            if topic == self.topic:
                self.responses += 1
            elif topic == self.tasks_topic:
                self.tasks += 1


def worker(settings: Settings, processed: Processed) -> DebtorViewProcessor:
    return DebtorViewProcessor(
        settings,
        clock=FixedClock(NOON + timedelta(minutes=1)),
        snapshots="inline",
        on_processed=processed,
    )


def answers(settings: Settings, serde: Serde, debtor: str) -> list[DispatchCommand]:
    return [
        d
        for d in read(settings, serde, 100, 1.0)[0]
        if d.debtor_id == debtor and d.template.startswith(ANSWER)
    ]


def outreach(settings: Settings, serde: Serde, debtor: str) -> Callable[[], list[DispatchCommand]]:
    def found() -> list[DispatchCommand]:
        return [
            d
            for d in read(settings, serde, 1, 0.5)[0]
            if d.debtor_id == debtor and not d.template.startswith(ANSWER)
        ]

    return found


def latest_view(settings: Settings, serde: Serde, debtor: str) -> DebtorView | None:
    topic = serde.topics.debtor_view
    views = [
        v
        for m in consume_all(settings, topic, expected=10_000, timeout_s=1.0)
        if m.value() is not None
        and isinstance(v := serde.deserialize(topic, m.value()), DebtorView)
        and v.debtor_id == debtor
    ]
    return max(views, key=lambda v: v.version) if views else None


def test_a_promise_is_answered_once_and_reaches_the_view(topics_ready: Settings) -> None:
    settings = topics_ready.model_copy(update={"conversations": True})
    serde = Serde(settings)
    processed = Processed(settings)
    processor = worker(settings, processed)

    def scenario() -> None:
        publish(settings, arrears("D-P", "es"))
        sent = outreach(settings, serde, "D-P")
        assert wait_until(lambda: len(sent()) >= 1, 60)
        message = reply("D-P", "sms", "pago el viernes", sent()[0].dispatch_id)
        publish(settings, [message])
        assert wait_until(lambda: len(answers(settings, serde, "D-P")) >= 1, 60)
        # The same message again (same event id), as a redelivery brings it.
        publish(settings, [message])
        assert wait_until(lambda: processed.responses >= 2, 30)
        found = answers(settings, serde, "D-P")
        assert len(found) == 1, [d.template for d in found]
        answer = found[0]
        assert answer.channel == "sms" and answer.address == "+573001234567"
        assert answer.template == "conversation.promise_confirmed"
        assert answer.locale == "es"
        assert answer.body is not None and FRIDAY.isoformat() in answer.body

        def promised() -> bool:
            view = latest_view(settings, serde, "D-P")
            return view is not None and any(
                p.promised_date == FRIDAY and p.status == "PENDING" for p in view.promises
            )

        assert wait_until(promised, 30)

    run_with(processor, scenario)
    # The thread as `recaudo conversation show` prints it, from the topics.
    shown = run(settings, "conversation", "show", "D-P")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("debtor: 'pago el viernes'") == 1, shown.stdout
    assert "understood: promise_to_pay" in shown.stdout
    caused = [line for line in shown.stdout.splitlines() if "caused: PROMISE_TO_PAY" in line]
    assert len(caused) == 1 and f"promised_date={FRIDAY}" in caused[0], shown.stdout
    assert "answered on sms (promise_confirmed)" in shown.stdout


def test_a_free_text_opt_out_stops_that_channel_only(topics_ready: Settings) -> None:
    settings = topics_ready.model_copy(update={"conversations": True})
    serde = Serde(settings)
    processed = Processed(settings)
    processor = worker(settings, processed)

    def scenario() -> None:
        publish(settings, arrears("D-O", "pt"))
        sent = outreach(settings, serde, "D-O")
        assert wait_until(lambda: len(sent()) >= 1, 60)
        publish(settings, [reply("D-O", "sms", "pare de me mandar mensagem", None)])

        def opted_out() -> DebtorView | None:
            view = latest_view(settings, serde, "D-O")
            if view is None or not any(c.opted_out for c in view.channels):
                return None
            return view

        assert wait_until(lambda: opted_out() is not None, 60)
        view = opted_out()
        assert view is not None
        assert {c.channel for c in view.channels if c.opted_out} == {"sms"}
        assert all(not c.opted_out for c in view.channels if c.channel != "sms")
        # The confirmation is the one answer, on the channel written from.
        found = answers(settings, serde, "D-O")
        assert [(d.channel, d.template) for d in found] == [
            ("sms", "conversation.opt_out_confirmed")
        ]
        # A later message on WhatsApp is still answered there.
        publish(settings, [reply("D-O", "whatsapp", "quanto eu devo?", None)])
        assert wait_until(
            lambda: any(d.channel == "whatsapp" for d in answers(settings, serde, "D-O")), 60
        )
        assert [d.channel for d in answers(settings, serde, "D-O")].count("sms") == 1

    run_with(processor, scenario)


def test_asking_for_a_person_opens_one_task_and_stops_answers_until_it_is_closed(
    topics_ready: Settings,
) -> None:
    settings = topics_ready.model_copy(update={"conversations": True})
    serde = Serde(settings)
    processed = Processed(settings)
    processor = worker(settings, processed)
    tasks_topic = serde.topics.agent_tasks

    def tasks() -> list[AgentTask]:
        return [
            t
            for m in consume_all(settings, tasks_topic, expected=100, timeout_s=1.0)
            if isinstance(t := serde.deserialize(tasks_topic, m.value()), AgentTask)
            and t.debtor_id == "D-H"
        ]

    def scenario() -> None:
        publish(settings, arrears("D-H", "es"))
        sent = outreach(settings, serde, "D-H")
        assert wait_until(lambda: len(sent()) >= 1, 60)
        first = reply("D-H", "sms", "quiero hablar con una persona", sent()[0].dispatch_id)
        publish(settings, [first])
        assert wait_until(lambda: len(tasks()) >= 1, 60)
        # A later message, and the first one redelivered: no answer, no new task.
        later = reply("D-H", "sms", "¿cuánto debo?", sent()[0].dispatch_id)
        publish(settings, [later, first])
        assert wait_until(lambda: processed.responses >= 3, 30)
        found = tasks()
        assert len({t.task_id for t in found}) == 1
        task = found[0]
        assert task.reason == "ask_human" and task.status == "OPEN"
        assert task.transcript[0].text == "quiero hablar con una persona"
        assert task.view_json is not None and '"D-H"' in task.view_json
        assert [d.template for d in answers(settings, serde, "D-H")] == ["conversation.handoff"], (
            "the handoff notice, then nothing automatic"
        )
        # A person closes the task: the next message is answered again.
        closed = task.model_copy(
            update={
                "event_id": uuid.uuid4(),
                "occurred_at": NOON + timedelta(minutes=2),
                "status": "CLOSED",
                "closed_at": NOON + timedelta(minutes=2),
                "closed_by": "agent-7",
                "outcome": "called back",
            }
        )
        with RecaudoProducer(settings) as producer:
            producer.produce_raw(
                tasks_topic, b"D-H", serde.serialize(tasks_topic, closed), ce_headers(closed)
            )
        assert wait_until(lambda: processed.tasks >= 2, 30)  # the OPEN read back, then this
        publish(settings, [reply("D-H", "sms", "¿cuánto debo?", None, minute=3)])
        assert wait_until(
            lambda: "conversation.balance" in [d.template for d in answers(settings, serde, "D-H")],
            60,
        )

    run_with(processor, scenario)


def test_recaudo_converse_prints_the_answer(topics_ready: Settings) -> None:
    settings = topics_ready.model_copy(update={"conversations": True})
    serde = Serde(settings)
    processor = worker(settings, Processed(settings))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECAUDO_")}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=settings.require_bootstrap_servers(),
        RECAUDO_TOPIC_PREFIX=settings.topic_prefix,
        RECAUDO_TOPIC_PARTITIONS=str(settings.topic_partitions),
        RECAUDO_STATE_DIR=str(settings.state_dir),
        RECAUDO_EMBEDDED_BROKER="true",
    )
    chat: list[subprocess.CompletedProcess[str]] = []

    def scenario() -> None:
        publish(settings, arrears("D-C", "es"))
        sent = outreach(settings, serde, "D-C")
        assert wait_until(lambda: len(sent()) >= 1, 60)
        chat.append(
            subprocess.run(
                [sys.executable, "-m", "recaudo", "converse", "D-C", "--wait", "60"],
                input="¿cuánto debo?\n",
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
        )

    run_with(processor, scenario)
    (done,) = chat
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("recaudo: ")]
    assert len(lines) == 1 and "(no answer)" not in lines[0], done.stdout
    (answer,) = answers(settings, serde, "D-C")
    assert answer.template == "conversation.balance"
    assert answer.body is not None and answer.body.splitlines()[0] in lines[0]
