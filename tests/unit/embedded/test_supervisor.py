"""The supervisor with tiny real child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from recaudo.embedded.state import pid_alive, read_worker_exits
from recaudo.embedded.supervisor import ProcessSpec, Supervisor, SupervisorError


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


SLEEP = python("import time; time.sleep(60)")


def wait(condition: Callable[[], bool], timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_a_dying_child_is_restarted_with_backoff(tmp_path: Path) -> None:
    spec = ProcessSpec("flaky", python("import sys; sys.exit(3)"))
    with Supervisor([spec], tmp_path, 0.1, 0.4, poll_s=0.02) as sup:
        assert wait(lambda: sup.restarts()["flaky"] >= 4)
        started = time.monotonic()
        before = sup.restarts()["flaky"]
        assert wait(lambda: sup.restarts()["flaky"] >= before + 2)
        # Capped backoff: two more restarts take at least ~2 x 0.4 s.
        assert time.monotonic() - started >= 0.6
    log = read(tmp_path / "flaky.log")
    assert "flaky exited with code 3" in log and "restarting in 0.4 s" in log


def test_backoff_starts_over_once_a_child_was_healthy(tmp_path: Path) -> None:
    # Lives 0.3 s, past healthy_after_s: each exit is a first failure again,
    # where without the reset the waits would grow 0.1, 0.2, 0.4 s.
    spec = ProcessSpec("steady", python("import time; time.sleep(0.3)"))
    with Supervisor([spec], tmp_path, 0.1, 10, healthy_after_s=0.2, poll_s=0.02) as sup:
        assert wait(lambda: sup.restarts()["steady"] >= 3, 5)
    lines = read(tmp_path / "steady.log").splitlines()
    waits = [line.rsplit("restarting in ", 1)[1] for line in lines if "restarting in" in line]
    assert len(waits) >= 3 and set(waits) == {"0.1 s"}


def test_stop_leaves_no_child_behind(tmp_path: Path) -> None:
    specs = [ProcessSpec(f"w{i}", SLEEP) for i in range(3)]
    sup = Supervisor(specs, tmp_path).start()
    pids = sup.pids()
    assert all(pid_alive(p) for p in pids.values())
    sup.stop()
    assert not any(pid_alive(p) for p in pids.values())


def test_stop_takes_what_a_child_spawned(tmp_path: Path) -> None:
    spawner = python(
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print(p.pid, flush=True); time.sleep(60)"
    )
    sup = Supervisor([ProcessSpec("spawner", spawner)], tmp_path, grace_s=2).start()
    assert wait(lambda: read(tmp_path / "spawner.log").strip().isdigit())
    grandchild = int(read(tmp_path / "spawner.log"))
    assert pid_alive(grandchild)
    sup.stop()
    assert wait(lambda: not pid_alive(grandchild), 3)


def test_children_lead_their_own_process_group(tmp_path: Path) -> None:
    # A Ctrl-C in the terminal reaches the supervisor's group only: the
    # supervisor, not the terminal, decides when and in which order children stop.
    with Supervisor([ProcessSpec("c", SLEEP)], tmp_path) as sup:
        (pid,) = sup.pids().values()
        assert pid is not None
        assert os.getpgid(pid) == pid != os.getpgrp()


def test_a_child_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    stubborn = python(
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    sup = Supervisor([ProcessSpec("stubborn", stubborn)], tmp_path, grace_s=0.5).start()
    assert wait(lambda: "ready" in read(tmp_path / "stubborn.log"))
    (pid,) = sup.pids().values()
    started = time.monotonic()
    sup.stop()
    assert not pid_alive(pid)
    assert time.monotonic() - started < 5


def test_children_get_their_environment_and_logs(tmp_path: Path) -> None:
    spec = ProcessSpec(
        "env",
        python("import os; print(os.environ['RECAUDO_X'], flush=True)"),
        {"RECAUDO_X": "hello"},
    )
    with Supervisor([spec], tmp_path, backoff_initial=5):
        assert wait(lambda: "hello" in read(tmp_path / "env.log"))


def test_a_command_that_cannot_start_is_reported_and_nothing_is_left(tmp_path: Path) -> None:
    good = ProcessSpec("good", SLEEP)
    bad = ProcessSpec("bad", [str(tmp_path / "no-such-program")])
    sup = Supervisor([good, bad], tmp_path)
    with pytest.raises(SupervisorError, match="cannot start bad"):
        sup.start()
    assert not any(pid_alive(p) for p in sup.pids().values())


def test_a_failed_restart_is_retried(tmp_path: Path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\nexit 1\n")
    script.chmod(0o755)
    with Supervisor([ProcessSpec("job", [str(script)])], tmp_path, 0.05, 0.1, poll_s=0.02) as sup:
        assert wait(lambda: sup.restarts()["job"] >= 1)
        script.unlink()
        assert wait(lambda: "cannot restart job" in read(tmp_path / "job.log"))
        script.write_text("#!/bin/sh\nsleep 60\n")
        script.chmod(0o755)
        assert wait(lambda: pid_alive(sup.pids()["job"]), 5)


def test_names_must_be_unique_and_usable_as_file_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unique"):
        Supervisor([ProcessSpec("a", SLEEP), ProcessSpec("a", SLEEP)], tmp_path)
    with pytest.raises(ValueError, match="log file"):
        Supervisor([ProcessSpec("../a", SLEEP)], tmp_path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; "
        "from recaudo.embedded.supervisor import ProcessSpec, Supervisor; "
        f"s = Supervisor([ProcessSpec('c', [sys.executable, '-c', 'import time; time.sleep(60)'])],"
        f" Path({str(tmp_path)!r})).start(); "
        "print(list(s.pids().values())[0], flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert pid_alive(child)
    parent.kill()
    parent.wait()
    assert wait(lambda: not pid_alive(child), 5)


def test_exits_are_recorded_with_code_and_last_error_line(tmp_path: Path) -> None:
    crasher = python(
        "import sys; print('ERROR streams.kpis: cannot go on', file=sys.stderr, flush=True); "
        "print('closing', flush=True); sys.exit(3)"
    )
    specs = [ProcessSpec("crasher", crasher), ProcessSpec("steady", SLEEP)]
    with Supervisor(specs, tmp_path / "logs", 0.05, 0.1, poll_s=0.02) as sup:
        assert wait(lambda: sup.restarts()["crasher"] >= 3)
        recorded = read_worker_exits(tmp_path, os.getpid())
    crasher_exits = sup.exits()["crasher"]
    assert crasher_exits.last_exit_code == 3
    assert crasher_exits.last_error == "ERROR streams.kpis: cannot go on"
    assert crasher_exits.restarts >= 3 and len(crasher_exits.recent_exits) >= 3
    assert sup.exits()["steady"].last_exit_code is None  # stopped by us: not an exit
    assert recorded["crasher"].last_exit_code == 3
    assert recorded["crasher"].last_error == "ERROR streams.kpis: cannot go on"
    assert recorded["steady"] == sup.exits()["steady"]


def test_the_error_line_is_from_the_last_run_only(tmp_path: Path) -> None:
    # Fails loudly the first time, then exits quietly: the quiet exit has no error line.
    marker = tmp_path / "ran-once"
    code = (
        "import pathlib, sys\n"
        f"m = pathlib.Path({str(marker)!r})\n"
        "if not m.exists():\n"
        "    m.touch(); print('ERROR first run failed', flush=True); sys.exit(1)\n"
        "sys.exit(4)\n"
    )
    logs = tmp_path / "logs"
    with Supervisor([ProcessSpec("job", python(code))], logs, 0.05, 0.1, poll_s=0.02) as sup:
        assert wait(lambda: sup.exits()["job"].last_exit_code == 4)
    assert sup.exits()["job"].last_error is None
    assert "ERROR first run failed" in read(logs / "job.log")
