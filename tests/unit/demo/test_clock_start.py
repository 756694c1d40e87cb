"""The demo's clock starts when the start file appears, from the instant in it,
in every process that reads the same settings."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from recaudo.orchestration.clock import LOOK_EVERY_S, FileStartedClock, clock_from_settings
from recaudo.settings import Settings

ORIGIN = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)


def test_the_clock_stands_at_its_origin_until_the_start_file_is_written(tmp_path: Path) -> None:
    start = tmp_path / "clock-start"
    settings = Settings(
        clock_origin=ORIGIN,
        clock_speed=60.0,
        clock_started=0.0,  # ignored: the file decides
        clock_start_file=start,
    )
    clock = clock_from_settings(settings)
    assert isinstance(clock, FileStartedClock)
    looked = [1_000.0]
    clock.monotonic = lambda: looked[0]  # the looks at the file, spaced by hand
    assert clock.now() == ORIGIN
    start.write_text("not yet a number", encoding="utf-8")  # being written
    looked[0] += 2 * LOOK_EVERY_S
    assert clock.now() == ORIGIN
    start.write_text(repr(time.time() - 120.0), encoding="utf-8")
    # Within 20 ms of the last look the file is not read again.
    looked[0] += LOOK_EVERY_S / 2
    assert clock.now() == ORIGIN
    looked[0] += 2 * LOOK_EVERY_S
    # Two real minutes ago at 60x: two simulated hours on.
    assert ORIGIN + timedelta(hours=2) <= clock.now() < ORIGIN + timedelta(hours=3)
    # A second process reading the same settings agrees.
    other = clock_from_settings(settings)
    assert abs(other.now() - clock.now()) < timedelta(minutes=5)
