"""Frequency caps on rolling windows and cooldowns after a conversation.

A window of length ``w`` ending at ``t`` holds the contacts made in
``(t - w, t]``. A contact is allowed only if, counting it, the window still
holds no more than the limit, so a cap never goes over even when the history
handed in already did. Both rules only ever relax as time passes without new
contacts, so each can say exactly when it stops blocking: that is what a
deferral waits for.

Contacts dated after ``now`` (clock skew between writers) count as inside
every window: they are real contacts, and counting them keeps the rules
monotonic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from recaudo.policy.model import (
    ALL_CHANNELS,
    ALL_KINDS,
    Candidate,
    Channel,
    Contact,
    Kind,
    RuleHit,
)

Scope = Literal["debtor", "debt", "channel", "debt_channel"]
Measure = Literal["contacts", "channels"]


class WindowRule(Protocol):
    """What the engine asks of a cap or a cooldown."""

    @property
    def rule_id(self) -> str: ...

    @property
    def kinds(self) -> frozenset[Kind]: ...

    @property
    def hit(self) -> RuleHit: ...

    def applies_to(self, candidate: Candidate) -> bool: ...

    def blocked_until(
        self, candidate: Candidate, recent: Sequence[Contact], now: datetime
    ) -> datetime | None: ...


def _validate(rule_id: str, span: timedelta, kinds: frozenset[Kind]) -> None:
    if not rule_id:
        raise ValueError("a rule needs a non-empty id")
    if span <= timedelta(0):
        raise ValueError(f"{rule_id}: the window must be positive, got {span}")
    if not kinds:
        raise ValueError(f"{rule_id}: kinds must not be empty")


@dataclass(frozen=True, slots=True)
class Cap:
    """At most ``limit`` contacts (or distinct channels, with ``measure =
    "channels"``) in any rolling ``window``.

    The cap applies to candidates of ``kinds`` on ``channels`` and counts the
    past contacts of the same kinds and channels that share the candidate's
    ``scope``: the whole debtor, the same debt, the same channel, or both.
    """

    rule_id: str
    limit: int
    window: timedelta
    scope: Scope = "debtor"
    kinds: frozenset[Kind] = ALL_KINDS
    channels: frozenset[Channel] = ALL_CHANNELS
    measure: Measure = "contacts"
    hit: RuleHit = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _validate(self.rule_id, self.window, self.kinds)
        if self.limit < 1:
            raise ValueError(f"{self.rule_id}: limit must be at least 1, got {self.limit}")
        if not self.channels:
            raise ValueError(f"{self.rule_id}: channels must not be empty")
        if self.measure == "channels" and self.scope not in ("debtor", "debt"):
            raise ValueError(f"{self.rule_id}: counting channels needs scope debtor or debt")
        object.__setattr__(self, "hit", RuleHit(self.rule_id, "CAP_REACHED"))

    def applies_to(self, candidate: Candidate) -> bool:
        return candidate.kind in self.kinds and candidate.channel in self.channels

    def blocked_until(
        self, candidate: Candidate, recent: Sequence[Contact], now: datetime
    ) -> datetime | None:
        """None if the cap allows ``candidate`` at ``now``, else the instant it
        will (with no other contact made meanwhile)."""
        floor = now - self.window
        by_debt = self.scope in ("debt", "debt_channel")
        by_channel = self.scope in ("channel", "debt_channel")
        kinds, channels = self.kinds, self.channels
        debt_id, channel = candidate.debt_id, candidate.channel
        if self.measure == "contacts":
            times = [
                c.at
                for c in recent
                if c.at > floor
                and c.kind in kinds
                and c.channel in channels
                and (not by_debt or c.debt_id == debt_id)
                and (not by_channel or c.channel == channel)
            ]
            if len(times) < self.limit:
                return None
            # Allowed again once only limit - 1 remain: when the limit-th
            # most recent leaves the window.
            times.sort(reverse=True)
            return times[self.limit - 1] + self.window
        latest: dict[Channel, datetime] = {}
        for c in recent:
            if (
                c.at > floor
                and c.channel != channel
                and c.kind in kinds
                and c.channel in channels
                and (not by_debt or c.debt_id == debt_id)
                and (latest.get(c.channel) is None or c.at > latest[c.channel])
            ):
                latest[c.channel] = c.at
        # The candidate's own channel is one of the distinct channels.
        if len(latest) + 1 <= self.limit:
            return None
        others = sorted(latest.values())
        must_leave = len(others) - (self.limit - 1)
        return others[must_leave - 1] + self.window


@dataclass(frozen=True, slots=True)
class Cooldown:
    """No contact of ``kinds`` within ``duration`` after a conversation
    (a contact marked ``conversation``) of ``after_kinds`` in the same
    ``scope``."""

    rule_id: str
    duration: timedelta
    scope: Scope = "debt"
    kinds: frozenset[Kind] = ALL_KINDS
    after_kinds: frozenset[Kind] = ALL_KINDS
    hit: RuleHit = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _validate(self.rule_id, self.duration, self.kinds)
        if not self.after_kinds:
            raise ValueError(f"{self.rule_id}: after_kinds must not be empty")
        object.__setattr__(self, "hit", RuleHit(self.rule_id, "COOLDOWN"))

    def applies_to(self, candidate: Candidate) -> bool:
        return candidate.kind in self.kinds

    def blocked_until(
        self, candidate: Candidate, recent: Sequence[Contact], now: datetime
    ) -> datetime | None:
        floor = now - self.duration
        by_debt = self.scope in ("debt", "debt_channel")
        by_channel = self.scope in ("channel", "debt_channel")
        latest: datetime | None = None
        for c in recent:
            if (
                c.conversation
                and c.at > floor
                and c.kind in self.after_kinds
                and (not by_debt or c.debt_id == candidate.debt_id)
                and (not by_channel or c.channel == candidate.channel)
                and (latest is None or c.at > latest)
            ):
                latest = c.at
        return None if latest is None else latest + self.duration
