"""Which channel first: the static strategy's v1, and the interface of the
learner that chooses instead for debtors on its arm.

v1 keeps the strategy's channels that can reach the debtor (an address, valid,
not opted out), then orders them: the debtor's stated preference first, then
channels they consented to, then by observed engagement (reads and replies per
attempt, smoothed so two attempts do not outweigh the strategy's own order),
the strategy's order breaking ties.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from recaudo.contracts.records import Channel, DebtorView, LearningArm, LearningChoice
from recaudo.policy import PolicyContext, RuleSet
from recaudo.view import ChannelEngagement


class ChannelChooser(Protocol):
    def order(
        self,
        channels: Sequence[Channel],
        view: DebtorView,
        engagement: Mapping[Channel, ChannelEngagement],
    ) -> list[Channel]: ...


class EngagementChooser:
    #: prior attempts and responses: a channel needs evidence to move
    prior_attempts = 4.0
    prior_responses = 1.0

    def score(self, e: ChannelEngagement | None) -> float:
        if e is None:
            return self.prior_responses / self.prior_attempts
        responses = e.replies + 0.5 * e.reads
        return (responses + self.prior_responses) / (e.attempts + self.prior_attempts)

    def order(
        self,
        channels: Sequence[Channel],
        view: DebtorView,
        engagement: Mapping[Channel, ChannelEngagement],
    ) -> list[Channel]:
        by_channel = {c.channel: c for c in view.channels}
        usable = [
            ch
            for ch in channels
            if (cv := by_channel.get(ch)) is not None
            and cv.address
            and cv.valid
            and not cv.opted_out
        ]
        rank = {ch: i for i, ch in enumerate(channels)}
        return sorted(
            usable,
            key=lambda ch: (
                ch != view.preferred_channel,
                not by_channel[ch].consent,
                -round(self.score(engagement.get(ch)), 3),
                rank[ch],
            ),
        )


def learning_key(debtor_id: str, trigger_event_id: str | None, step: int) -> str:
    """What fixes the learner's draw for one step of one run: read back from
    the decision it made, the choice replays from its model version."""
    return f"{debtor_id}|{trigger_event_id}|{step}"


@dataclass(frozen=True, slots=True)
class LearnedContact:
    """The learner's choice for one step: a contact the rules allow at ``send_at``."""

    channel: Channel
    send_at: datetime
    #: the template variant (tone) to render
    variant: str
    record: LearningChoice


class ContactLearner(Protocol):
    """Chooses channel, send window and variant for debtors on the learner arm."""

    def arm(self, view: DebtorView) -> LearningArm | None:
        """The debtor's arm now; None when the learner is switched off."""
        ...

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
        """One of the contacts the rules allow among ``channels`` (None: none
        is allowed within a day, the static strategy acts). ``key`` fixes the
        draw, so the same decision replays to the same choice."""
        ...
