"""`recaudo up`, `status` and `down` as a user runs them."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from recaudo.embedded.runtime import run_down
from recaudo.embedded.state import live_record, pid_alive, read_record
from recaudo.settings import Settings
from tests.integration.environment import cli_env

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def recaudo(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recaudo", *args],
        env=cli_env(state_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )


def get_when_up(url: str, timeout_s: float = 30) -> int:
    """The status of GET ``url``, retried while the worker is still starting."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return int(response.status)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def get_body(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bytes(response.read())


def recorded_pids(state_dir: Path) -> list[int]:
    record = read_record(state_dir)
    assert record is not None
    pids = [record.supervisor_pid, record.broker_pid, record.postgres_pid]
    return [p for p in [*pids, *record.children.values()] if p]


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Short: Postgres puts its Unix socket in here.
    path = Path(tempfile.mkdtemp(prefix="rcup"))
    yield path
    run_down(Settings(state_dir=path), timeout_s=5)  # whatever a failed test left
    shutil.rmtree(path, ignore_errors=True)


def test_up_publish_status_down(state_dir: Path) -> None:
    up = recaudo(state_dir, "up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    record = live_record(state_dir)
    assert record is not None and record.phase == "ready"
    assert record.ready_after_s is not None and record.ready_after_s < 20
    pids = recorded_pids(state_dir)
    try:
        status = recaudo(state_dir, "status", "--json")
        report = json.loads(status.stdout)
        assert status.returncode == 0 and report["crash_looping"] == [], report
        assert report["running"] and report["broker"]["reachable"]
        assert all(w["alive"] for w in report["workers"].values())
        # Every worker but the dashboard (whose page port serves them) answers
        # its probes and metrics where status says.
        probed = {n: w["health"] for n, w in report["workers"].items() if n != "dashboard"}
        assert probed and all(probed.values()), report["workers"]
        for name, url in probed.items():
            assert get_when_up(f"{url}healthz") == 200, name
            assert b"recaudo_" in get_body(f"{url}metrics"), name
        text = recaudo(state_dir, "status").stdout
        assert "healthz" in text
        # Where the dashboard answers, in both forms.
        assert report["dashboard"].startswith("http://127.0.0.1:"), report
        assert get_when_up(report["dashboard"]) == 200
        assert f"dashboard page           {report['dashboard']}" in text
        published = recaudo(state_dir, "publish", str(EXAMPLES / "portfolio.jsonl"))
        assert "published 14 event(s); 0 invalid" in published.stdout, published.stderr
        again = recaudo(state_dir, "up", "--detach")
        assert again.returncode == 1 and "already running" in again.stdout
    finally:
        down = recaudo(state_dir, "down")
    assert "recaudo stopped." in down.stdout
    assert not any(pid_alive(p) for p in pids)
    assert read_record(state_dir) is None
    assert recaudo(state_dir, "status").returncode == 1


def test_sigterm_stops_everything(state_dir: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "recaudo", "up"],
        env=cli_env(state_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    record = None
    while time.monotonic() < deadline and proc.poll() is None:
        record = read_record(state_dir)
        if record is not None and record.phase == "ready":
            break
        time.sleep(0.2)
    assert record is not None and record.phase == "ready", proc.communicate(timeout=30)[0]
    pids = recorded_pids(state_dir)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "starting broker" in out and "recaudo is up in" in out and "stopped (" in out
    assert not any(pid_alive(p) for p in pids)
