"""The orchestrator's learner: for debtors on the learner arm, the channel,
send window and template variant the model chooses among the contacts the
policy engine allows (:class:`recaudo.orchestration.channel_choice.ContactLearner`).

The model is held by a :class:`ModelSlot`, which a new version replaces
between two decisions: the orchestrator never restarts to learn.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from recaudo.contracts.records import Channel, DebtorView, LearningArm
from recaudo.learning.actions import (
    DEFAULT_VARIANTS,
    DEFAULT_WINDOWS,
    AllowedAction,
    SendWindow,
    StepRequest,
    allowed_actions,
    candidate_actions,
)
from recaudo.learning.arms import ArmPlan, assign_arm
from recaudo.learning.bandit import Bandit, Choice, LearnerConfig, model_version
from recaudo.learning.decision_record import choice_record
from recaudo.learning.features import Features, context_features
from recaudo.orchestration.channel_choice import LearnedContact
from recaudo.policy import PolicyContext, RuleSet
from recaudo.process.lifecycle import Closeable


class ModelSlot(Closeable):
    """The model the orchestrator chooses with; :meth:`load` swaps in a new
    version, taken by the next decision. Thread-safe: the model topic's
    reader loads while the worker decides."""

    def __init__(self, config: LearnerConfig, model: bytes | None = None) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._bandit = Bandit(config, model)
        #: the runtime switch (the learner-switch topic): off, no debtor is on
        #: the learner arm from the next decision
        self.switched_on = True

    @property
    def version(self) -> str:
        with self._lock:
            return self._bandit.version

    def choose(
        self,
        key: str,
        features: Features,
        allowed: Sequence[AllowedAction],
        tried: Sequence[Channel],
    ) -> Choice:
        with self._lock:
            return self._bandit.choose(key, features, allowed, tried)

    def load(self, model: bytes) -> bool:
        """Switch to ``model``; False when it is the version already held."""
        if model_version(model) == self.version:
            return False
        fresh = Bandit(self.config, model)
        with self._lock:
            old, self._bandit = self._bandit, fresh
            old.close()
        return True

    def close(self) -> None:
        with self._lock:
            self._bandit.close()


class LearnedChooser:
    """Arms by :func:`~recaudo.learning.arms.assign_arm`; choices by the slot's model."""

    def __init__(
        self,
        plan: ArmPlan,
        slot: ModelSlot,
        windows: Sequence[SendWindow] = DEFAULT_WINDOWS,
        variants: Sequence[str] = DEFAULT_VARIANTS,
    ) -> None:
        self.plan = plan
        self.slot = slot
        self.windows = tuple(windows)
        self.variants = tuple(variants)

    def arm(self, view: DebtorView) -> LearningArm | None:
        if not (self.plan.enabled and self.slot.switched_on):
            return None
        return assign_arm(view.debtor_id, view.risk_segment, self.plan)

    def choose(
        self,
        key: str,
        view: DebtorView,
        account_id: str,
        trigger: str,
        step: int,
        channels: Sequence[Channel],
        tried: Sequence[Channel],
        ctx: PolicyContext,
        rules: RuleSet,
        now: datetime,
    ) -> LearnedContact | None:
        actions = candidate_actions(channels, self.windows, self.variants)
        request = StepRequest(view.debtor_id, account_id, trigger, step)
        allowed = allowed_actions(ctx, request, actions, now, rules)
        if not allowed:
            return None
        features = context_features(view, account_id, now, tried)
        choice = self.slot.choose(key, features, allowed, tried)
        return LearnedContact(
            channel=choice.action.channel,
            send_at=allowed[choice.index].send_at,
            variant=choice.action.variant,
            record=choice_record("learner", choice),
        )
