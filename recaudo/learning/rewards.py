"""Rewards from what happens after a contact, joined to the decision that
earned them.

An outcome names the dispatch it answers (a reply, an opt-out, a promise
made in the conversation) or, for a payment or a kept promise that names
none, is attributed to the debtor's latest decision before it within the
attribution window. The join is a pure function of the *sets* of decisions
and outcomes: an outcome is known by its id, so a redelivered one counts
once, and each kind of outcome counts at most once per decision, so neither
repetition nor arrival order changes a reward.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final, Literal, get_args

from recaudo.policy import Channel
from recaudo.policy.model import as_utc

OutcomeKind = Literal["reply", "promise", "promise_kept", "payment", "opt_out", "complaint"]
OUTCOME_KINDS: Final[tuple[OutcomeKind, ...]] = get_args(OutcomeKind)

DEFAULT_WEIGHTS: Final[Mapping[OutcomeKind, float]] = MappingProxyType(
    {
        "reply": 0.2,
        "promise": 0.5,
        "promise_kept": 1.0,
        "payment": 1.0,
        "opt_out": -1.0,
        "complaint": -2.0,
    }
)
# A call takes an agent's or a dialler's time; messages cost cents.
DEFAULT_CHANNEL_COST: Final[Mapping[Channel, float]] = MappingProxyType(
    {"voice": 0.15, "sms": 0.03, "whatsapp": 0.02, "email": 0.005}
)


@dataclass(frozen=True, slots=True)
class RewardConfig:
    weights: Mapping[OutcomeKind, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    channel_cost: Mapping[Channel, float] = field(
        default_factory=lambda: dict(DEFAULT_CHANNEL_COST)
    )
    #: how long after a decision an outcome still counts for it
    attribution_window: timedelta = timedelta(days=7)
    #: charged to every contact on top of its channel's cost: the debtor's
    #: attention it spends and the opt-out it risks
    contact_cost: float = 0.0
    #: charged to a contact per contact the debtor had in the 7 days before it,
    #: since each one answers less and annoys more
    fatigue_cost: float = 0.0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(OUTCOME_KINDS))
        if unknown:
            raise ValueError(f"unknown outcome kinds {unknown} (expected {OUTCOME_KINDS})")
        if self.contact_cost < 0 or self.fatigue_cost < 0:
            raise ValueError(
                "contact_cost and fatigue_cost are charges: give values of 0 or more, got "
                f"{self.contact_cost} and {self.fatigue_cost}"
            )
        if self.attribution_window <= timedelta(0):
            raise ValueError(f"attribution_window must be positive, got {self.attribution_window}")


@dataclass(frozen=True, slots=True)
class LoggedDecision:
    """A dispatch the learner chose (or the static strategy made, for
    evaluation); ``channel`` None: a decision not to contact now, which costs
    nothing and earns what happens without a contact."""

    decision_id: str
    dispatch_id: str
    debtor_id: str
    channel: Channel | None
    decided_at: datetime
    #: contacts the debtor had in the 7 days before this one
    recent_contacts: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "decided_at", as_utc(self.decided_at, "decided_at"))


@dataclass(frozen=True, slots=True)
class Outcome:
    """Something that happened; ``outcome_id`` is its event id, the same on
    every redelivery."""

    outcome_id: str
    kind: OutcomeKind
    debtor_id: str
    at: datetime
    dispatch_id: str | None = None
    amount_minor: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", as_utc(self.at, "Outcome.at"))
        if self.kind not in OUTCOME_KINDS:
            raise ValueError(f"unknown outcome kind {self.kind!r} (expected {OUTCOME_KINDS})")


@dataclass(frozen=True, slots=True)
class Reward:
    decision_id: str
    value: float
    #: the outcome kinds that counted, sorted
    kinds: tuple[OutcomeKind, ...]


def join_rewards(
    decisions: Iterable[LoggedDecision],
    outcomes: Iterable[Outcome],
    config: RewardConfig = RewardConfig(),
) -> dict[str, Reward]:
    """Each decision's reward: the weights of the outcome kinds attributed to
    it (each once), minus, for a contact, its channel's cost, the contact
    charge and the fatigue charge. A contact with no outcome gets minus its
    cost: a contact that achieved nothing still cost it."""
    by_id: dict[str, LoggedDecision] = {}
    for d in decisions:
        known = by_id.get(d.decision_id)
        by_id[d.decision_id] = d if known is None else min(known, d, key=_decision_key)
    by_dispatch = {d.dispatch_id: d for d in sorted(by_id.values(), key=_decision_key)}
    by_debtor: dict[str, list[LoggedDecision]] = {}
    for d in by_id.values():
        by_debtor.setdefault(d.debtor_id, []).append(d)
    # One outcome per id; a conflicting redelivery resolves to the same one whatever the order.
    unique: dict[str, Outcome] = {}
    for o in outcomes:
        known_o = unique.get(o.outcome_id)
        unique[o.outcome_id] = o if known_o is None else min(known_o, o, key=_outcome_key)
    earned: dict[str, set[OutcomeKind]] = {d: set() for d in by_id}
    for o in unique.values():
        target = _attribute(o, by_dispatch, by_debtor, config.attribution_window)
        if target is not None:
            earned[target.decision_id].add(o.kind)
    out: dict[str, Reward] = {}
    for decision_id, kinds in earned.items():
        d = by_id[decision_id]
        value = sum(config.weights.get(k, 0.0) for k in sorted(kinds))
        if d.channel is not None:
            value -= config.channel_cost.get(d.channel, 0.0) + config.contact_cost
            value -= config.fatigue_cost * d.recent_contacts
        out[decision_id] = Reward(decision_id, round(value, 9), tuple(sorted(kinds)))
    return out


def _decision_key(d: LoggedDecision) -> tuple[datetime, str, str, str, str, int]:
    return (
        d.decided_at,
        d.decision_id,
        d.dispatch_id,
        d.debtor_id,
        d.channel or "",
        d.recent_contacts,
    )


def _outcome_key(o: Outcome) -> tuple[str, datetime, str, bool, str, int]:
    return (o.kind, o.at, o.debtor_id, o.dispatch_id is None, o.dispatch_id or "", o.amount_minor)


def _attribute(
    o: Outcome,
    by_dispatch: Mapping[str, LoggedDecision],
    by_debtor: Mapping[str, list[LoggedDecision]],
    window: timedelta,
) -> LoggedDecision | None:
    if o.dispatch_id is not None:
        d = by_dispatch.get(o.dispatch_id)
        if d is None or not d.decided_at <= o.at <= d.decided_at + window:
            return None
        return d
    # No dispatch named: the latest decision for the debtor before it, inside the window.
    eligible = [
        d for d in by_debtor.get(o.debtor_id, ()) if d.decided_at <= o.at <= d.decided_at + window
    ]
    return max(eligible, key=_decision_key, default=None)
