"""The bandit: replayable choices, versioned bytes, bounded exploration, and
that it learns which action is better on a stationary problem."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from recaudo.learning.actions import Action, AllowedAction, candidate_actions
from recaudo.learning.bandit import (
    Bandit,
    LearnerConfig,
    floored,
    in_learner_arm,
    model_version,
    sample,
)
from tests.unit.learning.fixtures import synthetic_features

NOW = datetime(2024, 5, 6, 15, tzinfo=UTC)
ACTIONS: tuple[Action, ...] = tuple(candidate_actions(["sms", "voice"], variants=("soft",)))


def _allowed(actions: tuple[Action, ...] = ACTIONS) -> list[AllowedAction]:
    return [AllowedAction(a, NOW) for a in actions]


def _reward(segment: int, action: Action, rng: random.Random) -> float:
    """A stationary problem: in segment 0 a WhatsApp-free world where voice in
    the evening pays, in segment 1 an SMS in the morning pays; others rarely."""
    best = "voice@evening/soft" if segment == 0 else "sms@morning/soft"
    p = 0.7 if action.label == best else 0.1
    return 1.0 if rng.random() < p else 0.0


def _train(bandit: Bandit, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    allowed = _allowed()
    for i in range(rounds):
        segment = rng.randrange(2)
        features = synthetic_features(segment, rng.random())
        choice = bandit.choose(f"train-{seed}-{i}", features, allowed)
        reward = _reward(segment, choice.action, rng)
        bandit.learn(features, choice.actions, choice.index, reward, choice.probability)


def test_the_same_decision_replays_to_the_same_choice_from_the_model_bytes() -> None:
    config = LearnerConfig(learner_share=1.0, epsilon=0.2)
    with Bandit(config) as live:
        _train(live, 300, seed=1)
        data = live.to_bytes()
        version = live.version
        rng = random.Random(2)
        contexts = [(f"dec-{i}", synthetic_features(i % 2, rng.random())) for i in range(100)]
        first = [live.choose(d, f, _allowed()) for d, f in contexts]
    assert version == model_version(data)
    with Bandit(config, data) as replay:
        assert replay.version == version
        again = [replay.choose(d, f, _allowed()) for d, f in contexts]
    assert again == first
    # The draws do depend on the decision id: not every decision takes one action.
    assert len({c.action for c in first}) > 1


def test_learning_changes_the_version() -> None:
    with Bandit(LearnerConfig()) as b:
        before = b.version
        b.learn(synthetic_features(0, 0.5), ACTIONS, 0, 1.0, 0.5)
        assert b.version != before


def test_after_learning_a_stationary_problem_the_pmf_favours_the_better_action() -> None:
    with Bandit(LearnerConfig(learner_share=1.0, epsilon=0.1)) as b:
        _train(b, 2000, seed=3)
        rng = random.Random(4)  # held-out contexts, never trained on
        mass = {0: 0.0, 1: 0.0}
        rivals = {0: 0.0, 1: 0.0}
        n = 200
        for _ in range(n):
            segment = rng.randrange(2)
            features = synthetic_features(segment, rng.random())
            pmf = b.pmf(features, ACTIONS)
            best = "voice@evening/soft" if segment == 0 else "sms@morning/soft"
            i = [a.label for a in ACTIONS].index(best)
            mass[segment] += pmf[i]
            rivals[segment] = max(rivals[segment], max(p for j, p in enumerate(pmf) if j != i))
    uniform = 1 / len(ACTIONS)
    for segment in (0, 1):
        share = mass[segment] / n
        print(f"segment {segment}: mean probability of the better action {share:.3f}")
        assert share > uniform
        assert share > rivals[segment]


def test_the_probability_floor_bounds_every_allowed_action_from_below() -> None:
    assert floored([1.0, 0.0, 0.0, 0.0], 0.05) == pytest.approx([0.85, 0.05, 0.05, 0.05])
    assert floored([0.7, 0.3], 0.6) == [0.5, 0.5]
    with Bandit(LearnerConfig(epsilon=0.0, probability_floor=0.1)) as b:
        _train(b, 200, seed=5)
        pmf = b.pmf(synthetic_features(0, 0.3), ACTIONS)
    assert min(pmf) >= 0.1 - 1e-12
    assert sum(pmf) == pytest.approx(1.0)


def test_sample_follows_the_cumulative_probabilities() -> None:
    assert [sample([0.2, 0.5, 0.3], u) for u in (0.0, 0.19, 0.2, 0.69, 0.7, 0.999)] == [
        0,
        0,
        1,
        1,
        2,
        2,
    ]


def test_the_learner_arm_is_a_stable_share_of_debtors_and_the_switch_empties_it() -> None:
    config = LearnerConfig(learner_share=0.2)
    debtors = [f"D{i}" for i in range(5000)]
    arm = [d for d in debtors if in_learner_arm(d, config)]
    assert 0.17 < len(arm) / len(debtors) < 0.23
    assert arm == [d for d in debtors if in_learner_arm(d, config)]
    off = LearnerConfig(enabled=False, learner_share=0.2)
    assert not any(in_learner_arm(d, off) for d in debtors)
    assert not any(in_learner_arm(d, LearnerConfig(learner_share=0.0)) for d in debtors)


def test_choosing_among_no_allowed_action_says_what_to_do() -> None:
    with Bandit(LearnerConfig()) as b, pytest.raises(ValueError, match="defers or suppresses"):
        b.choose("d", synthetic_features(0, 0.0), [])


def test_config_out_of_bounds_is_refused() -> None:
    with pytest.raises(ValueError, match="epsilon must be between 0 and 1"):
        LearnerConfig(epsilon=1.5)


def test_a_choice_explains_itself_with_its_probabilities_and_context() -> None:
    with Bandit(LearnerConfig(epsilon=0.1)) as b:
        _train(b, 300, seed=6)
        choice = b.choose("why-1", synthetic_features(0, 0.25), _allowed(), ["sms"])
    text = choice.explain(top=3)
    assert text.splitlines()[0] == (
        f"decision why-1: {choice.action.label} (probability {choice.probability:.3f}, "
        f"model {choice.model_version}, {len(ACTIONS)} allowed actions)"
    )
    listed = [line.split()[1] for line in text.splitlines()[1:4]]
    by_probability = sorted(
        zip(choice.pmf, choice.actions, strict=True), key=lambda pa: (-pa[0], pa[1])
    )
    assert listed == [a.label for _, a in by_probability[:3]]
    assert "seg=s0" in text and "tried in this run: sms" in text
    assert choice.tried == ("sms",)
