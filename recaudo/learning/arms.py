"""Champion / challenger with the learner as an arm: which policy chooses
for each debtor.

A debtor's arm is a pure function of its id, a salt and its segment's
shares: a point in [0, 1) from a hash of (salt, debtor id) falls in the
holdout's share, then the learner's, and the rest is static. Raising the
learner's share moves static debtors to the learner and never touches the
holdout, which stays a clean control for the KPIs. The switch off puts
every debtor on the static strategy on its next decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from recaudo.contracts.records import LearningArm
from recaudo.learning.bandit import unit_draw

#: the segment of a debtor with no risk segment in its profile
NO_SEGMENT = "unknown"


@dataclass(frozen=True, slots=True)
class ArmShares:
    """Shares of a segment's debtors on the holdout and on the learner; the
    rest keep the static strategy."""

    holdout: float = 0.0
    learner: float = 0.0

    def __post_init__(self) -> None:
        for name in ("holdout", "learner"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"the {name} share must be between 0 and 1, got {value}")
        if self.holdout + self.learner > 1.0 + 1e-12:
            raise ValueError(
                f"holdout ({self.holdout}) and learner ({self.learner}) shares add up "
                "to more than 1: lower one of them"
            )

    @property
    def static(self) -> float:
        return max(0.0, 1.0 - self.holdout - self.learner)


@dataclass(frozen=True, slots=True)
class ArmPlan:
    """``enabled`` is the switch; shares per risk segment, ``default`` for the rest."""

    enabled: bool = False
    salt: str = "recaudo-learner"
    default: ArmShares = ArmShares()
    by_segment: Mapping[str, ArmShares] = field(default_factory=dict)

    def shares(self, segment: str | None) -> ArmShares:
        return self.by_segment.get(segment or NO_SEGMENT, self.default)


def arm_point(debtor_id: str, salt: str) -> float:
    """The debtor's stable point in [0, 1): a new salt draws new arms."""
    return unit_draw(f"arm\x1f{salt}\x1f{debtor_id}")


def assign_arm(debtor_id: str, segment: str | None, plan: ArmPlan) -> LearningArm:
    """The arm that chooses this debtor's contacts now."""
    if not plan.enabled:
        return "static"
    shares = plan.shares(segment)
    point = arm_point(debtor_id, plan.salt)
    if point < shares.holdout:
        return "holdout"
    if point < shares.holdout + shares.learner:
        return "learner"
    return "static"
