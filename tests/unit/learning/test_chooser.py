"""The orchestrator with the learner: learner-arm debtors get the model's
channel, window and variant among the contacts the rules allow; static-arm
debtors get exactly what they got before; the switch takes effect on the
next decision; a new model version is used without a restart."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings

from recaudo.learning.actions import SendWindow
from recaudo.learning.arms import ArmPlan, ArmShares
from recaudo.learning.bandit import Bandit, LearnerConfig
from recaudo.learning.chooser import LearnedChooser, ModelSlot
from recaudo.learning.decision_record import actions_of, features_of, replay
from recaudo.orchestration import Orchestrator, Templates, load_strategy, strategy_from_mapping
from tests.unit.orchestration.driver import Driver, shipped_catalogue, with_opt_out_page
from tests.unit.orchestration.test_properties import (
    _run,
    assert_every_dispatch_respects_the_preset,
    scenarios,
)
from tests.unit.view.builders import at, missed, opened, profile

CONFIG = LearnerConfig(epsilon=0.2, probability_floor=0.01)
TEMPLATES = with_opt_out_page()
EVERYONE = ArmPlan(enabled=True, default=ArmShares(learner=1.0))
NOBODY = ArmPlan(enabled=True, default=ArmShares(learner=0.0))
BOGOTA = ZoneInfo("America/Bogota")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def driver(plan: ArmPlan | None, slot: ModelSlot | None = None, **chooser: Any) -> Driver:
    learner = None
    if plan is not None:
        learner = LearnedChooser(plan, slot or ModelSlot(CONFIG), **chooser)
    return Driver(orchestrator=Orchestrator(load_strategy(), TEMPLATES, learner=learner))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_the_learner_sends_only_what_the_preset_allows_and_logs_why(s: dict[str, Any]) -> None:
    d, conversations, _ = _run(s, driver(EVERYONE))
    assert_every_dispatch_respects_the_preset(d, s, conversations)
    by_dispatch = {c.dispatch_id: c for c in d.dispatches}
    for decision in d.decisions:
        record = decision.learning
        assert record is not None and record.arm == "learner"
        if decision.outcome != "DISPATCHED" or record.chosen is None:
            continue
        action = actions_of(record)[record.chosen]
        assert action.channel == decision.channel
        assert (record.window, record.variant) == (action.window.name, action.variant)
        assert record.probability is not None and 0.01 <= record.probability <= 1
        assert features_of(record).shared  # the context it read
        assert by_dispatch[decision.dispatch_id or ""].channel == action.channel


def _canonical(d: Driver, *, without_learning: bool = False) -> list[str]:
    """Decisions and dispatches as JSON, each random event id (the builders
    draw new ones per run) replaced by its order of first appearance."""
    ids: dict[str, str] = {}
    records = [
        x.model_copy(update={"learning": None}) if without_learning else x for x in d.decisions
    ]
    text = [r.model_dump_json() for r in (*records, *d.dispatches)]
    return [UUID.sub(lambda m: ids.setdefault(m.group(0), f"id{len(ids)}"), t) for t in text]


@contextmanager
def same_trigger_ids() -> Iterator[None]:
    """The builders' event ids drawn from one seed: runs of the same scenario
    get the same run keys, which order runs due at the same instant."""
    rng = random.Random(7)
    original = uuid.uuid4
    uuid.uuid4 = lambda: uuid.UUID(int=rng.getrandbits(128), version=4)
    try:
        yield
    finally:
        uuid.uuid4 = original


def _run_same(s: dict[str, Any], d: Driver) -> Driver:
    with same_trigger_ids():
        return _run(s, d)[0]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_static_arm_debtors_get_exactly_the_static_strategy(s: dict[str, Any]) -> None:
    before = _canonical(_run_same(s, driver(None)))
    static = _run_same(s, driver(NOBODY))
    assert _canonical(static, without_learning=True) == before
    assert {d.learning.arm if d.learning else None for d in static.decisions} <= {"static"}
    off = _canonical(_run_same(s, driver(ArmPlan(enabled=False, default=ArmShares(learner=1.0)))))
    assert off == before


def _evening_only(slot: ModelSlot | None = None) -> Driver:
    return driver(EVERYONE, slot, windows=(SendWindow("evening", 18, 21),), variants=("firm",))


def test_a_later_window_is_deferred_to_its_start_and_sent_then_in_the_chosen_variant() -> None:
    d = _evening_only()
    d.event(profile(-40))
    d.event(opened(-30))
    now = at(0.1)  # 09:24 in Bogota
    assert d.event(missed(1, 0, when=0.1), now=now) == []
    deferred = d.decisions[-1]
    assert deferred.outcome == "DEFERRED" and deferred.not_before is not None
    assert deferred.not_before.astimezone(BOGOTA).hour == 18
    assert deferred.learning is not None and deferred.learning.window == "evening"
    d.advance(now + timedelta(days=1))
    cmd = d.dispatches[0]
    assert cmd.occurred_at == deferred.not_before and cmd.channel == deferred.channel
    sent = next(x for x in d.decisions if x.outcome == "DISPATCHED")
    assert sent.learning == deferred.learning and sent.learning.variant == "firm"
    firm = {
        TEMPLATES.render(
            cmd.template,
            tone="firm",
            locale=cmd.locale,
            channel=cmd.channel,
            variables=cmd.variables,
            opt_out=opt_out,
        ).body
        for opt_out in (False, True)
    }
    assert cmd.body in firm


def test_switched_off_the_next_decision_is_the_static_strategy() -> None:
    d = _evening_only()
    d.event(profile(-40))
    d.event(opened(-30))
    d.event(missed(1, 0, when=0.1), now=at(0.1))
    assert d.decisions[-1].outcome == "DEFERRED"
    # The same state, read by an orchestrator restarted with the switch off.
    d.orchestrator = Orchestrator(load_strategy(), TEMPLATES, learner=None)
    d.advance(at(2))
    first = next(x for x in d.decisions if x.outcome == "DISPATCHED")
    assert first.learning is None
    static = driver(None)
    static.event(profile(-40))
    static.event(opened(-30))
    static.event(missed(1, 0, when=0.1), now=at(0.1))
    # Static ordering, the cadence's tone: what the static strategy sends.
    assert d.dispatches[0].channel == static.dispatches[0].channel
    assert d.dispatches[0].body == static.dispatches[0].body


def test_a_new_model_version_is_used_on_the_next_decision() -> None:
    slot = ModelSlot(CONFIG)
    first = _evening_only(slot)
    first.event(profile(-40))
    first.event(opened(-30))
    first.event(missed(1, 0, when=0.1), now=at(0.1))
    record = first.decisions[-1].learning
    assert record is not None and record.model_version == slot.version
    trained = Bandit(CONFIG)
    assert record.chosen is not None
    trained.learn(features_of(record), actions_of(record), record.chosen, 1.0, 0.5)
    assert slot.load(trained.to_bytes()) and not slot.load(trained.to_bytes())
    assert slot.version == trained.version != record.model_version
    second = _evening_only(slot)
    second.event(profile(-40))
    second.event(opened(-30))
    second.event(missed(1, 0, when=0.1), now=at(0.1))
    later = second.decisions[-1].learning
    assert later is not None and later.model_version == trained.version


def test_a_channel_whose_opt_out_text_cannot_be_written_is_never_offered() -> None:
    """Without an email opt-out page, Regulation F debtors get no email: the
    learner is not offered it (it would spend the step on a contact never sent)."""
    plain = Templates(shipped_catalogue())
    assert not plain.offers_opt_out("email")
    email_first = strategy_from_mapping(
        {
            "id": "t",
            "cadence": [
                {
                    "id": "c",
                    "trigger": "payment_missed",
                    "champion": [
                        {"offset": "0h", "channels": ["email", "sms"], "template": "payment_missed"}
                    ],
                }
            ],
        }
    )
    learner = LearnedChooser(EVERYONE, ModelSlot(CONFIG), variants=("neutral",))
    for n in range(12):  # different draws: each run key is new
        d = Driver(orchestrator=Orchestrator(email_first, plain, learner=learner))
        d.event(profile(-40, jurisdiction="us_reg_f", time_zone="America/New_York", country="US"))
        d.event(opened(-30))
        d.event(missed(1, 0, when=0.1 + n / 100), now=at(0.2))
        d.advance(at(2))
        assert [c.channel for c in d.dispatches] == ["sms"], n


def test_every_learned_decision_replays_to_its_choice_from_its_model_version() -> None:
    trained = Bandit(CONFIG)
    record = None
    for _ in range(3):  # a model that is not uniform, so a replay could differ
        d = _evening_only(ModelSlot(CONFIG, trained.to_bytes()))
        d.event(profile(-40))
        d.event(opened(-30))
        d.event(missed(1, 0, when=0.1), now=at(0.1))
        record = d.decisions[-1].learning
        assert record is not None and record.chosen is not None
        trained.learn(features_of(record), actions_of(record), record.chosen, 1.0, 0.5)
    model = trained.to_bytes()
    learned = []
    for _ in range(4):
        d = driver(EVERYONE, ModelSlot(CONFIG, model))
        d.event(profile(-40))
        d.event(opened(-30))
        d.event(missed(1, 0, when=0.1), now=at(0.1))
        d.advance(at(3))
        learned += [x for x in d.decisions if x.learning and x.learning.chosen is not None]
    assert len(learned) >= 4
    with Bandit(CONFIG, model) as again:
        for decision in learned:
            assert decision.learning is not None and decision.learning.chosen is not None
            choice = replay(decision, again)
            assert choice is not None
            assert choice.action.label == decision.learning.actions[decision.learning.chosen]
            assert choice.model_version == decision.learning.model_version


def test_the_runtime_switch_off_makes_the_next_decision_static_without_a_restart() -> None:
    slot = ModelSlot(CONFIG)
    d = _evening_only(slot)
    d.event(profile(-40))
    d.event(opened(-30))
    d.event(missed(1, 0, when=0.1), now=at(0.1))
    assert d.decisions[-1].outcome == "DEFERRED" and d.decisions[-1].learning is not None
    slot.switched_on = False  # what the learner-switch topic's record does
    d.advance(at(2))
    sent = [x for x in d.decisions if x.outcome == "DISPATCHED"]
    assert sent and all(x.learning is None for x in sent)
    slot.switched_on = True
    d.event(missed(2, 1, when=1.1), now=at(2.1))
    assert d.decisions[-1].learning is not None and d.decisions[-1].learning.arm == "learner"
