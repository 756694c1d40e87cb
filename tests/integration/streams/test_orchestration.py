"""The orchestrator inside the stream processor, on the real broker: one
trigger, one dispatch; redelivery, restarts and payments never make a second."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from recaudo.contracts.records import (
    ContactDecision,
    DebtEvent,
    DebtorProfile,
    DispatchCommand,
    Event,
)
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.orchestration import FixedClock
from recaudo.settings import Settings, env_for_children
from streams.debtor_view import NAME, DebtorViewProcessor
from tests.integration import waiting
from tests.integration.kafka_io import read_to_end, wait_caught_up
from tests.integration.running import run_with
from tests.integration.streams.worker_process import streams_worker

pytestmark = pytest.mark.integration

# A Wednesday, 11:00 in New York: inside Regulation F's 08:00-21:00.
NOON = datetime(2026, 11, 18, 16, tzinfo=UTC)


def profile(debtor: str, at: datetime) -> DebtorProfile:
    return DebtorProfile(
        occurred_at=at,
        source="crm",
        debtor_id=debtor,
        preferred_language="en",
        time_zone="America/New_York",
        country="US",
        jurisdiction="us_reg_f",
        contact_points=[
            {"channel": "sms", "address": "+12125550100", "consent": True},
            {"channel": "email", "address": f"{debtor.lower()}@example.com", "consent": True},
        ],
    )


def debt(debtor: str, type_: str, at: datetime, **payload: object) -> DebtEvent:
    return DebtEvent(
        event_id=payload.pop("event_id", uuid.uuid4()),
        occurred_at=at,
        source="core-banking",
        debtor_id=debtor,
        account_id=f"{debtor}-ACC-0001",
        type=type_,
        payload=payload,
    )


def history(debtor: str, at: datetime) -> tuple[list[Event], DebtEvent]:
    """A profile, an open debt and (returned apart) its missed payment."""
    opened = debt(
        debtor,
        "DEBT_OPENED",
        at - timedelta(days=40),
        principal_minor=500_000,
        currency="USD",
        balance_minor=400_000,
        product="card",
        instalment_minor=20_000,
        next_due_date=(at - timedelta(days=1)).date(),
    )
    missed = debt(
        debtor,
        "PAYMENT_MISSED",
        at - timedelta(minutes=5),
        instalment_number=3,
        amount_minor=20_000,
        currency="USD",
        due_date=(at - timedelta(days=1)).date(),
    )
    return [profile(debtor, at - timedelta(days=50)), opened], missed


def publish(settings: Settings, events: Sequence[Event]) -> None:
    with RecaudoProducer(settings) as producer:
        producer.publish_many(events)


def read(
    settings: Settings, serde: Serde, expected: int = 0, timeout_s: float = 5.0
) -> tuple[list[DispatchCommand], list[ContactDecision]]:
    """The dispatches and decisions on their topics now, read to their end;
    while fewer than ``expected`` dispatches are there, read again until
    ``timeout_s``."""
    found = _outputs(settings, serde)

    def enough() -> bool:
        nonlocal found
        found = _outputs(settings, serde)
        return len(found[0]) >= expected

    if len(found[0]) < expected:
        waiting.wait_until(enough, timeout_s, every_s=0.2)
    return found


def _outputs(
    settings: Settings, serde: Serde
) -> tuple[list[DispatchCommand], list[ContactDecision]]:
    topics = serde.topics
    dispatches: list[DispatchCommand] = []
    decisions: list[ContactDecision] = []
    channels = [topics.dispatch(c) for c in ("sms", "email", "whatsapp", "voice")]
    for m in read_to_end(settings, *channels, topics.contact_decisions):
        record = serde.deserialize(m.topic() or "", m.value())
        if isinstance(record, DispatchCommand):
            dispatches.append(record)
        elif isinstance(record, ContactDecision):
            decisions.append(record)
    return dispatches, decisions


def view_inputs(serde: Serde) -> list[str]:
    """What the view and orchestrator read (with its timers on)."""
    t = serde.topics
    return [t.debt_events, t.debtor_profiles, t.contact_decisions, t.channel_responses, t.wakeups]


def view_caught_up(settings: Settings, serde: Serde) -> None:
    """An offset barrier: the view worker has committed all its inputs, so
    everything it will decide on them is on its output topics."""
    wait_caught_up(settings, {f"{settings.topic_prefix}.{NAME}": view_inputs(serde)})


def wait_until(check: Callable[[], bool], timeout_s: float) -> bool:
    """Each check reads the topics from their beginning."""
    return waiting.wait_until(check, timeout_s, every_s=0.2)


def test_one_trigger_one_dispatch_and_a_payer_is_suppressed(topics_ready: Settings) -> None:
    settings = topics_ready
    serde = Serde(settings)
    debtors = [f"D-{i}" for i in range(3)]
    setup: list[Event] = []
    triggers: list[DebtEvent] = []
    for d in debtors:
        before, missed = history(d, NOON)
        setup += before
        triggers.append(missed)
    processor = DebtorViewProcessor(settings, clock=FixedClock(NOON), commit_interval=1.0)

    def scenario() -> None:
        publish(settings, [*setup, *triggers])
        assert wait_until(lambda: len(read(settings, serde, 3, 1.0)[0]) >= 3, 60)
        # The same triggers again, as a redelivery would bring them.
        publish(settings, triggers)
        view_caught_up(settings, serde)
        dispatches, decisions = read(settings, serde)
        assert sorted(c.debtor_id for c in dispatches) == debtors
        assert len({c.dispatch_id for c in dispatches}) == 3
        assert all(
            c.body and "Reply STOP to opt out." in c.body
            for c in dispatches
            if c.channel in ("sms", "email")
        )
        assert sum(x.outcome == "DISPATCHED" for x in decisions) == 3
        # D-0 pays: its pending follow-up step is suppressed at once.
        paid = debt(
            "D-0",
            "PAYMENT_RECEIVED",
            NOON + timedelta(minutes=1),
            payment_id="pay-1",
            amount_minor=20_000,
            currency="USD",
        )
        publish(settings, [paid])

        def suppressed() -> bool:
            return any(
                x.debtor_id == "D-0"
                and x.outcome == "SUPPRESSED"
                and [h.reason_code for h in x.rules_fired] == ["DEBT_PAID"]
                for x in read(settings, serde)[1]
            )

        assert wait_until(suppressed, 30)

    run_with(processor, scenario)


def test_a_deferred_step_is_released_by_the_timer(topics_ready: Settings) -> None:
    settings = topics_ready
    serde = Serde(settings)
    # 06:30 in New York: before Regulation F's window. The clock is moved to
    # 08:00 once the deferral is seen; only the timer can then bring the step.
    early = datetime(2026, 11, 18, 11, 30, tzinfo=UTC)
    clock = FixedClock(early)
    before, missed = history("D-T", early)
    processor = DebtorViewProcessor(settings, clock=clock, commit_interval=1.0)

    def decided() -> list[str]:
        found = sorted(read(settings, serde)[1], key=lambda x: x.occurred_at)
        return [x.outcome for x in found]

    def scenario() -> None:
        publish(settings, [*before, missed])
        assert wait_until(lambda: decided() == ["DEFERRED"], 60), decided()
        assert read(settings, serde)[0] == []
        clock.at = datetime(2026, 11, 18, 13, 0, 1, tzinfo=UTC)
        assert wait_until(lambda: len(read(settings, serde)[0]) == 1, 30)
        assert decided() == ["DEFERRED", "DISPATCHED"]
        assert processor.timer_service is not None and processor.timer_service.wakeups_sent >= 1

    run_with(processor, scenario)


def test_a_killed_worker_never_adds_a_dispatch_id(pg_settings: Settings) -> None:
    settings = pg_settings
    serde = Serde(settings)
    debtors = [f"K-{i}" for i in range(30)]
    setup: list[Event] = []
    triggers: list[Event] = []
    for d in debtors:
        before, missed = history(d, NOON)
        setup += before
        triggers.append(missed)
    env = env_for_children(
        settings.model_copy(
            update={"clock_origin": NOON, "clock_started": time.time(), "clock_speed": 1e-6}
        ),
        RECAUDO_INSTANCE_ID="k0",
        RECAUDO_LOG_LEVEL="WARNING",
    )

    with streams_worker(env) as worker:
        publish(settings, setup)
        view_caught_up(settings, serde)  # joined, the histories folded in
        publish(settings, triggers)
        assert wait_until(lambda: len(read(settings, serde)[0]) >= 1, 60)
        worker.kill_and_restart()  # mid-stream, before its checkpoint
        assert wait_until(
            lambda: len({c.debtor_id for c in read(settings, serde)[0]}) == len(debtors), 90
        )
        view_caught_up(settings, serde)  # whatever the restart re-sends is out
        dispatches, _ = read(settings, serde)
        ids_by_debtor: dict[str, set[str]] = {}
        for c in dispatches:
            ids_by_debtor.setdefault(c.debtor_id, set()).add(c.dispatch_id)
        # One contact per debtor: a re-sent record after the kill carries the
        # same dispatch_id (the connectors' idempotency key), never a new one.
        assert all(len(ids) == 1 for ids in ids_by_debtor.values()), ids_by_debtor
        assert sorted(ids_by_debtor) == sorted(debtors)
