"""Where "now" comes from: the wall clock, or a scaled clock for simulations.

The orchestrator, the timer and the simulated providers all read one
:class:`Clock`, so a demo can run a month of collections in minutes while every
rule (quiet hours, caps, cooldowns) still sees consistent times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from recaudo.settings import Settings


class Clock(Protocol):
    def now(self) -> datetime: ...


class WallClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ScaledClock:
    """``origin`` at the instant ``started`` (a ``time.time()`` value), then
    ``speed`` simulated seconds per real second.

    Every process given the same numbers agrees on the time, which is what
    lets separate workers and connectors share one simulated month. Before
    ``started`` it reads ``origin`` (the world waits for the simulation to
    begin); with ``until`` it stops there (the simulation ends, time stands
    still).
    """

    origin: datetime
    speed: float
    started: float = field(default_factory=time.time)
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.origin.tzinfo is None:
            raise ValueError("ScaledClock origin must be timezone-aware")
        if self.speed <= 0:
            raise ValueError(f"clock speed must be positive, got {self.speed}")

    def now(self) -> datetime:
        elapsed = max(0.0, time.time() - self.started) * self.speed
        now = (self.origin + timedelta(seconds=elapsed)).astimezone(UTC)
        return now if self.until is None or now < self.until else self.until.astimezone(UTC)


#: how often a clock waiting for its start file looks for it
LOOK_EVERY_S = 0.02


@dataclass(slots=True)
class FileStartedClock:
    """A :class:`ScaledClock` whose start is written to ``start_file`` later
    (its content: a ``time.time()`` value): until the file exists the clock
    reads ``origin``, so processes started at different moments wait for one
    start that is decided once they are all ready."""

    origin: datetime
    speed: float
    start_file: Path
    until: datetime | None = None
    #: what spaces out the looks at the file (a test passes its own)
    monotonic: Callable[[], float] = time.monotonic
    _started: ScaledClock | None = None
    _looked_at: float | None = None

    def now(self) -> datetime:
        if self._started is None:
            # Looked for at most every 20 ms: the clock is read on hot paths.
            looked = self.monotonic()
            if self._looked_at is not None and looked - self._looked_at < LOOK_EVERY_S:
                return self.origin.astimezone(UTC)
            self._looked_at = looked
            try:
                started = float(self.start_file.read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):  # not there, or being written
                return self.origin.astimezone(UTC)
            self._started = ScaledClock(self.origin, self.speed, started, self.until)
        return self._started.now()


@dataclass(slots=True)
class FixedClock:
    """A clock a test moves by hand."""

    at: datetime

    def now(self) -> datetime:
        return self.at


def _utc_if_naive(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def clock_from_settings(settings: Settings) -> Clock:
    """The scaled clock when ``RECAUDO_CLOCK_ORIGIN`` is set, else the wall clock.

    Settings read from the environment may carry naive times: they mean UTC.
    """
    if settings.clock_origin is None:
        return WallClock()
    until = settings.clock_until
    if settings.clock_start_file is not None:
        return FileStartedClock(
            _utc_if_naive(settings.clock_origin),
            settings.clock_speed,
            settings.clock_start_file,
            _utc_if_naive(until) if until is not None else None,
        )
    started = settings.clock_started if settings.clock_started is not None else time.time()
    return ScaledClock(
        _utc_if_naive(settings.clock_origin),
        settings.clock_speed,
        started,
        _utc_if_naive(until) if until is not None else None,
    )
