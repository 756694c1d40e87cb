"""What the policy engine reads and what it answers: plain frozen values, no Kafka.

Every datetime is timezone-aware; the engine normalises them to UTC on the way
in so comparisons never need a time zone lookup. The debtor's local time only
exists inside the quiet-hours rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final, Literal, NamedTuple, get_args

Channel = Literal["sms", "email", "whatsapp", "voice"]
Kind = Literal["call", "message"]
Outcome = Literal["DISPATCH", "DEFER", "SUPPRESS"]
DebtStatus = Literal["open", "paid", "settled", "written_off"]
Flag = Literal["deceased", "bankruptcy", "cease_and_desist", "vulnerable"]
ReasonCode = Literal[
    "OUTSIDE_ALLOWED_HOURS",
    "OUTSIDE_ALLOWED_DAYS",
    "HOLIDAY",
    "NO_OPEN_WINDOW",
    "WINDOW_CLOSING",
    "CAP_REACHED",
    "COOLDOWN",
    "DISPUTE_OPEN",
    "OPTED_OUT",
    "NO_CONSENT",
    "INVALID_ADDRESS",
    "DECEASED",
    "BANKRUPTCY",
    "CEASE_AND_DESIST",
    "VULNERABLE",
    "DEBT_PAID",
    "DEBT_WRITTEN_OFF",
    "UNKNOWN_TIME_ZONE",
    "UNKNOWN_HOLIDAY_CALENDAR",
]

CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
FLAGS: Final[tuple[Flag, ...]] = get_args(Flag)
DEBT_STATUSES: Final[tuple[DebtStatus, ...]] = get_args(DebtStatus)
ALL_CHANNELS: Final[frozenset[Channel]] = frozenset(CHANNELS)
ALL_KINDS: Final[frozenset[Kind]] = frozenset(KINDS)

# A voice contact reaches the debtor in real time, which is what the laws
# restricting "calls" protect against; everything else is read when the
# debtor chooses.
_KIND_OF: Final[Mapping[str, Kind]] = MappingProxyType(
    {"voice": "call", "sms": "message", "email": "message", "whatsapp": "message"}
)


def kind_of(channel: Channel) -> Kind:
    try:
        return _KIND_OF[channel]
    except KeyError:
        raise ValueError(f"unknown channel {channel!r} (expected one of {CHANNELS})") from None


def as_utc(value: datetime, what: str) -> datetime:
    """``value`` in UTC; a naive datetime is a caller bug, never guessed at."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value!r}")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One contact the orchestrator would like to make."""

    debtor_id: str
    debt_id: str
    channel: Channel
    trigger: str
    step: int
    kind: Kind = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", kind_of(self.channel))


@dataclass(frozen=True, slots=True)
class Contact:
    """A past contact attempt (dispatched, whatever its outcome).

    ``conversation`` marks a right-party phone conversation or a two-way
    exchange: it starts the cooldowns, attempts alone do not.
    """

    at: datetime
    channel: Channel
    debt_id: str
    conversation: bool = False
    kind: Kind = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", as_utc(self.at, "Contact.at"))
        object.__setattr__(self, "kind", kind_of(self.channel))


@dataclass(frozen=True, slots=True)
class DebtState:
    status: DebtStatus = "open"
    dispute_open: bool = False


OPEN_DEBT: Final = DebtState()


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """What the engine needs to know about one debtor.

    The per-channel sets default to empty on purpose: a caller that forgets
    to say an address is valid or consent was given gets a suppression, not
    a contact. ``history`` needs only the contacts inside the rule set's
    :attr:`~recaudo.policy.ruleset.RuleSet.lookback` (see
    :func:`recaudo.policy.trim_history`); older ones are ignored.
    """

    time_zone: str
    country: str
    jurisdiction: str
    subdivision: str | None = None
    flags: frozenset[Flag] = frozenset()
    debts: Mapping[str, DebtState] = field(default_factory=dict)
    opted_out: frozenset[Channel] = frozenset()
    consent: frozenset[Channel] = frozenset()
    valid_addresses: frozenset[Channel] = frozenset()
    history: tuple[Contact, ...] = ()


class RuleHit(NamedTuple):
    """A rule that fired. A named tuple so it equals the plain pair
    ``(rule_id, reason_code)`` that the audit record carries."""

    rule_id: str
    reason_code: ReasonCode


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer for one candidate at one instant.

    ``not_before`` is set only for DEFER: the first instant at which every
    time and cap rule allows the contact (assuming no other contact is made
    meanwhile). ``window_closes_at`` is set only for DISPATCH: the end of the
    local window the contact is in, never later than the real close and at
    least ``min_send`` after ``now``, so a dispatch can expire before it would
    land outside the allowed hours.
    """

    outcome: Outcome
    rules_fired: tuple[RuleHit, ...]
    ruleset_id: str
    requires_opt_out_text: bool = False
    not_before: datetime | None = None
    window_closes_at: datetime | None = None

    @property
    def reason_codes(self) -> tuple[ReasonCode, ...]:
        return tuple(hit.reason_code for hit in self.rules_fired)
