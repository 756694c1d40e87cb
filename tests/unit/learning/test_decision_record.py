"""A learned decision's record: written and read back through its Avro
contract, it gives the bandit the same features and actions, so the
decision replays to the same choice from its model version."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

import fastavro
import pytest

from recaudo.contracts.records import ContactDecision
from recaudo.contracts.schemas import schema_json
from recaudo.kafka.avro_writer import encoder_for
from recaudo.learning.actions import DEFAULT_WINDOWS, AllowedAction, candidate_actions
from recaudo.learning.bandit import Bandit, LearnerConfig
from recaudo.learning.decision_record import (
    UnreadableChoice,
    actions_of,
    choice_record,
    explain,
    features_of,
    parse_action,
)
from recaudo.learning.features import Features

NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)
FEATURES = Features(
    (("bucket", "DPD_1_30"), ("dpd", 0.4333), ("age", 2.302585092994046), ("tried_n", 1.0))
)


def _decision(**learning: object) -> ContactDecision:
    return ContactDecision(
        event_id=uuid.uuid4(),
        occurred_at=NOW,
        source="test",
        debtor_id="D1",
        account_id="A1",
        trigger="payment_missed",
        step=0,
        channel="whatsapp",
        outcome="DISPATCHED",
        dispatch_id="x1",
        **learning,
    )


def _read_back(decision: ContactDecision) -> ContactDecision:
    data = encoder_for("ContactDecision")(decision)
    parsed = fastavro.parse_schema(schema_json("ContactDecision"))
    record = fastavro.schemaless_reader(io.BytesIO(data), parsed, parsed)
    assert isinstance(record, dict)
    return ContactDecision.from_avro(record)


def test_a_learned_decision_replays_to_the_same_choice_from_its_record() -> None:
    bandit = Bandit(LearnerConfig(probability_floor=0.01))
    allowed = [
        AllowedAction(a, NOW) for a in candidate_actions(["whatsapp", "sms"], DEFAULT_WINDOWS)
    ]
    choice = bandit.choose("dec-1", FEATURES, allowed, ("sms",))
    decision = _read_back(_decision(learning=choice_record("learner", choice)))
    record = decision.learning
    assert record is not None and record.model_version == bandit.version
    assert features_of(record) == FEATURES
    actions = actions_of(record)
    assert actions == choice.actions and record.chosen == choice.index
    assert record.probability == pytest.approx(choice.probability, abs=1e-9)
    replay = Bandit(LearnerConfig(probability_floor=0.01), bandit.to_bytes())
    again = replay.choose("dec-1", features_of(record), [AllowedAction(a, NOW) for a in actions])
    assert again.action == choice.action and again.model_version == record.model_version
    text = explain(decision)
    assert choice.action.label in text and bandit.version in text and "dpd=0.4333" in text


def test_static_and_switched_off_decisions_say_so() -> None:
    assert "switched off" in explain(_read_back(_decision()))
    held = _read_back(_decision(learning=choice_record("holdout")))
    assert held.learning is not None and held.learning.arm == "holdout"
    assert "held out" in explain(held)


@pytest.mark.parametrize("label", ["sms", "sms@night/soft", "fax@morning/soft", "sms@morning"])
def test_an_unreadable_action_names_what_is_expected(label: str) -> None:
    with pytest.raises(UnreadableChoice):
        parse_action(label)
