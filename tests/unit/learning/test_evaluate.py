"""Off-policy evaluation on synthetic logs whose true values are known."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from recaudo.learning.actions import Action, candidate_actions
from recaudo.learning.bandit import Bandit, LearnerConfig
from recaudo.learning.evaluate import (
    LoggedStep,
    bandit_policy,
    doubly_robust,
    evaluate_policy,
    ips,
)
from tests.unit.learning.fixtures import synthetic_features

ACTIONS: tuple[Action, ...] = tuple(
    candidate_actions(["sms", "whatsapp", "voice"], variants=("soft",))[:4]
)
#: the chance of a reward per (segment, action): segment 0 answers action 1, segment 1 action 3
MEAN = ((0.1, 0.6, 0.2, 0.1), (0.2, 0.1, 0.1, 0.5))


def _segment(step: LoggedStep) -> int:
    return 0 if step.features.as_dict()["seg"] == "s0" else 1


def _logging_pmf(segment: int) -> list[float]:
    # Not uniform, and not the candidate: what a static strategy with some randomness logs.
    return [0.4, 0.1, 0.3, 0.2] if segment == 0 else [0.25, 0.25, 0.4, 0.1]


def _logs(n: int, seed: int) -> list[LoggedStep]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        segment = rng.randrange(2)
        pmf = _logging_pmf(segment)
        chosen = rng.choices(range(len(ACTIONS)), pmf)[0]
        reward = 1.0 if rng.random() < MEAN[segment][chosen] else 0.0
        features = synthetic_features(segment, rng.random())
        out.append(LoggedStep(features, ACTIONS, chosen, pmf[chosen], reward))
    return out


def _best(step: LoggedStep) -> Sequence[float]:
    best = 1 if _segment(step) == 0 else 3
    return [1.0 if i == best else 0.0 for i in range(len(ACTIONS))]


TRUE_BEST = 0.5 * 0.6 + 0.5 * 0.5


def test_ips_and_dr_intervals_cover_the_true_value_at_about_their_level() -> None:
    seeds = range(40)
    covered = {"ips": 0, "dr": 0}
    width = {"ips": 0.0, "dr": 0.0}
    for seed in seeds:
        logs = _logs(800, seed)
        for est in (ips(logs, _best), doubly_robust(logs, _best)):
            low, high = est.ci95
            covered[est.method] += low <= TRUE_BEST <= high
            width[est.method] += (high - low) / len(seeds)
    print(f"coverage of {len(seeds)} seeds: {covered}; mean width: {width}")
    for method in ("ips", "dr"):
        assert covered[method] / len(seeds) >= 0.85, method


def test_the_logged_value_is_the_logging_policys_and_differs_from_the_candidates() -> None:
    logs = _logs(3000, seed=99)
    report = evaluate_policy(logs, _best)
    truth_logged = sum(
        0.5 * sum(p * m for p, m in zip(_logging_pmf(s), MEAN[s], strict=True)) for s in (0, 1)
    )
    assert report.logged.ci95[0] <= truth_logged <= report.logged.ci95[1]
    assert report.dr.ci95[0] > report.logged.ci95[1]
    assert report.ips.n == report.dr.n == 3000


def test_a_vw_model_is_evaluated_as_a_candidate_policy() -> None:
    logs = _logs(3000, seed=7)
    with Bandit(LearnerConfig(epsilon=0.1)) as model:
        for step in _logs(2000, seed=8):
            model.learn(step.features, step.actions, step.chosen, step.reward, step.probability)
        policy = bandit_policy(model)
        rng = random.Random(9)
        # The model's true value, from fresh contexts and the known reward means.
        truth = 0.0
        n = 4000
        for _ in range(n):
            segment = rng.randrange(2)
            step = LoggedStep(synthetic_features(segment, rng.random()), ACTIONS, 0, 1.0, 0.0)
            pmf = policy(step)
            truth += sum(p * m for p, m in zip(pmf, MEAN[segment], strict=True)) / n
        report = evaluate_policy(logs, policy)
    print(f"model truth {truth:.3f} ips {report.ips} dr {report.dr}")
    assert report.ips.ci95[0] <= truth <= report.ips.ci95[1]
    assert report.dr.ci95[0] <= truth <= report.dr.ci95[1]


def test_a_logged_probability_of_zero_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="really taken with"):
        LoggedStep(synthetic_features(0, 0.0), ACTIONS, 0, 0.0, 1.0)


def test_a_policy_that_answers_for_other_actions_is_refused() -> None:
    logs = _logs(10, seed=1)
    with pytest.raises(ValueError, match="gave 2 probabilities for 4 actions"):
        ips(logs, lambda step: [0.5, 0.5])
