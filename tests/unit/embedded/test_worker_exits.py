"""Worker exits: when a worker counts as crash-looping, which line of its
output is its last error, and the file `recaudo status` reads them from."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from recaudo.embedded.state import (
    CRASH_LOOP_EXITS,
    CRASH_LOOP_WINDOW_S,
    WorkerExits,
    read_worker_exits,
    worker_exits_file,
    write_worker_exits,
)
from recaudo.embedded.supervisor import last_error_line

NOW = 1_800_000_000.0
WINDOW_MS = int(CRASH_LOOP_WINDOW_S * 1000)
#: Seconds before NOW (whole milliseconds: exact in a float): inside the
#: window, or at or before its start (outside).
inside = st.integers(min_value=0, max_value=WINDOW_MS - 1).map(lambda ms: ms / 1000)
outside = st.integers(min_value=WINDOW_MS, max_value=30 * 24 * 3600 * 1000).map(
    lambda ms: ms / 1000
)


def exited_at(ages: list[float]) -> WorkerExits:
    exits = WorkerExits()
    for age in sorted(ages, reverse=True):  # oldest first, as they happen
        exits.exited(1, NOW - age, None)
    return exits


@given(st.lists(inside, max_size=10), st.lists(outside, max_size=10))
def test_crash_looping_counts_only_exits_within_the_window(
    recent: list[float], old: list[float]
) -> None:
    exits = exited_at(recent + old)
    assert exits.exits_within(NOW) == len(recent)
    assert exits.crash_looping(NOW) == (len(recent) >= CRASH_LOOP_EXITS)


@given(st.lists(st.floats(min_value=0, max_value=30 * 24 * 3600), max_size=50))
def test_the_exits_kept_are_bounded_by_the_window(ages: list[float]) -> None:
    exits = exited_at(ages)
    newest = NOW - min(ages) if ages else None
    assert all(newest is not None and newest - t < CRASH_LOOP_WINDOW_S for t in exits.recent_exits)


def test_the_last_exit_is_remembered() -> None:
    exits = WorkerExits()
    exits.exited(3, NOW - 10, "ValueError: first")
    exits.exited(-9, NOW, None)
    assert (exits.last_exit_code, exits.last_exit_at, exits.last_error) == (-9, NOW, None)
    report = exits.report(NOW + 2)
    assert report["last_exit_ago_s"] == 2 and report["exits_recently"] == 2


def test_the_last_error_line_is_an_error_level_line_or_an_exception() -> None:
    logged = (
        "2026-12-07 10:00:00,000 INFO streams.kpis: started\n"
        "2026-12-07 10:00:01,000 ERROR streams.kpis: cannot write: connection refused\n"
        "2026-12-07 10:00:01,000 INFO streams.kpis: closing\n"
    )
    assert last_error_line(logged) == (
        "2026-12-07 10:00:01,000 ERROR streams.kpis: cannot write: connection refused"
    )
    traceback = (
        "2026-12-07 10:00:00,000 ERROR recaudo: worker failed\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "quixstreams.state.exceptions.InvalidChangelogOffset: Cannot set changelog offset\n"
    )
    assert last_error_line(traceback) == (
        "quixstreams.state.exceptions.InvalidChangelogOffset: Cannot set changelog offset"
    )
    assert last_error_line("ValueError: boom\n") == "ValueError: boom"
    assert last_error_line("all good\nINFO done\n") is None
    assert last_error_line("") is None
    assert len(last_error_line("ERROR " + "x" * 5000) or "") == 500


def test_exits_are_read_only_for_the_supervisor_that_wrote_them(tmp_path: Path) -> None:
    exits = WorkerExits(restarts=2)
    exits.exited(1, NOW, "ERROR boom")
    write_worker_exits(worker_exits_file(tmp_path), os.getpid(), {"kpis": exits})
    assert read_worker_exits(tmp_path, os.getpid()) == {"kpis": exits}
    assert read_worker_exits(tmp_path, os.getpid() + 1) == {}  # an earlier run's file
    worker_exits_file(tmp_path).write_text("{not json")
    assert read_worker_exits(tmp_path, os.getpid()) == {}
    assert read_worker_exits(tmp_path / "nothing-here", os.getpid()) == {}
    assert not list(worker_exits_file(tmp_path).parent.glob("*.tmp"))
