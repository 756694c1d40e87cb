"""close_or_exit: a close that hangs ends the process; one that returns does not."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from recaudo.kafka.close_deadline import EXIT_CODE, close_or_exit


def test_a_close_that_returns_in_time_exits_nothing() -> None:
    exits: list[int] = []
    closed: list[bool] = []
    bounded = close_or_exit(lambda: closed.append(True), 0.2, "probe", exit=exits.append)
    bounded()
    time.sleep(0.4)  # past the deadline: the watch must have stood down
    assert closed == [True]
    assert exits == []


def test_a_close_that_hangs_exits_with_the_code(caplog: pytest.LogCaptureFixture) -> None:
    exits: list[int] = []
    release = threading.Event()
    bounded = close_or_exit(lambda: release.wait(10), 0.2, "probe", exit=exits.append)
    worker = threading.Thread(target=bounded)
    worker.start()
    deadline = time.monotonic() + 5
    while not exits and time.monotonic() < deadline:
        time.sleep(0.05)
    release.set()
    worker.join(5)
    assert exits == [EXIT_CODE]
    assert "probe: close still running" in caplog.text


def test_a_close_that_raises_raises_and_exits_nothing() -> None:
    exits: list[int] = []

    def failing() -> None:
        raise RuntimeError("broker gone")

    with pytest.raises(RuntimeError, match="broker gone"):
        close_or_exit(failing, 0.2, "probe", exit=exits.append)()
    time.sleep(0.4)
    assert exits == []


def test_a_hung_close_ends_a_real_process() -> None:
    # The default exit: os._exit, with the main thread stuck in the close.
    code = (
        "import threading; from recaudo.kafka.close_deadline import close_or_exit; "
        "close_or_exit(threading.Event().wait, 0.5, 'probe')(); print('returned')"
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == EXIT_CODE
    assert "returned" not in result.stdout
    assert time.monotonic() - started < 30


def test_the_deadline_must_be_positive() -> None:
    with pytest.raises(ValueError, match="deadline_s"):
        close_or_exit(lambda: None, 0, "probe")
