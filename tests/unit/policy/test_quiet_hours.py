"""Windows, holidays and the next open instant, including across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recaudo.policy import WeeklyHours, Window
from recaudo.policy.quiet_hours import (
    HOLIDAY_HIT,
    HOURS_HIT,
    WEEKDAY_HIT,
    HolidayCalendar,
    holiday_calendar,
    zone_for,
)
from tests.unit.policy.builders import local, utc


def every_day(*windows: str, closed_on_holidays: bool = False) -> WeeklyHours:
    return WeeklyHours.build(
        weekdays=windows, saturday=windows, sunday=windows, closed_on_holidays=closed_on_holidays
    )


def zone(name: str) -> ZoneInfo:
    found = zone_for(name)
    assert found is not None
    return found


class TestWindow:
    def test_parse_and_print(self) -> None:
        assert Window.parse("07:00-19:00") == Window(420, 1140)
        assert Window.parse(" 8:30 - 24:00 ") == Window(510, 1440)
        assert str(Window(420, 1140)) == "07:00-19:00"

    @pytest.mark.parametrize(
        "text", ["7-19", "19:00-07:00", "07:00-07:00", "25:00-26:00", "07:60-08:00", "00:00-24:30"]
    )
    def test_rejects(self, text: str) -> None:
        with pytest.raises(ValueError):
            Window.parse(text)

    def test_weekly_hours_rejects_overlap_and_wrong_length(self) -> None:
        with pytest.raises(ValueError, match="overlap"):
            WeeklyHours.build(weekdays=["08:00-12:00", "11:00-13:00"])
        with pytest.raises(ValueError, match="7 days"):
            WeeklyHours(((),) * 6)


class TestViolation:
    hours = WeeklyHours.build(weekdays=["08:00-12:00", "14:00-18:00"], closed_on_holidays=True)
    calendar = HolidayCalendar("CO")

    def at(self, *args: int) -> datetime:
        return datetime(*args, tzinfo=ZoneInfo("America/Bogota"))

    def test_windows_are_half_open(self) -> None:
        assert self.hours.violation(self.at(2024, 6, 4, 8, 0), self.calendar) is None
        assert self.hours.violation(self.at(2024, 6, 4, 11, 59, 59), self.calendar) is None
        assert self.hours.violation(self.at(2024, 6, 4, 12, 0), self.calendar) == HOURS_HIT
        assert self.hours.violation(self.at(2024, 6, 4, 7, 59, 59), self.calendar) == HOURS_HIT
        assert self.hours.violation(self.at(2024, 6, 4, 14, 0), self.calendar) is None

    def test_closed_day_and_holiday(self) -> None:
        assert self.hours.violation(self.at(2024, 6, 8, 10), self.calendar) == WEEKDAY_HIT
        # 2024-06-03: Corpus Christi (observed), a Monday.
        assert self.hours.violation(self.at(2024, 6, 3, 10), self.calendar) == HOLIDAY_HIT
        assert self.hours.violation(self.at(2024, 6, 3, 10), None) is None


class TestCaches:
    def test_unknown_zone_and_calendar(self) -> None:
        assert zone_for("Mars/Olympus_Mons") is None
        assert zone_for("../etc/passwd") is None
        assert zone_for("America/Bogota") is zone_for("America/Bogota")
        assert holiday_calendar("XX", None) is None
        assert holiday_calendar("CO", "ZZ") is None
        assert holiday_calendar("br", "sp") == HolidayCalendar("BR", "SP")

    def test_subdivision_holiday(self) -> None:
        # 9 July, Revolucao Constitucionalista: Sao Paulo state only.
        assert HolidayCalendar("BR", "SP").is_holiday(date(2024, 7, 9))
        assert not HolidayCalendar("BR").is_holiday(date(2024, 7, 9))

    def test_extra_holidays(self) -> None:
        calendar = HolidayCalendar("BR", "SP", frozenset({date(2024, 1, 25)}))
        assert calendar.is_holiday(date(2024, 1, 25))


class TestNextOpen:
    def test_open_now_is_now(self) -> None:
        hours = every_day("08:00-21:00")
        now = local("America/New_York", 2024, 6, 4, 12, 0)
        assert hours.next_open(now, zone("America/New_York"), None, 30) == now

    def test_later_today_and_next_day(self) -> None:
        hours = every_day("08:00-21:00")
        ny = zone("America/New_York")
        early = local("America/New_York", 2024, 6, 4, 6, 30)
        assert hours.next_open(early, ny, None, 30) == local("America/New_York", 2024, 6, 4, 8)
        late = local("America/New_York", 2024, 6, 4, 21, 0)
        assert hours.next_open(late, ny, None, 30) == local("America/New_York", 2024, 6, 5, 8)

    def test_skips_weekend_and_holidays(self) -> None:
        hours = WeeklyHours.build(weekdays=["07:00-19:00"], closed_on_holidays=True)
        # Friday 2024-06-07 evening; Monday 2024-06-10 is Sacred Heart (observed).
        friday = local("America/Bogota", 2024, 6, 7, 19, 0)
        found = hours.next_open(friday, zone("America/Bogota"), HolidayCalendar("CO"), 30)
        assert found == local("America/Bogota", 2024, 6, 11, 7)

    def test_none_within_horizon(self) -> None:
        hours = WeeklyHours(((),) * 7)
        assert hours.next_open(utc(2024, 1, 1), zone("UTC"), None, 30) is None
        sundays_only = WeeklyHours.build(sunday=["10:00-11:00"])
        monday = utc(2024, 6, 3, 12)
        assert sundays_only.next_open(monday, zone("UTC"), None, 3) is None
        assert sundays_only.next_open(monday, zone("UTC"), None, 7) == utc(2024, 6, 9, 10)

    def test_lasting_skips_what_is_left_of_a_window_and_windows_too_short(self) -> None:
        hours = every_day("08:00-08:01", "09:00-21:00")
        ny = zone("America/New_York")
        two_minutes = timedelta(minutes=2)
        early = local("America/New_York", 2024, 6, 4, 7, 0)
        assert hours.next_open(early, ny, None, 30) == local("America/New_York", 2024, 6, 4, 8)
        nine = local("America/New_York", 2024, 6, 4, 9)
        assert hours.next_open(early, ny, None, 30, lasting=two_minutes) == nine
        closing = local("America/New_York", 2024, 6, 4, 20, 58, 30)
        assert hours.next_open(closing, ny, None, 30, lasting=two_minutes) == local(
            "America/New_York", 2024, 6, 5, 9
        )
        assert hours.next_open(closing, ny, None, 0, lasting=two_minutes) is None

    def test_new_york_spring_gap_opens_at_the_transition(self) -> None:
        # 2024-03-10 02:00 EST -> 03:00 EDT: 02:30 never happens.
        ny = zone("America/New_York")
        hours = every_day("02:30-04:00")
        start = local("America/New_York", 2024, 3, 10, 1, 0)
        assert hours.next_open(start, ny, None, 30) == utc(2024, 3, 10, 7, 0)  # 03:00 EDT
        gone = every_day("02:00-02:30")
        assert gone.next_open(start, ny, None, 30) == utc(2024, 3, 11, 6, 0)  # next day 02:00 EDT

    def test_new_york_autumn_fold_has_two_openings(self) -> None:
        # 2024-11-03 02:00 EDT -> 01:00 EST: 01:00-02:00 happens twice.
        ny = zone("America/New_York")
        hours = every_day("01:30-02:00")
        first_pass = utc(2024, 11, 3, 5, 45)  # 01:45 EDT
        assert hours.next_open(first_pass, ny, None, 30) == first_pass
        between = utc(2024, 11, 3, 6, 10)  # 01:10 EST
        assert hours.next_open(between, ny, None, 30) == utc(2024, 11, 3, 6, 30)  # 01:30 EST

    def test_sao_paulo_2018_gap_at_midnight(self) -> None:
        # 2018-11-04 00:00 -03 -> 01:00 -02: the day starts at 01:00.
        sp = zone("America/Sao_Paulo")
        hours = every_day("00:30-02:00")
        start = utc(2018, 11, 4, 2, 0)  # 23:00 on the 3rd
        assert hours.next_open(start, sp, None, 30) == utc(2018, 11, 4, 3, 0)  # 01:00 -02
        # An ordinary window after the gap is where the wall clock says.
        business = every_day("08:00-20:00")
        assert business.next_open(start, sp, None, 30) == utc(2018, 11, 4, 10, 0)

    def test_sao_paulo_2019_fold_before_midnight(self) -> None:
        # 2019-02-17 00:00 -02 -> 2019-02-16 23:00 -03: 23:00-24:00 twice.
        sp = zone("America/Sao_Paulo")
        hours = every_day("23:30-24:00")
        first_pass = utc(2019, 2, 17, 1, 45)  # 23:45 -02
        assert hours.next_open(first_pass, sp, None, 30) == first_pass
        # It closes when the clock falls back to 23:00, not at midnight.
        assert hours.closes_at(first_pass, sp) == utc(2019, 2, 17, 2, 0)
        second_pass = utc(2019, 2, 17, 2, 10)  # 23:10 -03
        assert hours.next_open(second_pass, sp, None, 30) == utc(2019, 2, 17, 2, 30)
        assert hours.closes_at(utc(2019, 2, 17, 2, 40), sp) == utc(2019, 2, 17, 3, 0)

    def test_santiago_gap_and_fold(self) -> None:
        cl = zone("America/Santiago")
        # 2022-09-11 00:00 -04 -> 01:00 -03 (Sunday).
        hours = every_day("00:00-03:00")
        saturday = local("America/Santiago", 2022, 9, 10, 12)
        assert hours.next_open(saturday, cl, None, 30) == utc(2022, 9, 11, 4, 0)
        # 2024-04-07 00:00 -03 -> 2024-04-06 23:00 -04: Saturday 23:00-24:00 twice.
        late = every_day("23:15-23:45")
        between = utc(2024, 4, 7, 3, 5)  # 23:05 -04, second pass
        assert late.next_open(between, cl, None, 30) == utc(2024, 4, 7, 3, 15)

    def test_lord_howe_half_hour_shift(self) -> None:
        # 2024-10-06 02:00 +10:30 -> 02:30 +11: 02:00-02:30 never happens.
        lh = zone("Australia/Lord_Howe")
        hours = every_day("02:10-03:00")
        start = local("Australia/Lord_Howe", 2024, 10, 6, 1, 0)
        assert hours.next_open(start, lh, None, 30) == local(
            "Australia/Lord_Howe", 2024, 10, 6, 2, 30
        )


class TestClosesAt:
    def test_end_of_window(self) -> None:
        hours = every_day("08:00-21:00")
        ny = zone("America/New_York")
        now = local("America/New_York", 2024, 6, 4, 20, 0)
        assert hours.closes_at(now, ny) == local("America/New_York", 2024, 6, 4, 21, 0)

    def test_window_to_midnight(self) -> None:
        hours = every_day("20:00-24:00")
        now = local("America/Bogota", 2024, 6, 4, 22, 0)
        assert hours.closes_at(now, zone("America/Bogota")) == local("America/Bogota", 2024, 6, 5)

    def test_midnight_in_a_spring_gap(self) -> None:
        # Santiago 2022-09-10 24:00 does not exist: the window ends at the jump.
        hours = every_day("22:00-24:00")
        now = local("America/Santiago", 2022, 9, 10, 23, 0)
        assert hours.closes_at(now, zone("America/Santiago")) == utc(2022, 9, 11, 4, 0)


# Offsets of these zones are multiples of 15 minutes and their transitions
# fall on a 15-minute UTC grid, so with windows on the same grid allowed-ness
# is constant on every grid interval: a grid scan is an exact oracle.
ZONES = [
    "America/Santiago",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Havana",
    "America/Asuncion",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "Asia/Tehran",
    "Europe/London",
    "America/Bogota",
]
QUARTER = timedelta(minutes=15)


@st.composite
def week_hours(draw: st.DrawFn) -> WeeklyHours:
    days = []
    for _ in range(7):
        cuts = sorted(draw(st.sets(st.integers(0, 96), max_size=4)))
        pairs = list(zip(cuts[::2], cuts[1::2], strict=False))
        days.append(tuple(Window(a * 15, b * 15) for a, b in pairs if a < b))
    return WeeklyHours(tuple(days), closed_on_holidays=draw(st.booleans()))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hours=week_hours(),
    zone_name=st.sampled_from(ZONES),
    start=st.datetimes(
        min_value=datetime(2015, 1, 1), max_value=datetime(2025, 12, 31), timezones=st.just(UTC)
    ),
)
def test_next_open_matches_a_grid_scan(hours: WeeklyHours, zone_name: str, start: datetime) -> None:
    tz = zone(zone_name)
    calendar = HolidayCalendar("CL") if hours.closed_on_holidays else None
    max_days = 8
    found = hours.next_open(start, tz, calendar, max_days)

    expected: datetime | None = start if hours.allows(start, tz, calendar) else None
    limit = start + timedelta(days=max_days - 1)
    if expected is None:
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        point = epoch + ((start - epoch) // QUARTER + 1) * QUARTER
        while point <= limit:
            if hours.allows(point, tz, calendar):
                expected = point
                break
            point += QUARTER
    if expected is not None:
        assert found == expected
    else:
        assert found is None or found > limit
    if found is not None:
        assert hours.allows(found, tz, calendar)
        closes = hours.closes_at(found, tz)
        assert closes > found
        assert hours.allows(closes - timedelta(microseconds=1), tz, calendar)
