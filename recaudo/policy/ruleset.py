"""A rule set: everything one jurisdiction (or one custom configuration)
says about when, how often and whether a debtor may be contacted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import TypeVar

from recaudo.policy.caps import Cap, Cooldown, WindowRule
from recaudo.policy.model import KINDS, Channel, Contact, Kind
from recaudo.policy.quiet_hours import WeeklyHours
from recaudo.policy.suppression import SuppressionRules

_R = TypeVar("_R", Cap, Cooldown)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """``requires_opt_out_text``: channels on which every message must carry
    opt-out instructions (the renderer reads it from the decision).
    ``max_search_days``: how far ahead a deferral looks for an open window
    before it gives up and suppresses."""

    id: str
    description: str
    call_hours: WeeklyHours
    message_hours: WeeklyHours
    caps: tuple[Cap, ...] = ()
    cooldowns: tuple[Cooldown, ...] = ()
    suppression: SuppressionRules = field(default_factory=SuppressionRules)
    requires_opt_out_text: frozenset[Channel] = frozenset()
    extra_holidays: frozenset[date] = frozenset()
    max_search_days: int = 30
    extends: str | None = None
    lookback: timedelta = field(init=False, compare=False)
    _caps: Mapping[Kind, tuple[Cap, ...]] = field(init=False, repr=False, compare=False)
    _vulnerable_caps: Mapping[Kind, tuple[Cap, ...]] = field(init=False, repr=False, compare=False)
    _cooldowns: Mapping[Kind, tuple[Cooldown, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a rule set needs an id")
        if not 1 <= self.max_search_days <= 366:
            raise ValueError(f"max_search_days must be 1..366, got {self.max_search_days}")
        vulnerable_caps = self.suppression.vulnerable.caps
        every: tuple[WindowRule, ...] = (*self.caps, *self.cooldowns, *vulnerable_caps)
        ids = [r.rule_id for r in every]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"rule ids must be unique, repeated: {', '.join(duplicated)}")
        spans = [c.window for c in (*self.caps, *vulnerable_caps)]
        spans += [c.duration for c in self.cooldowns]
        object.__setattr__(self, "lookback", max(spans, default=timedelta(0)))
        object.__setattr__(self, "_caps", _by_kind(self.caps))
        object.__setattr__(self, "_vulnerable_caps", _by_kind(vulnerable_caps))
        object.__setattr__(self, "_cooldowns", _by_kind(self.cooldowns))

    def hours_for(self, kind: Kind) -> WeeklyHours:
        return self.call_hours if kind == "call" else self.message_hours

    def caps_for(self, kind: Kind, vulnerable: bool) -> tuple[Cap, ...]:
        if vulnerable and self.suppression.vulnerable.mode == "restrict":
            return self._caps[kind] + self._vulnerable_caps[kind]
        return self._caps[kind]

    def cooldowns_for(self, kind: Kind) -> tuple[Cooldown, ...]:
        return self._cooldowns[kind]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The configurable rules' ids (caps, cooldowns, vulnerable caps)."""
        every: tuple[WindowRule, ...] = (
            *self.caps,
            *self.cooldowns,
            *self.suppression.vulnerable.caps,
        )
        return tuple(r.rule_id for r in every)


def _by_kind(rules: Sequence[_R]) -> Mapping[Kind, tuple[_R, ...]]:
    return MappingProxyType({k: tuple(r for r in rules if k in r.kinds) for k in KINDS})


def trim_history(history: Iterable[Contact], now: datetime, rules: RuleSet) -> tuple[Contact, ...]:
    """The contacts a rule set can still see at ``now`` or later: what a
    caller needs to keep per debtor (contacts dated after ``now`` are kept)."""
    floor = now.astimezone(UTC) - rules.lookback
    return tuple(c for c in history if c.at > floor)
