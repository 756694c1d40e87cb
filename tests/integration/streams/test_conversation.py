"""The conversation inside the view worker, on the real broker: a debtor's
reply is understood and answered once on the channel written from, in the
debtor's language; what it caused (a promise, a plan, a dispute, an opt-out,
a person called in) reaches the view, the other channels and the
agent-tasks topic; an answer the hours refuse is sent at the next window.

One worker serves the whole module (its start, the model's training and the
group join are paid once); each test has debtors of its own. The worker's
clock only moves forward, in the last two tests, in file order."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from confluent_kafka import Message, Producer

from recaudo.contracts.records import (
    AgentTask,
    Channel,
    ChannelResponse,
    ContactDecision,
    DebtEvent,
    DebtorProfile,
    DebtorView,
    DispatchCommand,
    Envelope,
    Event,
    PaymentPlanAgreed,
)
from recaudo.embedded.broker import EmbeddedBroker
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.kafka.topics_admin import ensure_topics
from recaudo.orchestration import FixedClock
from recaudo.settings import Settings
from streams.debtor_view import DebtorViewProcessor
from tests.integration.kafka_io import read_to_end
from tests.integration.stories import open_debt_with_a_missed_instalment
from tests.integration.test_cli_inspect import run
from tests.integration.waiting import wait_until

pytestmark = pytest.mark.integration

# A Wednesday, 11:00 in Bogotá: inside Ley 2300's Monday-Friday 07:00-19:00.
NOON = datetime(2026, 11, 18, 16, tzinfo=UTC)
FRIDAY = date(2026, 11, 20)
ANSWER = "conversation."
CHANNELS: tuple[Channel, ...] = ("sms", "email", "whatsapp", "voice")


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
    return [profile(debtor, language), *open_debt_with_a_missed_instalment(debtor, account, NOON)]


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


@dataclass
class Processed:
    """The furthest offset the worker has processed, per topic partition (its on_processed)."""

    done: dict[tuple[str, int], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, topic: str, partition: int, offset: int) -> None:
        with self.lock:
            key = (topic, partition)
            self.done[key] = max(self.done.get(key, -1), offset)

    def reached(self, spots: list[tuple[str, int, int]]) -> bool:
        with self.lock:
            return all(self.done.get((t, p), -1) >= o for t, p, o in spots)


@dataclass
class Pipeline:
    settings: Settings
    serde: Serde
    clock: FixedClock
    processed: Processed

    def publish(self, events: Sequence[Envelope]) -> list[tuple[str, int, int]]:
        """Produce ``events``; where each landed (topic, partition, offset)."""
        spots: list[tuple[str, int, int]] = []

        def landed(err: object, msg: Message) -> None:
            assert err is None, err
            spots.append((msg.topic() or "", msg.partition() or 0, msg.offset() or 0))

        encoder = RecaudoProducer(self.settings, self.serde)
        producer = Producer(self.settings.producer_config())
        try:
            for event in events:
                topic, key, value, headers = encoder.encode(event)
                producer.produce(
                    topic, key=key.encode(), value=value, headers=headers, on_delivery=landed
                )
            assert producer.flush(30) == 0
        finally:
            encoder.close()
        return spots

    def publish_and_wait(self, events: Sequence[Envelope]) -> None:
        """Produce ``events`` and wait until the worker has processed each."""
        spots = self.publish(events)
        assert wait_until(lambda: self.processed.reached(spots), 60), spots

    def records(self, *topics: str) -> list[object]:
        return [
            self.serde.deserialize(m.topic() or "", m.value())
            for m in read_to_end(self.settings, *topics)
            if m.value() is not None
        ]

    def dispatches(self, debtor: str) -> list[DispatchCommand]:
        topics = [self.serde.topics.dispatch(c) for c in CHANNELS]
        return [
            d
            for d in self.records(*topics)
            if isinstance(d, DispatchCommand) and d.debtor_id == debtor
        ]

    def answers(self, debtor: str) -> list[DispatchCommand]:
        return [d for d in self.dispatches(debtor) if d.template.startswith(ANSWER)]

    def outreach(self, debtor: str) -> list[DispatchCommand]:
        return [d for d in self.dispatches(debtor) if not d.template.startswith(ANSWER)]

    def decisions(self, debtor: str) -> list[ContactDecision]:
        return [
            d
            for d in self.records(self.serde.topics.contact_decisions)
            if isinstance(d, ContactDecision) and d.debtor_id == debtor
        ]

    def debt_events(self, debtor: str) -> list[DebtEvent]:
        return [
            e
            for e in self.records(self.serde.topics.debt_events)
            if isinstance(e, DebtEvent) and e.debtor_id == debtor
        ]

    def tasks(self, debtor: str) -> list[AgentTask]:
        return [
            t
            for t in self.records(self.serde.topics.agent_tasks)
            if isinstance(t, AgentTask) and t.debtor_id == debtor
        ]

    def view(self, debtor: str) -> DebtorView | None:
        views = [
            v
            for v in self.records(self.serde.topics.debtor_view)
            if isinstance(v, DebtorView) and v.debtor_id == debtor
        ]
        return max(views, key=lambda v: v.version) if views else None

    def in_arrears(self, debtor: str, language: str) -> DispatchCommand:
        """The debtor's arrears published; their first outreach once sent."""
        self.publish(arrears(debtor, language))
        assert wait_until(lambda: bool(self.outreach(debtor)), 60)
        return self.outreach(debtor)[0]


@pytest.fixture(scope="module")
def pipeline(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    settings = Settings(
        kafka_bootstrap_servers=broker.bootstrap_servers,
        embedded_broker=True,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}",
        topic_partitions=3,
        state_dir=tmp_path_factory.mktemp("conversation"),
        conversations=True,
    )
    ensure_topics(settings)
    clock = FixedClock(NOON + timedelta(minutes=1))
    processed = Processed()
    processor = DebtorViewProcessor(
        settings, clock=clock, snapshots="inline", on_processed=processed
    )
    # In a thread so that one worker serves every test: signals stay the test runner's.
    processor.processor.app._setup_signal_handlers = lambda: None  # type: ignore[method-assign]  # noqa: SLF001
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            processor.run()
        except BaseException as exc:  # surfaced when the module ends
            failure.append(exc)

    thread = threading.Thread(target=serve, name="conversation-worker")
    thread.start()
    try:
        yield Pipeline(settings, Serde(settings), clock, processed)
    finally:
        processor.stop()
        thread.join(60)
    assert not thread.is_alive(), "the view worker did not stop"
    if failure:
        raise failure[0]


def test_a_promise_is_answered_once_and_reaches_the_view(pipeline: Pipeline) -> None:
    p = pipeline
    sent = p.in_arrears("D-P", "es")
    message = reply("D-P", "sms", "pago el viernes", sent.dispatch_id)
    p.publish([message])
    assert wait_until(lambda: bool(p.answers("D-P")), 60)
    # The same message again (same event id), as a redelivery brings it.
    p.publish_and_wait([message])
    found = p.answers("D-P")
    assert len(found) == 1, [d.template for d in found]
    answer = found[0]
    assert answer.channel == "sms" and answer.address == "+573001234567"
    assert answer.template == "conversation.promise_confirmed"
    assert answer.locale == "es"
    assert answer.body is not None and FRIDAY.isoformat() in answer.body

    def promised() -> bool:
        view = p.view("D-P")
        return view is not None and any(
            pr.promised_date == FRIDAY and pr.status == "PENDING" for pr in view.promises
        )

    assert wait_until(promised, 30)
    # The thread as `recaudo conversation show` prints it, from the topics.
    shown = run(p.settings, "conversation", "show", "D-P")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("debtor: 'pago el viernes'") == 1, shown.stdout
    assert "understood: promise_to_pay" in shown.stdout
    caused = [line for line in shown.stdout.splitlines() if "caused: PROMISE_TO_PAY" in line]
    assert len(caused) == 1 and f"promised_date={FRIDAY}" in caused[0], shown.stdout
    assert "answered on sms (promise_confirmed)" in shown.stdout


def test_a_free_text_opt_out_stops_that_channel_only(pipeline: Pipeline) -> None:
    p = pipeline
    p.in_arrears("D-O", "pt")
    p.publish([reply("D-O", "sms", "pare de me mandar mensagem", None)])

    def opted_out() -> DebtorView | None:
        view = p.view("D-O")
        if view is None or not any(c.opted_out for c in view.channels):
            return None
        return view

    assert wait_until(lambda: opted_out() is not None, 60)
    view = opted_out()
    assert view is not None
    assert {c.channel for c in view.channels if c.opted_out} == {"sms"}
    assert all(not c.opted_out for c in view.channels if c.channel != "sms")
    # The confirmation is the one answer, on the channel written from.
    assert [(d.channel, d.template) for d in p.answers("D-O")] == [
        ("sms", "conversation.opt_out_confirmed")
    ]
    # A later message on WhatsApp is still answered there.
    p.publish([reply("D-O", "whatsapp", "quanto eu devo?", None)])
    assert wait_until(lambda: any(d.channel == "whatsapp" for d in p.answers("D-O")), 60)
    assert [d.channel for d in p.answers("D-O")].count("sms") == 1


def test_asking_for_a_person_opens_one_task_and_stops_answers_until_it_is_closed(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    sent = p.in_arrears("D-H", "es")
    first = reply("D-H", "sms", "quiero hablar con una persona", sent.dispatch_id)
    p.publish([first])
    assert wait_until(lambda: bool(p.tasks("D-H")), 60)
    # A later message, and the first one redelivered: no answer, no new task.
    later = reply("D-H", "sms", "¿cuánto debo?", sent.dispatch_id)
    p.publish_and_wait([later, first])
    found = p.tasks("D-H")
    assert len({t.task_id for t in found}) == 1
    task = found[0]
    assert task.reason == "ask_human" and task.status == "OPEN"
    assert task.transcript[0].text == "quiero hablar con una persona"
    assert task.view_json is not None and '"D-H"' in task.view_json
    assert [d.template for d in p.answers("D-H")] == ["conversation.handoff"], (
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
    p.publish_and_wait([closed])
    p.publish([reply("D-H", "sms", "¿cuánto debo?", None, minute=3)])
    assert wait_until(lambda: "conversation.balance" in [d.template for d in p.answers("D-H")], 60)


def test_a_dispute_opens_a_task_and_automatic_answers_stop(pipeline: Pipeline) -> None:
    p = pipeline
    sent = p.in_arrears("D-D", "es")
    p.publish([reply("D-D", "sms", "el monto está mal, no reconozco ese cobro", sent.dispatch_id)])
    assert wait_until(lambda: bool(p.tasks("D-D")), 60)
    (task,) = p.tasks("D-D")
    assert task.reason == "dispute" and task.status == "OPEN"
    assert [e.type for e in p.debt_events("D-D")].count("DISPUTE_OPENED") == 1

    def disputed() -> bool:
        view = p.view("D-D")
        return view is not None and [d.status for d in view.disputes] == ["OPEN"]

    assert wait_until(disputed, 30)
    p.publish_and_wait([reply("D-D", "sms", "quiero pagar en 2 cuotas", None, minute=2)])
    assert [d.template for d in p.answers("D-D")] == ["conversation.dispute_received"]
    assert len(p.tasks("D-D")) == 1


def test_recaudo_converse_prints_the_answer(pipeline: Pipeline) -> None:
    p = pipeline
    settings = p.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECAUDO_")}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=settings.require_bootstrap_servers(),
        RECAUDO_TOPIC_PREFIX=settings.topic_prefix,
        RECAUDO_TOPIC_PARTITIONS=str(settings.topic_partitions),
        RECAUDO_STATE_DIR=str(settings.state_dir),
        RECAUDO_EMBEDDED_BROKER="true",
    )
    p.in_arrears("D-C", "es")
    done = subprocess.run(
        [sys.executable, "-m", "recaudo", "converse", "D-C", "--wait", "60"],
        input="¿cuánto debo?\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("recaudo: ")]
    assert len(lines) == 1 and "(no answer)" not in lines[0], done.stdout
    (answer,) = p.answers("D-C")
    assert answer.template == "conversation.balance"
    assert answer.body is not None and answer.body.splitlines()[0] in lines[0]


def test_a_plan_negotiated_end_to_end_pauses_the_dunning(pipeline: Pipeline) -> None:
    """Moves the clock four days on (later tests start from there)."""
    p = pipeline
    sent = p.in_arrears("D-N", "es")
    p.publish([reply("D-N", "sms", "puedo pagar en 2 cuotas?", sent.dispatch_id)])
    assert wait_until(lambda: bool(p.answers("D-N")), 60)
    (offer,) = p.answers("D-N")
    # The segment's bounds (docs/conversations.md): the overdue 20 000.00 in two.
    assert offer.template == "conversation.plan_offer"
    assert offer.variables["instalments"] == "2"
    assert offer.variables["instalment"] == "COP 10,000.00"
    p.publish([reply("D-N", "sms", "sí, acepto", sent.dispatch_id, minute=5)])

    def agreed() -> list[DebtEvent]:
        return [e for e in p.debt_events("D-N") if e.type == "PAYMENT_PLAN_AGREED"]

    assert wait_until(lambda: bool(agreed()), 60)
    (event,) = agreed()
    plan = event.payload
    assert isinstance(plan, PaymentPlanAgreed)
    assert (plan.instalment_count, plan.instalment_minor, plan.total_minor) == (
        2,
        1_000_000,
        2_000_000,
    )
    assert plan.dispatch_id == sent.dispatch_id

    def plan_in_view() -> bool:
        view = p.view("D-N")
        return view is not None and any(
            pr.promise_id == plan.plan_id and pr.status == "PENDING" for pr in view.promises
        )

    assert wait_until(plan_in_view, 60)
    assert wait_until(
        lambda: "conversation.plan_confirmed" in [d.template for d in p.answers("D-N")], 30
    )
    # Four days on, before the first instalment falls due: the cadence's next
    # step comes due and is refused because the plan is current.
    outreach = len(p.outreach("D-N"))
    p.clock.at = NOON + timedelta(days=4)

    def refused() -> bool:
        return any(
            h.rule_id == "orchestration.stale.promise_pending"
            for d in p.decisions("D-N")
            for h in d.rules_fired
        )

    assert wait_until(refused, 60)
    assert len(p.outreach("D-N")) == outreach


def test_an_answer_outside_the_hours_is_sent_once_at_the_next_window(pipeline: Pipeline) -> None:
    """Sunday evening in Bogotá, then Monday 07:00 (after the plan test's Sunday noon)."""
    p = pipeline
    sunday_evening = datetime(2026, 11, 23, 2, tzinfo=UTC)  # Sunday 21:00 in Bogotá
    monday_opening = datetime(2026, 11, 23, 12, tzinfo=UTC)  # Monday 07:00 in Bogotá
    p.clock.at = sunday_evening
    # No arrears: nothing but the held answer sets the debtor's timer.
    opened = DebtEvent(
        occurred_at=sunday_evening - timedelta(days=10),
        source="core-banking",
        debtor_id="D-Q",
        account_id="D-Q-ACC-0001",
        type="DEBT_OPENED",
        payload={
            "principal_minor": 50_000_000,
            "currency": "COP",
            "balance_minor": 40_000_000,
            "product": "card",
        },
    )
    p.publish_and_wait([profile("D-Q", "es"), opened])
    message = reply("D-Q", "sms", "¿cuánto debo?", None)
    p.publish_and_wait([message])

    def held() -> list[ContactDecision]:
        return [
            d
            for d in p.decisions("D-Q")
            if d.outcome == "DEFERRED" and d.trigger_event_id == message.event_id
        ]

    assert wait_until(lambda: bool(held()), 30)
    assert held()[0].not_before == monday_opening
    assert p.answers("D-Q") == []
    p.clock.at = monday_opening
    assert wait_until(lambda: bool(p.answers("D-Q")), 60)
    # Redelivered meanwhile: still the one answer.
    p.publish_and_wait([message])
    (answer,) = p.answers("D-Q")
    assert answer.template == "conversation.balance"
    assert answer.not_before == monday_opening
