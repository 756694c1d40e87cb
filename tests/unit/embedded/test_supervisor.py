"""The supervisor with tiny real child processes."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from recaudo.embedded.state import pid_alive
from recaudo.embedded.supervisor import ProcessSpec, Supervisor


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def wait(condition: object, timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


def test_a_dying_child_is_restarted_with_backoff(tmp_path: Path) -> None:
    spec = ProcessSpec("flaky", python("import sys; sys.exit(3)"))
    with Supervisor([spec], tmp_path, backoff_initial=0.1, backoff_max=0.4, poll_s=0.02) as sup:
        assert wait(lambda: sup.restarts()["flaky"] >= 4)
        started = time.monotonic()
        before = sup.restarts()["flaky"]
        assert wait(lambda: sup.restarts()["flaky"] >= before + 2)
        # Capped backoff: two more restarts take at least ~2 x 0.4 s.
        assert time.monotonic() - started >= 0.6


def test_stop_leaves_no_child_behind(tmp_path: Path) -> None:
    specs = [ProcessSpec(f"w{i}", python("import time; time.sleep(60)")) for i in range(3)]
    sup = Supervisor(specs, tmp_path).start()
    pids = sup.pids()
    assert all(pid_alive(p) for p in pids.values())
    sup.stop()
    assert not any(pid_alive(p) for p in pids.values())


def test_a_child_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    stubborn = python(
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    sup = Supervisor([ProcessSpec("stubborn", stubborn)], tmp_path, grace_s=0.5).start()
    assert wait(lambda: "ready" in (tmp_path / "stubborn.log").read_text())
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
        assert wait(lambda: "hello" in (tmp_path / "env.log").read_text())


def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    import subprocess

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
