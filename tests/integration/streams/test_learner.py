"""The learned contact choice on the real broker and Postgres, one pipeline:
the orchestrator logs learner decisions with their probabilities and model
version; the learner service joins the outcomes to them, learns, and
publishes a new model version (topic and Postgres); the orchestrator picks
it up live; a poison record on the learner's input is dead-lettered; and
with the switch off the next decision is the static strategy's."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from recaudo.contracts.records import (
    ChannelResponse,
    ContactDecision,
    DeadLetter,
    Event,
    LearnerModel,
)
from recaudo.db.learner_model_store import latest_model
from recaudo.kafka.cloudevents import ce_headers
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.learning.model_topic import MODEL_KEY
from recaudo.settings import Settings
from streams.debtor_view import DebtorViewProcessor
from streams.learner import LearnerService
from tests.integration import waiting
from tests.integration.kafka_io import read_to_end
from tests.integration.streams.test_orchestration import history, publish, run_with
from tests.integration.test_cli import recaudo

pytestmark = pytest.mark.integration

# A Wednesday, 11:00 in New York: inside Regulation F's hours.
NOON = datetime(2026, 11, 18, 16, tzinfo=UTC)
WINDOW = timedelta(hours=12)


@dataclass
class MovableClock:
    """The pipeline's time, moved by the test (deferred choices come due)."""

    at: datetime

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def learner_settings(pg_settings: Settings) -> Settings:
    return pg_settings.model_copy(
        update={
            "learner_enabled": True,
            "learner_share": 1.0,
            "learner_probability_floor": 0.01,
            "learner_attribution_days": WINDOW / timedelta(days=1),
            "learner_snapshot_every": 1,
            "timer_interval_s": 0.2,
        }
    )


@pytest.fixture
def learner(learner_settings: Settings) -> Iterator[LearnerService]:
    service = LearnerService(learner_settings, interval_s=0.2)
    thread = threading.Thread(target=service.run, name="learner")
    thread.start()
    try:
        yield service
    finally:
        service.stop()
        thread.join(60)
        assert not thread.is_alive(), "the learner did not stop"


def decisions(settings: Settings, serde: Serde) -> list[ContactDecision]:
    out = []
    for m in read_to_end(settings, serde.topics.contact_decisions):
        record = serde.deserialize(m.topic() or "", m.value())
        assert isinstance(record, ContactDecision)
        out.append(record)
    return out


def versions(settings: Settings, serde: Serde) -> list[LearnerModel]:
    out = []
    for m in read_to_end(settings, serde.topics.learner_model):
        record = serde.deserialize(m.topic() or "", m.value())
        assert isinstance(record, LearnerModel)
        out.append(record)
    return out


def dead_letter(settings: Settings, serde: Serde, within: bytes) -> bool:
    """A dead letter whose original bytes contain ``within``, with its reason."""
    for m in read_to_end(settings, serde.topics.dlq):
        letter = serde.deserialize(serde.topics.dlq, m.value())
        if isinstance(letter, DeadLetter) and within in (letter.value or b""):
            return bool(letter.error_message)
    return False


def first(found: list[ContactDecision], debtor: str, outcome: str) -> ContactDecision | None:
    return next((d for d in found if d.debtor_id == debtor and d.outcome == outcome), None)


def test_decisions_are_learnt_and_the_new_model_is_used_live_and_the_switch_turns_it_off(
    learner_settings: Settings, learner: LearnerService
) -> None:
    settings = learner_settings
    serde = Serde(settings)
    assert waiting.wait_until(lambda: len(versions(settings, serde)) == 1, 60)
    [v0] = versions(settings, serde)
    clock = MovableClock(NOON)
    processor = DebtorViewProcessor(settings, clock=clock)
    assert processor.model_follower is not None

    seen: dict[str, str] = {}
    env = {
        "DATABASE_URL": settings.database_dsn(),
        "RECAUDO_EMBEDDED_BROKER": "true",
        "RECAUDO_LEARNER_PROBABILITY_FLOOR": "0.01",
        "RECAUDO_LEARNER_ATTRIBUTION_DAYS": repr(WINDOW / timedelta(days=1)),
    }

    def scenario() -> None:
        assert processor.model_follower is not None
        assert processor.model_follower.wait_caught_up(60)
        before, missed = history("D-1", NOON)
        publish(settings, [*before, missed])
        # The learner's choice, now or at its window's start within a day.
        assert waiting.wait_until(
            lambda: any(d.debtor_id == "D-1" for d in decisions(settings, serde)), 60
        )
        clock.at = NOON + timedelta(days=1)
        assert waiting.wait_until(
            lambda: first(decisions(settings, serde), "D-1", "DISPATCHED") is not None, 60
        )
        sent = first(decisions(settings, serde), "D-1", "DISPATCHED")
        assert sent is not None and sent.learning is not None
        seen["decision"] = str(sent.event_id)
        record = sent.learning
        assert record.arm == "learner" and record.model_version == v0.model_version
        assert record.probability is not None and 0.01 <= record.probability <= 1
        assert record.window and record.variant and record.features
        assert record.chosen is not None and record.actions[record.chosen].startswith(
            f"{sent.channel}@{record.window}/{record.variant}"
        )
        # The debtor answers and pays; a later event closes the window in event time.
        reply = ChannelResponse(
            occurred_at=sent.occurred_at + timedelta(minutes=5),
            source="connector.sms",
            debtor_id="D-1",
            dispatch_id=sent.dispatch_id,
            channel=sent.channel or "sms",
            status="REPLIED",
            provider="test",
            text="ok, pago mañana",
        )
        before2, late = history("D-2", sent.occurred_at + WINDOW + timedelta(minutes=10))
        outcomes: list[Event] = [reply, reply, *before2, late]  # the reply redelivered
        publish(settings, outcomes)
        with RecaudoProducer(settings, serde) as producer:
            producer.produce_raw(serde.topics.channel_responses, b"D-1", b"not avro", [])
            producer.flush(10)
        assert waiting.wait_until(lambda: len(versions(settings, serde)) >= 2, 60)
        v1 = versions(settings, serde)[-1]
        assert v1.model_version != v0.model_version and v1.decisions_learned == 1
        assert v1.previous_version == v0.model_version
        seen["v1"] = v1.model_version
        with psycopg.connect(settings.database_dsn()) as conn:
            stored = latest_model(conn)
        assert stored is not None and stored.model_version == v1.model_version
        # The orchestrator chooses with the new version from its next decision on.
        assert waiting.wait_until(
            lambda: processor.model_follower is not None and processor.model_follower.loaded >= 1,
            60,
        )
        # A version VW cannot read is dead-lettered; the orchestrator keeps v1.
        broken = v1.model_copy(update={"model_version": "0" * 16, "model": b"not a model"})
        with RecaudoProducer(settings, serde) as producer:
            producer.produce_raw(
                serde.topics.learner_model,
                MODEL_KEY,
                serde.serialize(serde.topics.learner_model, broken),
                ce_headers(broken),
            )
            producer.flush(10)
        assert waiting.wait_until(lambda: dead_letter(settings, serde, b"not a model"), 60)
        clock.at = late.occurred_at + timedelta(minutes=1)
        before3, missed3 = history("D-3", clock.at)
        publish(settings, [*before3, missed3])
        assert waiting.wait_until(
            lambda: any(
                d.debtor_id == "D-3" and d.learning is not None for d in decisions(settings, serde)
            ),
            60,
        )
        chosen = next(d for d in decisions(settings, serde) if d.debtor_id == "D-3" and d.learning)
        assert chosen.learning is not None
        assert chosen.learning.model_version == v1.model_version
        # Switched off at runtime: the next decision is the static strategy's.
        off = recaudo(settings, "learn", "switch", "off", "--reason", "test", **env)
        assert off.returncode == 0, off.stderr
        assert waiting.wait_until(
            lambda: (
                processor.model_follower is not None and not processor.model_follower.switched_on
            ),
            60,
        )
        before4, missed4 = history("D-4", clock.at)
        publish(settings, [*before4, missed4])
        assert waiting.wait_until(
            lambda: any(d.debtor_id == "D-4" for d in decisions(settings, serde)), 60
        )
        assert all(d.learning is None for d in decisions(settings, serde) if d.debtor_id == "D-4")

    run_with(processor, scenario)
    assert learner.decisions_learned == 1

    # The poison record went to the dead-letter topic, with its bytes and the reason.
    assert dead_letter(settings, serde, b"not avro")

    # At a terminal: why the decision was made, replayed from its model version
    # (v0, in Postgres), and how the latest version would have done on the logs.
    explained = recaudo(settings, "learn", "explain", seen["decision"], **env)
    assert explained.returncode == 0, explained.stderr
    assert "arm learner" in explained.stdout and v0.model_version in explained.stdout
    assert "replayed: the same choice" in explained.stdout, explained.stdout
    evaluated = recaudo(settings, "learn", "evaluate", "--json", **env)
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(evaluated.stdout)
    assert result["candidate"] == seen["v1"] and result["logged"]["n"] == 1
    for method in ("ips", "dr"):
        low, high = result[method]["ci95"]
        assert low <= result[method]["value"] <= high

    # Switched off by its setting, a worker follows no model and has no learner.
    static = DebtorViewProcessor(
        settings.model_copy(update={"learner_enabled": False}), clock=clock
    )
    assert static.model_follower is None
