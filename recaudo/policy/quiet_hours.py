"""Allowed hours and days in the debtor's own time zone, public holidays, and
the next instant a contact may be made.

Local time is only ever derived from a UTC instant (``instant.astimezone``),
never the other way round by arithmetic on wall clocks: a wall-clock time can
occur twice (autumn) or never (spring), and the laws speak of the hour the
debtor's clock shows. Converting a window's wall-clock start back to an
instant therefore checks both folds and, for a start that falls in a DST gap,
opens at the transition itself (the first instant the clock shows a time at
or after the start).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from recaudo.policy.model import RuleHit

DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAY_NAMES: Final[tuple[DayName, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY: Final = 24 * 60
_DAY_S: Final = 24 * 3600
_ONE_DAY: Final = timedelta(days=1)
_NO_TIME: Final = timedelta(0)
# Transitions are looked for at this stride: no time zone has had two
# offset changes within 12 hours.
_TRANSITION_STRIDE_S: Final = 12 * 3600
# Larger than any daylight-saving shift (at most 2 h in the tz database);
# only a change of calendar side such as Samoa's in 2011 exceeds it, and
# then the answer is still an allowed instant, just possibly not the first.
_MAX_OFFSET_CHANGE: Final = timedelta(hours=3)

HOURS_HIT: Final = RuleHit("quiet_hours.local_window", "OUTSIDE_ALLOWED_HOURS")
WEEKDAY_HIT: Final = RuleHit("quiet_hours.weekday", "OUTSIDE_ALLOWED_DAYS")
HOLIDAY_HIT: Final = RuleHit("quiet_hours.holiday", "HOLIDAY")
NO_WINDOW_HIT: Final = RuleHit("quiet_hours.no_open_window", "NO_OPEN_WINDOW")
WINDOW_CLOSING_HIT: Final = RuleHit("quiet_hours.window_closing", "WINDOW_CLOSING")
UNKNOWN_ZONE_HIT: Final = RuleHit("context.time_zone", "UNKNOWN_TIME_ZONE")
UNKNOWN_CALENDAR_HIT: Final = RuleHit("context.holiday_calendar", "UNKNOWN_HOLIDAY_CALENDAR")

_WINDOW_RE: Final = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """Local wall-clock minutes ``[start, end)`` after midnight; ``end`` may
    be 1440 (midnight at the end of the day)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise ValueError(
                f"window {self.start}-{self.end} must satisfy 0 <= start < end <= 1440"
            )

    @classmethod
    def parse(cls, text: str) -> Window:
        """``"07:00-19:00"``; ``"24:00"`` is allowed as an end."""
        match = _WINDOW_RE.match(text)
        if match is None:
            raise ValueError(f"expected a window like '07:00-19:00', got {text!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if m1 > 59 or m2 > 59 or h1 > 23 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise ValueError(f"not a valid time of day in {text!r}")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start >= end:
            raise ValueError(f"window {text!r} must end after it starts (same local day)")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@lru_cache(maxsize=4096)
def zone_for(name: str) -> ZoneInfo | None:
    """The IANA zone, or None if the name is unknown (the engine suppresses)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


@lru_cache(maxsize=1024)
def holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """Public holidays of ``country`` (and ``subdivision``) in ``year``.

    Raises NotImplementedError for a calendar the ``holidays`` package lacks.
    """
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


@lru_cache(maxsize=1024)
def calendar_known(country: str, subdivision: str | None) -> bool:
    try:
        holidays.country_holidays(country, subdiv=subdivision, years=())
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class HolidayCalendar:
    country: str
    subdivision: str | None = None
    extra: frozenset[date] = frozenset()

    def is_holiday(self, day: date) -> bool:
        return day in self.extra or day in holiday_dates(self.country, self.subdivision, day.year)


@lru_cache(maxsize=1024)
def holiday_calendar(
    country: str, subdivision: str | None, extra: frozenset[date] = frozenset()
) -> HolidayCalendar | None:
    """The debtor's calendar, or None if the ``holidays`` package lacks it."""
    country = country.upper()
    subdivision = subdivision.upper() if subdivision else None
    if not calendar_known(country, subdivision):
        return None
    return HolidayCalendar(country, subdivision, extra)


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """Allowed windows per weekday (Monday first) for one kind of contact."""

    days: tuple[tuple[Window, ...], ...]
    closed_on_holidays: bool = False
    # Seconds of the local day, precomputed because the hot path compares
    # against them on every evaluation.
    _spans: tuple[tuple[tuple[int, int], ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError(f"weekly hours need 7 days (Monday first), got {len(self.days)}")
        for name, windows in zip(DAY_NAMES, self.days, strict=True):
            for before, after in itertools.pairwise(windows):
                if after.start < before.end:
                    raise ValueError(
                        f"{name}: windows {before} and {after} must be sorted and not overlap"
                    )
        spans = tuple(tuple((w.start * 60, w.end * 60) for w in day) for day in self.days)
        object.__setattr__(self, "_spans", spans)

    @classmethod
    def build(
        cls,
        *,
        weekdays: Sequence[str] = (),
        saturday: Sequence[str] = (),
        sunday: Sequence[str] = (),
        closed_on_holidays: bool = False,
    ) -> WeeklyHours:
        """Windows as text (``"08:00-21:00"``): the same on Monday to Friday."""
        week = tuple(Window.parse(w) for w in weekdays)
        return cls(
            (
                *(week,) * 5,
                tuple(Window.parse(w) for w in saturday),
                tuple(Window.parse(w) for w in sunday),
            ),
            closed_on_holidays,
        )

    def violation(self, local: datetime, calendar: HolidayCalendar | None) -> RuleHit | None:
        """Which time rule, if any, forbids a contact at local wall time ``local``."""
        if self.closed_on_holidays and calendar is not None and calendar.is_holiday(local.date()):
            return HOLIDAY_HIT
        spans = self._spans[local.weekday()]
        if not spans:
            return WEEKDAY_HIT
        second = local.hour * 3600 + local.minute * 60 + local.second
        for start, end in spans:
            if start <= second < end:
                return None
        return HOURS_HIT

    def allows(self, instant: datetime, zone: ZoneInfo, calendar: HolidayCalendar | None) -> bool:
        return self.violation(instant.astimezone(zone), calendar) is None

    def next_open(
        self,
        start: datetime,
        zone: ZoneInfo,
        calendar: HolidayCalendar | None,
        max_days: int,
        lasting: timedelta = _NO_TIME,
    ) -> datetime | None:
        """The first instant at or after ``start`` (UTC) that the hours allow
        with at least ``lasting`` left before its window closes
        (:meth:`closes_at`), searching local days up to ``max_days`` ahead;
        None if there is none."""
        last_day = start.astimezone(zone).date() + timedelta(days=max_days)
        while True:
            days_left = (last_day - start.astimezone(zone).date()).days
            if days_left < 0:
                return None
            found = self._first_open(start, zone, calendar, days_left)
            if found is None or lasting <= _NO_TIME:
                return found
            closes = self.closes_at(found, zone)
            if closes - found >= lasting:
                return found
            start = closes  # too little of this window is left: look past it

    def _first_open(
        self,
        start: datetime,
        zone: ZoneInfo,
        calendar: HolidayCalendar | None,
        max_days: int,
    ) -> datetime | None:
        """The first allowed instant at or after ``start``, searching local
        days up to ``max_days`` ahead; None if there is none.

        Allowed-ness only switches on at a window's start (either fold of its
        wall time) or at a UTC-offset transition, so those are the only
        candidates to look at.
        """
        local = start.astimezone(zone)
        if self.violation(local, calendar) is None:
            return start
        holidays_closed = calendar if self.closed_on_holidays else None
        best: datetime | None = None
        best_wall = datetime.max
        first_day = local.date()
        # From the day before: after an autumn fold at midnight the local
        # date steps back to yesterday for an hour.
        for offset in range(-1, max_days + 1):
            day = first_day + timedelta(days=offset)
            # A later day can only hold an earlier instant if an offset
            # change outweighs the wall-clock gap to it.
            if datetime.combine(day, time()) - best_wall >= _MAX_OFFSET_CHANGE:
                break
            spans = self._spans[day.weekday()]
            if not spans or (holidays_closed is not None and holidays_closed.is_holiday(day)):
                continue
            for window_start, _ in spans:
                for instant in _instants(day, window_start, zone):
                    if instant >= start and (best is None or instant < best):
                        best = instant
                        best_wall = datetime.combine(day, time()) + timedelta(seconds=window_start)
        # A clock jumping forward into a window (a window starting inside a
        # DST gap) or back into one opens it at the transition.
        end = best if best is not None else start + timedelta(days=max_days + 1)
        for transition in _transitions(start, end, zone):
            if transition < end and self.allows(transition, zone, calendar):
                return transition
        return best

    def closes_at(self, instant: datetime, zone: ZoneInfo) -> datetime:
        """For an allowed ``instant``: the end of its window, never later than
        the real close (a window running to midnight closes at midnight even
        if the next day's opens then, and any offset transition inside the
        window is taken as its close)."""
        local = instant.astimezone(zone)
        second = local.hour * 3600 + local.minute * 60 + local.second
        day = local.date()
        end = _DAY_S
        for start, stop in self._spans[local.weekday()]:
            if start <= second < stop:
                end = stop
                break
        if end >= _DAY_S:
            day, end = day + _ONE_DAY, 0
        ends = [u for u in _instants(day, end, zone) if u > instant]
        limit = min(ends) if ends else instant + 2 * _ONE_DAY
        if local.utcoffset() == limit.astimezone(zone).utcoffset():
            return limit
        for transition in _transitions(instant, limit, zone):
            return min(transition, limit)
        return limit


def _instants(day: date, second: int, zone: ZoneInfo) -> tuple[datetime, ...]:
    """The UTC instants at which the local clock shows ``day`` + ``second``:
    one normally, two in an autumn fold, none in a spring gap."""
    wall = datetime.combine(day, time()) + timedelta(seconds=second)
    first = wall.replace(tzinfo=zone).astimezone(UTC)
    second_fold = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second_fold:
        return (first,)
    return tuple(u for u in (first, second_fold) if u.astimezone(zone).replace(tzinfo=None) == wall)


def _offset(timestamp: int, zone: ZoneInfo) -> timedelta | None:
    return datetime.fromtimestamp(timestamp, zone).utcoffset()


def _transitions(start: datetime, end: datetime, zone: ZoneInfo) -> Iterator[datetime]:
    """UTC-offset transitions in ``(start, end]``, in order, to the second
    (tz database transitions fall on whole seconds)."""
    low = math.floor(start.timestamp())
    stop = math.ceil(end.timestamp())
    offset = _offset(low, zone)
    while low < stop:
        high = min(low + _TRANSITION_STRIDE_S, stop)
        if _offset(high, zone) == offset:
            low = high
            continue
        while high - low > 1:
            middle = (low + high) // 2
            if _offset(middle, zone) == offset:
                low = middle
            else:
                high = middle
        yield datetime.fromtimestamp(high, UTC)
        low, offset = high, _offset(high, zone)
