"""Which channel first: the interface the learner replaces, and its v1.

v1 keeps the strategy's channels that can reach the debtor (an address, valid,
not opted out), then orders them: the debtor's stated preference first, then
channels they consented to, then by observed engagement (reads and replies per
attempt, smoothed so two attempts do not outweigh the strategy's own order),
the strategy's order breaking ties.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from recaudo.events import Channel, DebtorView
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
