"""Off-policy evaluation: how a candidate policy would have done on decisions
logged under another, from their contexts, actions, logged probabilities and
rewards, before the candidate contacts anyone.

Two estimators of the candidate's mean reward per decision:

* inverse propensity scoring (IPS): each logged reward weighted by how much
  more (or less) likely the candidate was to take the logged action;
* doubly robust (DR): a reward model's prediction for the candidate's
  actions, corrected by the IPS-weighted error of that model on the logged
  action. The default reward model is each action's mean logged reward,
  fitted on the other half of the logs (two folds), so no decision corrects
  a model fitted on itself.

Both are unbiased when the logged probabilities are the ones the logging
policy really used and every action the candidate takes had a positive
logged probability. The 95 % intervals are the normal approximation,
mean +- 1.96 standard errors of the per-decision terms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from recaudo.learning.actions import Action
from recaudo.learning.bandit import Bandit
from recaudo.learning.features import Features
from recaudo.policy import Channel

Z95: Final = 1.959963984540054


@dataclass(frozen=True, slots=True)
class LoggedStep:
    """One logged decision with its reward: ``actions`` are those that were
    allowed, ``chosen`` indexes the one taken with ``probability``."""

    features: Features
    actions: tuple[Action, ...]
    chosen: int
    probability: float
    reward: float
    tried: tuple[Channel, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.chosen < len(self.actions):
            raise ValueError(f"chosen {self.chosen} is not one of {len(self.actions)} actions")
        if not 0 < self.probability <= 1:
            raise ValueError(
                f"logged probability must be in (0, 1], got {self.probability}: "
                "off-policy evaluation needs the probability the action was really taken with"
            )


#: a candidate policy: its probability for each of the step's actions
Policy = Callable[[LoggedStep], Sequence[float]]
#: a reward model: the expected reward of the step's action at an index
RewardModel = Callable[[LoggedStep, int], float]


@dataclass(frozen=True, slots=True)
class Estimate:
    method: str
    value: float
    ci95: tuple[float, float]
    n: int


@dataclass(frozen=True, slots=True)
class Evaluation:
    logged: Estimate
    ips: Estimate
    dr: Estimate


def bandit_policy(bandit: Bandit) -> Policy:
    """A VW model as a candidate policy (its floored probabilities)."""

    def policy(step: LoggedStep) -> Sequence[float]:
        return bandit.pmf(step.features, step.actions, step.tried)

    return policy


def _estimate(method: str, terms: Sequence[float]) -> Estimate:
    n = len(terms)
    if n == 0:
        raise ValueError("no logged decisions to evaluate")
    mean = math.fsum(terms) / n
    var = math.fsum((t - mean) ** 2 for t in terms) / (n - 1) if n > 1 else 0.0
    half = Z95 * math.sqrt(var / n)
    return Estimate(method, mean, (mean - half, mean + half), n)


def _pmf(policy: Policy, step: LoggedStep) -> Sequence[float]:
    pmf = policy(step)
    if len(pmf) != len(step.actions):
        raise ValueError(
            f"the candidate policy gave {len(pmf)} probabilities for {len(step.actions)} actions"
        )
    return pmf


def ips(logs: Sequence[LoggedStep], policy: Policy) -> Estimate:
    terms = [s.reward * _pmf(policy, s)[s.chosen] / s.probability for s in logs]
    return _estimate("ips", terms)


def action_mean_model(logs: Sequence[LoggedStep]) -> RewardModel:
    """Each action's mean logged reward (by label); the overall mean for an
    action never logged."""
    sums: dict[str, list[float]] = {}
    for s in logs:
        sums.setdefault(s.actions[s.chosen].label, []).append(s.reward)
    overall = math.fsum(s.reward for s in logs) / len(logs) if logs else 0.0
    means = {k: math.fsum(v) / len(v) for k, v in sums.items()}

    def model(step: LoggedStep, index: int) -> float:
        return means.get(step.actions[index].label, overall)

    return model


def doubly_robust(
    logs: Sequence[LoggedStep],
    policy: Policy,
    reward_model: Callable[[Sequence[LoggedStep]], RewardModel] = action_mean_model,
) -> Estimate:
    """DR with the reward model fitted by ``reward_model`` on two folds (even
    and odd positions), each fold's terms using the model of the other."""
    folds = (logs[0::2], logs[1::2])
    models = (reward_model(folds[1]), reward_model(folds[0]))
    terms: list[float] = []
    for fold, q in zip(folds, models, strict=True):
        for s in fold:
            pmf = _pmf(policy, s)
            direct = math.fsum(p * q(s, i) for i, p in enumerate(pmf))
            correction = pmf[s.chosen] / s.probability * (s.reward - q(s, s.chosen))
            terms.append(direct + correction)
    return _estimate("dr", terms)


def evaluate_policy(logs: Sequence[LoggedStep], policy: Policy) -> Evaluation:
    """The logging policy's own mean reward, and the candidate's by IPS and DR."""
    return Evaluation(
        logged=_estimate("logged", [s.reward for s in logs]),
        ips=ips(logs, policy),
        dr=doubly_robust(logs, policy),
    )
