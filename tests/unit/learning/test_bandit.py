"""The bandit: replayable choices, versioned bytes, bounded exploration, and
that it learns which action is better on a stationary problem."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from recaudo.learning.actions import Action, AllowedAction, candidate_actions
from recaudo.learning.bandit import (
    Bandit,
    Choice,
    LearnerConfig,
    Wait,
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


@pytest.mark.parametrize("exploration", ["epsilon", "squarecb"])
def test_after_learning_a_stationary_problem_the_pmf_favours_the_better_action(
    exploration: str,
) -> None:
    config = LearnerConfig(learner_share=1.0, epsilon=0.1, exploration=exploration)
    with Bandit(config) as b:
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
    with pytest.raises(ValueError, match="'epsilon' or 'squarecb'"):
        LearnerConfig(exploration="thompson")


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


def test_with_the_wait_option_every_option_keeps_the_floor_and_a_decision_replays() -> None:
    config = LearnerConfig(epsilon=0.1, probability_floor=0.05)
    with Bandit(config) as b:
        _train(b, 200, seed=7)
        decided = [
            b.choose_or_wait(f"w-{i}", synthetic_features(i % 2, 0.5), _allowed())
            for i in range(60)
        ]
        again = [
            b.choose_or_wait(f"w-{i}", synthetic_features(i % 2, 0.5), _allowed())
            for i in range(60)
        ]
    assert decided == again
    assert any(isinstance(d, Wait) for d in decided)
    assert any(isinstance(d, Choice) for d in decided)
    for d in decided:
        wait = d.probability if isinstance(d, Wait) else d.wait_probability
        assert wait is not None
        assert sum(d.pmf) + wait == pytest.approx(1.0)
        assert min(*d.pmf, wait) >= 0.05 - 1e-12
        if isinstance(d, Wait):
            assert d.index == len(d.actions)


def _contact_or_wait_reward(segment: int, action: Action | None, rng: random.Random) -> float:
    """Segment 0: one contact pays often enough to be worth its cost; segment 1:
    nothing pays, so every contact only costs and not contacting is best."""
    if action is None:
        return 0.0
    pays = segment == 0 and action.label == "voice@evening/soft" and rng.random() < 0.7
    return (1.0 if pays else 0.0) - 0.2


def test_the_learner_learns_not_to_contact_where_a_contact_only_costs() -> None:
    with Bandit(LearnerConfig(learner_share=1.0, epsilon=0.1)) as b:
        rng = random.Random(8)
        allowed = _allowed()
        for i in range(2000):
            segment = rng.randrange(2)
            features = synthetic_features(segment, rng.random())
            d = b.choose_or_wait(f"cw-{i}", features, allowed)
            action = d.action if isinstance(d, Choice) else None
            reward = _contact_or_wait_reward(segment, action, rng)
            b.learn(features, d.actions, d.index, reward, d.probability, wait=True)
        held_out = random.Random(9)
        waits = {0: 0.0, 1: 0.0}
        for _ in range(200):
            segment = held_out.randrange(2)
            pmf = b.pmf(synthetic_features(segment, held_out.random()), ACTIONS, wait=True)
            waits[segment] += pmf[-1] / 100
            if segment == 0:
                best = [a.label for a in ACTIONS].index("voice@evening/soft")
                assert pmf[best] > pmf[-1]
    print(f"mean probability of not contacting: segment 0 {waits[0]:.3f}, 1 {waits[1]:.3f}")
    assert waits[1] > 0.5 > waits[0]


def test_told_the_static_choice_the_learner_follows_it_where_it_is_right() -> None:
    """The best action is whatever the static strategy chose, drawn at random
    per decision: nothing in the context shows it, only the static flag does."""
    with Bandit(LearnerConfig(learner_share=1.0, epsilon=0.1)) as b:
        rng = random.Random(10)
        allowed = _allowed()
        for i in range(1500):
            features = synthetic_features(rng.randrange(2), rng.random())
            baseline = rng.choice(ACTIONS)
            choice = b.choose(f"st-{i}", features, allowed, baseline=baseline)
            reward = 1.0 if choice.action == baseline and rng.random() < 0.7 else 0.0
            b.learn(
                features,
                choice.actions,
                choice.index,
                reward,
                choice.probability,
                baseline=baseline,
            )
        mass = 0.0
        for _ in range(100):
            baseline = rng.choice(ACTIONS)
            pmf = b.pmf(
                synthetic_features(rng.randrange(2), rng.random()), ACTIONS, baseline=baseline
            )
            mass += pmf[ACTIONS.index(baseline)] / 100
    print(f"mean probability of the static choice: {mass:.3f}")
    assert mass > 0.5
