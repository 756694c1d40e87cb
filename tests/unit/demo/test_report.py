"""The demo's summary and report show the pipeline's figures, and say when the run was cut short."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from recaudo.dashboard.data import Snapshot
from recaudo.dashboard.lag import LagReport
from recaudo.demo.driver import DemoPlan, DemoStats
from recaudo.demo.report import summary, write_report
from recaudo.kpis import Counters

PLAN = DemoPlan(debtors=100, days=30, seconds=60)


def snapshot() -> Snapshot:
    overall = Counters(
        contacts=40,
        calls=10,
        delivered=30,
        replied=6,
        right_party=4,
        promises=5,
        promises_kept=2,
        promises_broken=1,
        payments=7,
        episodes=20,
        contacted_cures=5,
        contacts_to_cure=12,
        recovered_minor={"COP": 150_000},
        suppressions={"DEBT_PAID": 3},
    )
    sms = Counters(contacts=30)
    return Snapshot(overall=overall, by_dimension={"CHANNEL": {"sms": sms}}, debtors=100)


def line(text: str, label: str) -> str:
    return next(s for s in text.splitlines() if s.strip().startswith(label))


def test_the_summary_reads_the_pipelines_counters() -> None:
    text = summary(snapshot(), PLAN, DemoStats(published=999, phase="done"), 90)
    assert "100 debtors, 30 simulated days in 1.5 min" in text
    assert "published 999 events" in text
    assert line(text, "Contacts").split()[1] == "40" and "sms 30" in line(text, "Contacts")
    assert line(text, "Delivery rate").split()[2] == "75.0%"
    assert line(text, "Promises kept").split()[2] == "66.7%"
    assert line(text, "Cure rate").split()[2] == "25.0%"
    assert line(text, "Contacts per cure").split()[3] == "2.4"
    assert "COP 1,500.00" in line(text, "Payments")
    assert "DEBT_PAID 3" in line(text, "Suppressed")
    assert "5 of 20 contact episodes" in line(text, "Cure rate")


def test_an_interrupted_run_says_how_far_it_got() -> None:
    stats = DemoStats(phase="simulating", simulated_now=PLAN.start + timedelta(days=11, hours=3))
    assert "11 of 30 simulated days" in summary(snapshot(), PLAN, stats, 30)


def test_the_report_is_a_static_page_with_the_same_figures(tmp_path: Path) -> None:
    path = write_report(tmp_path / "r" / "report.html", snapshot(), LagReport(), PLAN, DemoStats())
    html = path.read_text()
    assert 'data-figure="contacts"><div class="label">Contacts</div><div class="value">40<' in html
    assert "<script>" not in html
    assert "100 debtors over 30 simulated days" in html
