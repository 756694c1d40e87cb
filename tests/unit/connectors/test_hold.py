"""Holding a dispatch until its not_before, on real, scaled and stopped clocks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from connectors.hold import hold_until

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


class SteppingClock:
    """Moves ``step`` forward at every read, like a fast simulation clock."""

    def __init__(self, step: timedelta) -> None:
        self.now, self.step, self.reads = T0, step, 0

    def __call__(self) -> datetime:
        self.reads += 1
        current = self.now
        self.now += self.step
        return current


def test_a_due_command_is_not_held() -> None:
    clock = SteppingClock(timedelta(0))
    assert asyncio.run(hold_until(T0 - timedelta(seconds=1), clock)) is True
    assert clock.reads == 1


def test_held_until_the_scaled_clock_passes_not_before() -> None:
    # Three simulated hours at a million times real time: milliseconds of waiting.
    clock = SteppingClock(timedelta(hours=1))
    assert asyncio.run(hold_until(T0 + timedelta(hours=3), clock, speed=1e6)) is True
    assert clock.now > T0 + timedelta(hours=3)
    assert clock.reads == 4, "read again after each wait, until the time has come"


def test_a_stopped_clock_is_waited_for_only_up_to_the_cap() -> None:
    clock = SteppingClock(timedelta(0))
    held = asyncio.run(hold_until(T0 + timedelta(hours=3), clock, speed=1e6, max_hold_s=0.05))
    assert held is False
    assert clock.reads > 1


def test_a_speed_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        asyncio.run(hold_until(T0, SteppingClock(timedelta(0)), speed=0))
