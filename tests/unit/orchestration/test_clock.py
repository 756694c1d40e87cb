"""The clocks every process shares: scaled time that agrees across processes and stops."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from recaudo.orchestration.clock import ScaledClock, WallClock, clock_from_settings
from recaudo.settings import Settings

ORIGIN = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)


def test_scaled_clock_runs_at_its_speed_from_its_start() -> None:
    started = time.time() - 10  # ten real seconds ago
    now = ScaledClock(ORIGIN, speed=3600, started=started).now()
    # Ten real seconds at one simulated hour per second, give or take the call.
    assert ORIGIN + timedelta(hours=10) <= now < ORIGIN + timedelta(hours=10, minutes=5)


def test_scaled_clock_waits_at_its_origin_and_stops_at_until() -> None:
    until = ORIGIN + timedelta(hours=2)
    clock = ScaledClock(ORIGIN, speed=3600, started=time.time() - 10, until=until)
    assert clock.now() == until
    not_yet = ScaledClock(ORIGIN, speed=3600, started=time.time() + 100, until=until)
    assert not_yet.now() == ORIGIN, "before its start the clock waits at its origin"


def test_processes_given_the_same_settings_read_the_same_time() -> None:
    settings = Settings(
        clock_origin=ORIGIN,
        clock_started=time.time() - 60,
        clock_speed=1000.0,
        clock_until=ORIGIN + timedelta(days=1),
    )
    a, b = clock_from_settings(settings), clock_from_settings(settings)
    assert abs((a.now() - b.now()).total_seconds()) < 5  # 5 ms of real time apart at most
    assert a.now() <= ORIGIN + timedelta(days=1)
    assert isinstance(clock_from_settings(Settings()), WallClock)


def test_a_naive_origin_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ScaledClock(datetime(2026, 11, 1), speed=10)
