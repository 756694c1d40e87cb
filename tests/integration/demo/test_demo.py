"""`recaudo demo` as a newcomer runs it: a simulated month through the real
embedded pipeline, its KPIs printed, its report written, its dashboard live in
a real browser while it stays up."""

from __future__ import annotations

import json
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from recaudo.embedded.runtime import run_down
from recaudo.embedded.state import live_record
from recaudo.settings import Settings
from tests.integration.dashboard import chromium
from tests.integration.environment import cli_env

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
#: Enough debtors that, over four simulated days (a weekend and holidays
#: first: contacts wait for the hours), conversations end in each
#: of a promise, a plan, an opt-out and a handoff (the simulated debtors'
#: dispositions: docs/conversations.md, "The simulator's replies").
DEBTORS = 150


@pytest.fixture
def state_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="rcdemo"))  # short: Postgres' socket lives here
    yield path
    run_down(Settings(state_dir=path / "demo"), timeout_s=5)  # whatever a failure left
    shutil.rmtree(path, ignore_errors=True)


class Lines:
    """A process's output, line by line, readable with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(proc,), daemon=True).start()

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, pattern: str, timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no line matching {pattern!r}; output:\n" + "\n".join(self.seen))


def kpi(lines: list[str], label: str) -> str:
    for line in lines:
        if line.strip().startswith(label):
            return line.strip()[len(label) :].split()[0]
    raise AssertionError(f"no {label!r} line in the summary:\n" + "\n".join(lines))


def test_demo_runs_a_month_and_reports_what_the_pipeline_measured(state_dir: Path) -> None:
    browser = chromium.locate()
    env = cli_env(state_dir)
    report = state_dir / "report.html"
    argv = ["--debtors", str(DEBTORS), "--days", "4", "--minutes", "0.5"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "recaudo", "demo", *argv, "--report", str(report), "--keep-running"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = Lines(proc)
    try:
        url = out.until(r"dashboard: (http://\S+)", 60).group(1)
        out.until(r"^report: ", 240)
        out.until(r"still running", 10)
        summary = out.seen[next(i for i, s in enumerate(out.seen) if "recaudo demo:" in s) :]
        assert not any(s.startswith("warning:") for s in summary), summary

        contacts = int(kpi(summary, "Contacts").replace(",", ""))
        payments = int(kpi(summary, "Payments").replace(",", ""))
        cured = int(kpi(summary, "Cured after contact").replace(",", ""))
        assert contacts > 0 and payments > 0, summary
        assert kpi(summary, "Delivery rate").endswith("%")

        # The debtors conversed: the pipeline understood and answered their
        # messages, and the conversations ended in each way at least once.
        understood = kpi(summary, "Replies understood")
        promised = int(kpi(summary, "Promises in conversations").replace(",", ""))
        planned = int(kpi(summary, "Plans in conversations").replace(",", ""))
        handed = int(kpi(summary, "Handed to a person").replace(",", ""))
        assert understood.endswith("%") and float(understood[:-1]) > 50, summary
        assert promised > 0 and planned > 0 and handed > 0, summary
        assert kpi(summary, "Time to answer, median").startswith("≤"), summary
        threads = "\n".join(summary)
        for ending, caused in (
            ("a promise", "caused: PROMISE_TO_PAY"),
            ("a plan", "caused: PAYMENT_PLAN_AGREED"),
            ("an opt-out", "caused: OPTED_OUT"),
            ("a handoff", "caused: agent task"),
        ):
            example = re.search(
                rf"A conversation that ended in {ending}: (\S+)\n((?:    .*\n?)+)", threads
            )
            assert example, (ending, threads)
            assert caused in example.group(2), example.group(0)
            assert "understood: " in example.group(2) and "answered on " in example.group(2)

        # The printed figures are the pipeline's: the live dashboard reads them
        # from the KPI table and the debtor view the stream workers wrote.
        with urllib.request.urlopen(f"{url}api/dashboard", timeout=10) as response:
            api = json.loads(response.read())
        figures = api["figures"]
        assert figures["contacts"] == contacts
        assert figures["payments"] == payments
        assert figures["cured_after_contact"] == cured
        assert figures["debtors"] == DEBTORS
        assert figures["conversation_promises"] == promised
        assert figures["conversation_plans"] == planned
        assert figures["handoffs"] == handed
        # The stream workers have taken in everything (connectors may still
        # hold dispatches whose window comes after the stopped clock).
        for group in ("view", "kpis"):
            row = re.search(
                rf'<td>{group}</td><td>\d+</td><td>[\d,]+</td><td data-lag="(\d+)">',
                api["sections"]["pipeline"],
            )
            assert row and row.group(1) == "0", api["sections"]["pipeline"][:1500]

        dom = chromium.dump_dom(browser, url)
        assert chromium.card(dom, "contacts") == f"{contacts:,}"
        assert chromium.card(dom, "debtors") == f"{DEBTORS:,}"
        assert chromium.card(dom, "cured_after_contact") == f"{cured:,}"
        assert chromium.card(dom, "messages_understood_rate") == understood
        assert chromium.card(dom, "handoffs") == f"{handed:,}"
        assert dom.count("<svg") >= 4
        shot = chromium.screenshot(browser, url, ARTIFACTS / "demo-dashboard.png")
        assert shot.stat().st_size > 20_000

        # The static report: the same figures, no live refresh script.
        html = report.read_text()
        assert chromium.card(html, "contacts") == f"{contacts:,}"
        assert "<script>" not in html
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    assert code == 0, "\n".join(out.seen[-30:])
    assert live_record(state_dir / "demo") is None, "everything the demo started has stopped"
