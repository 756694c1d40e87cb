"""The learner's actions: (channel, send window, template variant), and the
subset the policy engine allows for one step at one instant.

The learner is only ever shown this subset, so it cannot pick a contact the
rules forbid: each action is checked with :func:`recaudo.policy.evaluate` at
the instant it would be sent, exactly as the orchestrator checks its own
channel order today.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from recaudo.policy import Candidate, Channel, PolicyContext, RuleSet, evaluate
from recaudo.policy.model import as_utc
from recaudo.policy.quiet_hours import zone_for

#: the least time a connector needs inside the allowed hours (as the orchestrator's)
MIN_SEND: Final = timedelta(seconds=60)


@dataclass(frozen=True, slots=True, order=True)
class SendWindow:
    """A block of the debtor's local day, ``[start_hour, end_hour)``."""

    name: str
    start_hour: int
    end_hour: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_hour < self.end_hour <= 24:
            raise ValueError(
                f"send window {self.name!r}: need 0 <= start_hour < end_hour <= 24, "
                f"got {self.start_hour}..{self.end_hour}"
            )

    def send_at(self, now: datetime, zone: ZoneInfo) -> datetime:
        """When a contact in this window would go: ``now`` if the debtor's
        local time is inside it, else the window's next start (within a day)."""
        now = as_utc(now, "now")
        local = now.astimezone(zone)
        if self.start_hour <= local.hour < self.end_hour:
            return now
        day = local.date() if local.hour < self.start_hour else local.date() + timedelta(days=1)
        start = datetime.combine(day, time(self.start_hour), tzinfo=zone)
        return as_utc(start, "send_at")


DEFAULT_WINDOWS: Final[tuple[SendWindow, ...]] = (
    SendWindow("morning", 8, 12),
    SendWindow("midday", 12, 15),
    SendWindow("afternoon", 15, 18),
    SendWindow("evening", 18, 21),
)
DEFAULT_VARIANTS: Final[tuple[str, ...]] = ("soft", "neutral", "firm")


@dataclass(frozen=True, slots=True, order=True)
class Action:
    channel: Channel
    window: SendWindow
    variant: str

    @property
    def label(self) -> str:
        """A stable name, for logs, features and evaluation."""
        return f"{self.channel}@{self.window.name}/{self.variant}"


@dataclass(frozen=True, slots=True)
class AllowedAction:
    """An action the policy allows, and the instant it would be sent."""

    action: Action
    send_at: datetime


@dataclass(frozen=True, slots=True)
class StepRequest:
    """The step the orchestrator is about to act on (the policy's candidate,
    minus the channel the learner picks)."""

    debtor_id: str
    debt_id: str
    trigger: str
    step: int


def candidate_actions(
    channels: Iterable[Channel],
    windows: Sequence[SendWindow] = DEFAULT_WINDOWS,
    variants: Sequence[str] = DEFAULT_VARIANTS,
) -> list[Action]:
    """Every combination, in a fixed order (channels as given, then windows,
    then variants), so the same inputs give the same action list."""
    return [Action(ch, w, v) for ch in dict.fromkeys(channels) for w in windows for v in variants]


def allowed_actions(
    ctx: PolicyContext,
    request: StepRequest,
    actions: Sequence[Action],
    now: datetime,
    rules: RuleSet,
    *,
    min_send: timedelta = MIN_SEND,
) -> list[AllowedAction]:
    """The actions :func:`~recaudo.policy.evaluate` answers DISPATCH for at
    their send instant, in the order given; none for an unknown time zone."""
    zone = zone_for(ctx.time_zone)
    if zone is None:
        return []
    verdicts: dict[tuple[Channel, datetime], bool] = {}
    out: list[AllowedAction] = []
    for action in actions:
        at = action.window.send_at(now, zone)
        key = (action.channel, at)
        if key not in verdicts:
            candidate = Candidate(
                request.debtor_id, request.debt_id, action.channel, request.trigger, request.step
            )
            decision = evaluate(ctx, candidate, at, rules, min_send=min_send)
            verdicts[key] = decision.outcome == "DISPATCH"
        if verdicts[key]:
            out.append(AllowedAction(action, at))
    return out
