"""Small constructors shared by the policy tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from recaudo.policy import (
    CHANNELS,
    Candidate,
    Channel,
    Contact,
    DebtState,
    Flag,
    PolicyContext,
)

ALL: frozenset[Channel] = frozenset(CHANNELS)

#: (time zone, country, subdivision) of a typical debtor per preset.
HOME: dict[str, tuple[str, str, str | None]] = {
    "us_reg_f": ("America/New_York", "US", None),
    "co_ley_2300": ("America/Bogota", "CO", None),
    "cl_ley_19496": ("America/Santiago", "CL", None),
    "mx_condusef": ("America/Mexico_City", "MX", None),
    "pe_ley_29571": ("America/Lima", "PE", None),
    "br_sp": ("America/Sao_Paulo", "BR", "SP"),
}


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    """A wall-clock time in ``zone``, as a UTC instant."""
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def context(
    jurisdiction: str = "co_ley_2300",
    *,
    zone: str | None = None,
    country: str | None = None,
    subdivision: str | None = None,
    history: Iterable[Contact] = (),
    flags: Iterable[Flag] = (),
    debts: Mapping[str, DebtState] | None = None,
    opted_out: Iterable[Channel] = (),
    consent: Iterable[Channel] = CHANNELS,
    valid: Iterable[Channel] = CHANNELS,
) -> PolicyContext:
    """A debtor that may be contacted on every channel unless told otherwise."""
    home_zone, home_country, home_subdivision = HOME.get(jurisdiction, ("UTC", "CO", None))
    return PolicyContext(
        time_zone=zone or home_zone,
        country=country or home_country,
        subdivision=subdivision if subdivision is not None else home_subdivision,
        jurisdiction=jurisdiction,
        flags=frozenset(flags),
        debts=dict(debts or {}),
        opted_out=frozenset(opted_out),
        consent=frozenset(consent),
        valid_addresses=frozenset(valid),
        history=tuple(history),
    )


def candidate(channel: Channel = "sms", debt_id: str = "A1") -> Candidate:
    return Candidate("D1", debt_id, channel, "instalment_due", 0)


def contact(
    at: datetime, channel: Channel = "sms", debt_id: str = "A1", conversation: bool = False
) -> Contact:
    return Contact(at, channel, debt_id, conversation)
