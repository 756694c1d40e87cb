"""A contextual bandit over the allowed actions, on Vowpal Wabbit's
``--cb_explore_adf`` (action-dependent features: the set of actions differs
from one decision to the next, as the rules allow).

A choice is a draw from the model's probabilities with a uniform number
derived from the decision id, so the same decision replays to the same
choice from the same model bytes. Exploration is bounded by configuration:
epsilon inside VW, a probability floor on every allowed action, and the
share of debtors on the learner arm (the others keep the static strategy).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import vowpalwabbit  # type: ignore[import-untyped]

from recaudo.learning.actions import Action, AllowedAction
from recaudo.learning.features import Features, adf_example, labelled_example
from recaudo.policy import Channel
from recaudo.process.lifecycle import Closeable


@dataclass(frozen=True, slots=True)
class LearnerConfig:
    """``enabled`` is the switch: off, every debtor is on the static strategy."""

    enabled: bool = True
    #: share of debtors (by a stable hash of their id) the learner chooses for
    learner_share: float = 0.0
    #: VW's epsilon-greedy exploration
    epsilon: float = 0.05
    #: every allowed action keeps at least this probability
    probability_floor: float = 0.0
    #: VW's quadratic interactions: shared features crossed with action features
    interactions: str = "sa"
    #: how VW explores: "epsilon" (greedy, ``epsilon`` of the time uniform) or
    #: "squarecb" (each action's probability shrinks with how much worse its
    #: predicted reward is, so clearly bad contacts are rarely tried)
    exploration: str = "epsilon"
    #: SquareCB's aggressiveness: higher concentrates on the best action sooner
    gamma_scale: float = 10.0

    def __post_init__(self) -> None:
        for name in ("learner_share", "epsilon", "probability_floor"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"LearnerConfig.{name} must be between 0 and 1, got {value}")
        if self.exploration not in ("epsilon", "squarecb"):
            raise ValueError(
                f"LearnerConfig.exploration must be 'epsilon' or 'squarecb', "
                f"got {self.exploration!r}"
            )
        if self.gamma_scale <= 0:
            raise ValueError(f"LearnerConfig.gamma_scale must be positive, got {self.gamma_scale}")
        if not self.interactions.isalpha():
            raise ValueError(
                f"LearnerConfig.interactions must be namespace letters, got {self.interactions!r}"
            )

    def vw_args(self) -> str:
        if self.exploration == "squarecb":
            explore = f"--squarecb --gamma_scale {self.gamma_scale!r}"
        else:
            explore = f"--epsilon {self.epsilon!r}"
        return f"--cb_explore_adf {explore} -q {self.interactions} --quiet"


def unit_draw(key: str) -> float:
    """A number in [0, 1) fixed by ``key``: the same on every machine and run."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_learner_arm(debtor_id: str, config: LearnerConfig) -> bool:
    """Whether the learner chooses for this debtor; stable per debtor id."""
    return config.enabled and unit_draw(f"learner-arm:{debtor_id}") < config.learner_share


def floored(pmf: Sequence[float], floor: float) -> list[float]:
    """``pmf`` normalised and mixed with the uniform so every entry is at
    least ``floor`` (uniform when the floor cannot be met)."""
    n = len(pmf)
    if n == 0:
        return []
    total = sum(pmf)
    base = [p / total for p in pmf] if total > 0 else [1.0 / n] * n
    if floor * n >= 1.0:
        return [1.0 / n] * n
    return [floor + (1.0 - n * floor) * p for p in base]


def sample(pmf: Sequence[float], u: float) -> int:
    """The index whose cumulative probability first exceeds ``u``."""
    acc = 0.0
    for i, p in enumerate(pmf):
        acc += p
        if u < acc:
            return i
    return len(pmf) - 1


@dataclass(frozen=True, slots=True)
class Choice:
    """What the learner chose and everything needed to audit and replay it."""

    decision_id: str
    action: Action
    index: int
    probability: float
    model_version: str
    features: Features
    actions: tuple[Action, ...]
    pmf: tuple[float, ...]
    #: the channels this run had tried: part of the actions' features
    tried: tuple[Channel, ...] = ()
    #: the static strategy's choice, when the actions were described against it
    baseline: Action | None = None
    #: the "no contact now" option's probability, when it was offered
    #: (``pmf`` then sums to one minus it)
    wait_probability: float | None = None

    def explain(self, top: int = 5) -> str:
        """Why this action: the most likely allowed actions under the model
        version, the draw's result, and the context features it read."""
        ranked = sorted(zip(self.pmf, self.actions, strict=True), key=lambda pa: (-pa[0], pa[1]))
        lines = [
            f"decision {self.decision_id}: {self.action.label} "
            f"(probability {self.probability:.3f}, model {self.model_version}, "
            f"{len(self.actions)} allowed actions)"
        ]
        lines += [f"  {p:.3f} {a.label}" for p, a in ranked[:top]]
        lines.append("  context: " + " ".join(f"{k}={v}" for k, v in self.features.shared))
        if self.wait_probability is not None:
            lines.append(f"  {self.wait_probability:.3f} no contact now")
        if self.baseline is not None:
            lines.append(f"  the static strategy's choice: {self.baseline.label}")
        if self.tried:
            lines.append("  tried in this run: " + ", ".join(self.tried))
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Wait:
    """The learner chose not to contact now; logged and learnt from like a
    contact (its reward is what happens without one)."""

    decision_id: str
    #: the index the "no contact now" option had: ``len(actions)``
    index: int
    probability: float
    model_version: str
    features: Features
    actions: tuple[Action, ...]
    #: the contacts' probabilities (the rest is this option's)
    pmf: tuple[float, ...]
    tried: tuple[Channel, ...] = ()
    baseline: Action | None = None


class Bandit(Closeable):
    """One VW workspace. Not thread-safe; :meth:`close` frees it."""

    def __init__(self, config: LearnerConfig, model: bytes | None = None) -> None:
        self.config = config
        self._version: str | None = None
        if model is None:
            self._vw: Any = vowpalwabbit.Workspace(config.vw_args())
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "model.vw")
                with open(path, "wb") as f:
                    f.write(model)
                self._vw = vowpalwabbit.Workspace(f"{config.vw_args()} -i {path}")
            self._version = model_version(model)

    def close(self) -> None:
        self._vw.finish()

    def to_bytes(self) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.vw")
            self._vw.save(path)
            with open(path, "rb") as f:
                return f.read()

    @property
    def version(self) -> str:
        """The hash of the model's bytes: a decision names it, a replay loads it."""
        if self._version is None:
            self._version = model_version(self.to_bytes())
        return self._version

    def pmf(
        self,
        features: Features,
        actions: Sequence[Action],
        tried: Sequence[Channel] = (),
        *,
        baseline: Action | None = None,
        wait: bool = False,
    ) -> list[float]:
        """The probability of each action (floored), in the order given, and
        with ``wait`` of "no contact now" last."""
        if not actions and not wait:
            return []
        example = adf_example(features, actions, tried, baseline=baseline, wait=wait)
        raw = self._vw.predict(example)
        return floored([float(p) for p in raw], self.config.probability_floor)

    def choose(
        self,
        decision_id: str,
        features: Features,
        allowed: Sequence[AllowedAction],
        tried: Sequence[Channel] = (),
        *,
        baseline: Action | None = None,
    ) -> Choice:
        """One of ``allowed`` (the actions the policy allows, and only those);
        ``baseline``: the static strategy's choice, described to the model."""
        decided = self._decide(decision_id, features, allowed, tried, baseline, wait=False)
        if isinstance(decided, Wait):
            raise RuntimeError("the bandit chose an option it was not offered: not contacting")
        return decided

    def choose_or_wait(
        self,
        decision_id: str,
        features: Features,
        allowed: Sequence[AllowedAction],
        tried: Sequence[Channel] = (),
        *,
        baseline: Action | None = None,
    ) -> Choice | Wait:
        """One of ``allowed``, or not to contact now: the learner decides
        *whether* to contact as well as how."""
        return self._decide(decision_id, features, allowed, tried, baseline, wait=True)

    def _decide(
        self,
        decision_id: str,
        features: Features,
        allowed: Sequence[AllowedAction],
        tried: Sequence[Channel],
        baseline: Action | None,
        *,
        wait: bool,
    ) -> Choice | Wait:
        if not allowed:
            raise ValueError(
                "no allowed action to choose from: the policy allows no contact now, "
                "so the orchestrator defers or suppresses instead of asking the learner"
            )
        actions = tuple(a.action for a in allowed)
        pmf = self.pmf(features, actions, tried, baseline=baseline, wait=wait)
        index = sample(pmf, unit_draw(f"decision:{decision_id}"))
        contacts = tuple(pmf[: len(actions)])
        if index == len(actions):
            return Wait(
                decision_id=decision_id,
                index=index,
                probability=pmf[index],
                model_version=self.version,
                features=features,
                actions=actions,
                pmf=contacts,
                tried=tuple(tried),
                baseline=baseline,
            )
        return Choice(
            decision_id=decision_id,
            action=actions[index],
            index=index,
            probability=pmf[index],
            model_version=self.version,
            features=features,
            actions=actions,
            pmf=contacts,
            tried=tuple(tried),
            baseline=baseline,
            wait_probability=pmf[-1] if wait else None,
        )

    def learn(
        self,
        features: Features,
        actions: Sequence[Action],
        chosen: int,
        reward: float,
        probability: float,
        tried: Sequence[Channel] = (),
        *,
        baseline: Action | None = None,
        wait: bool = False,
    ) -> None:
        """Learn from one logged decision and its reward (VW minimises cost =
        -reward); ``baseline`` and ``wait`` as the decision was offered them
        (``chosen == len(actions)``: it chose not to contact)."""
        example = labelled_example(
            features, actions, chosen, -reward, probability, tried, baseline=baseline, wait=wait
        )
        self._vw.learn(example)
        self._version = None


def model_version(model: bytes) -> str:
    return hashlib.sha256(model).hexdigest()[:16]
