"""The dashboard in a real browser (headless Chromium), over KPI rows the real
KPI processor computed on the real broker from published events."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from recaudo.dashboard.server import Dashboard
from recaudo.settings import Settings, env_for_children
from tests.integration.dashboard import chromium
from tests.integration.streams.kpi_scenario import (
    EXPECTED_TOTAL,
    publish,
    run_until_total,
    story,
)

pytestmark = pytest.mark.integration

#: Kept after the run (gitignored): what the page looked like.
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def debtors_in_view(dsn: str, expected: int, timeout_s: float = 30) -> int:
    deadline = time.monotonic() + timeout_s
    count = 0
    while time.monotonic() < deadline:
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT count(*) FROM debtor_view").fetchone()
        count = int(row[0]) if row else 0
        if count >= expected:
            break
        time.sleep(0.3)
    return count


def test_dashboard_shows_the_pipelines_figures_in_chromium(pg_settings: Settings) -> None:
    browser = chromium.locate()
    # The debtor view worker and its publisher, as `recaudo up` runs them,
    # beside the KPI processor.
    env = env_for_children(pg_settings, RECAUDO_INSTANCE_ID="v0", RECAUDO_LOG_LEVEL="WARNING")
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "recaudo", "streams", "run", "--name", name],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("view", "publisher")
    ]
    try:
        publish(pg_settings, story())
        assert run_until_total(pg_settings, EXPECTED_TOTAL) == EXPECTED_TOTAL
        assert debtors_in_view(pg_settings.database_dsn(), 3) == 3
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(20)

    with Dashboard(pg_settings, port=0, refresh_s=1.0, cache_s=0.2) as board:
        status, body = get(f"{board.url}api/dashboard")
        assert status == 200
        figures = json.loads(body)["figures"]
        assert (figures["contacts"], figures["delivered"], figures["promises"]) == (3, 2, 1)
        assert figures["recovered_minor"] == {"COP": 120_000}
        assert get(f"{board.url}healthz")[0] == 200
        assert get(f"{board.url}readyz")[0] == 200
        assert b"recaudo_kpi_contacts 3.0" in get(f"{board.url}metrics")[1]

        # The DOM after the page's own refresh ran in the browser.
        dom = chromium.dump_dom(browser, board.url)
        assert chromium.card(dom, "contacts") == "3"
        assert chromium.card(dom, "delivery_rate") == "66.7%"
        assert chromium.card(dom, "right_party_rate") == "100.0%"
        assert chromium.card(dom, "cure_rate") == "50.0%"
        assert chromium.card(dom, "recovered") == "COP 1,200.00"
        assert chromium.card(dom, "debtors") == "3"
        assert dom.count("<svg") >= 4, "funnel, channels, suppressions and timeline charts"
        for reason in ("QUIET_HOURS", "NO_CONSENT"):
            assert reason in dom
        assert '<p id="status"></p>' in dom, "no error shown"
        refreshes = re.search(r'<body data-refreshes="(\d+)"', dom)
        assert refreshes and int(refreshes.group(1)) >= 1, "the page refreshed itself live"
        # Both workers' consumer groups, with what they consumed and their lag
        # (the view's derived events may land after the KPI processor stopped).
        pipeline = dom[dom.index('id="pipeline"') :]
        for group in ("kpis", "view"):
            row = re.search(
                rf'<td>{group}</td><td>\d+</td><td>([\d,]+)</td><td data-lag="(\d+)">', pipeline
            )
            assert row and int(row.group(1).replace(",", "")) > 0, pipeline[:1500]

        shot = chromium.screenshot(browser, board.url, ARTIFACTS / "dashboard.png")
        print(f"\ndashboard screenshot: {shot}")
        assert shot.stat().st_size > 20_000
