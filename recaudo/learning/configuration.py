"""The learner's configuration objects from the ``RECAUDO_LEARNER_*`` settings."""

from __future__ import annotations

from datetime import timedelta

from recaudo.learning.arms import ArmPlan, ArmShares
from recaudo.learning.bandit import LearnerConfig
from recaudo.learning.rewards import RewardConfig
from recaudo.settings import Settings


def parse_segment_shares(text: str) -> dict[str, ArmShares]:
    """``low:0.3/0.05,high:0.1`` -> learner and holdout shares per segment."""
    out: dict[str, ArmShares] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        segment, sep, shares = item.partition(":")
        learner, _, holdout = shares.partition("/")
        try:
            if not (sep and segment.strip()):
                raise ValueError("no segment name")
            out[segment.strip()] = ArmShares(
                holdout=float(holdout) if holdout else 0.0, learner=float(learner)
            )
        except ValueError as exc:
            raise ValueError(
                f"RECAUDO_LEARNER_SEGMENT_SHARES: cannot read {item!r} ({exc}); write "
                "segment:learner/holdout, e.g. low:0.3/0.05"
            ) from None
    return out


def arm_plan(settings: Settings) -> ArmPlan:
    return ArmPlan(
        enabled=settings.learner_enabled,
        salt=settings.learner_salt,
        default=ArmShares(holdout=settings.learner_holdout_share, learner=settings.learner_share),
        by_segment=parse_segment_shares(settings.learner_segment_shares),
    )


def learner_config(settings: Settings) -> LearnerConfig:
    return LearnerConfig(
        enabled=settings.learner_enabled,
        learner_share=settings.learner_share,
        epsilon=settings.learner_epsilon,
        probability_floor=settings.learner_probability_floor,
    )


def reward_config(settings: Settings) -> RewardConfig:
    return RewardConfig(attribution_window=timedelta(days=settings.learner_attribution_days))
