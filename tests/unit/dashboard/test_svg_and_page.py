"""Charts and sections render from numbers alone (no Postgres, no Kafka)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from recaudo.dashboard import svg
from recaudo.dashboard.data import Snapshot
from recaudo.dashboard.lag import GroupLag, LagReport
from recaudo.dashboard.page import figures, render_page, sections
from recaudo.kpis import Counters

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def test_hbars_are_valid_svg_with_escaped_labels_and_shares() -> None:
    chart = svg.hbars([("<script>", 3), ("B & C", 1)], title="t", percent_of=4)
    root = parse(chart)
    assert root.tag == f"{SVG}svg"
    assert len(root.findall(f"{SVG}rect")) == 2
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "<script>" in texts and "B & C" in texts and "3 (75%)" in texts


def test_empty_charts_say_so() -> None:
    assert svg.hbars([], title="t") == svg.EMPTY
    assert svg.hbars([("a", 0)], title="t", empty="nothing") == '<p class="empty">nothing</p>'
    assert svg.timeline([], title="t") == svg.EMPTY
    assert svg.grouped_bars([], [], title="t") == svg.EMPTY


def test_grouped_bars_mark_missing_rates() -> None:
    root = parse(svg.grouped_bars(["sms", "voice"], [("a", [0.5, None])], title="t"))
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert "sms a: 50%" in titles and "voice a: n/a" in titles


def snapshot() -> Snapshot:
    h0 = datetime(2026, 11, 2, 15, tzinfo=UTC)
    overall = Counters(
        contacts=10,
        calls=2,
        delivered=8,
        replied=3,
        right_party=1,
        promises=2,
        payments=1,
        cures=1,
        episodes=4,
        contacted_cures=1,
        contacts_to_cure=3,
        suppressed=2,
        recovered_minor={"COP": 150_000},
        suppressions={"QUIET_HOURS": 2},
    )
    return Snapshot(
        overall=overall,
        by_dimension={"CHANNEL": {"sms": Counters(contacts=8, delivered=7)}},
        hourly=[(h0, Counters(contacts=6)), (h0 + timedelta(hours=3), Counters(contacts=4))],
        debtors=5,
        debtors_by_bucket={"DPD_1_30": 5},
    )


def test_sections_and_figures() -> None:
    lag = LagReport(groups=[GroupLag("kpis", 4, 100, 3, 12.5)])
    got = sections(snapshot(), lag)
    assert 'data-figure="contacts"' in got["figures"] and "80.0%" in got["figures"]
    assert "COP 1,500.00" in got["figures"]
    assert "QUIET_HOURS" in got["suppressions"]
    # Hours with no contact show as zeros: four columns from 15:00 to 18:00.
    assert len(parse(got["timeline"]).findall(f"{SVG}rect")) == 4
    assert 'data-lag="4"' in got["pipeline"] and "12.5/s" in got["pipeline"]
    f = figures(snapshot(), lag)
    assert (f["contacts"], f["delivery_rate"], f["consumer_lag"]) == (10, 0.8, 4)
    assert f["throughput_per_s"] == 12.5


def test_page_renders_every_section_and_polls() -> None:
    page = render_page(snapshot(), LagReport(error="broker down"), 2.5, datetime.now(UTC))
    for element in (
        "figures",
        "funnel",
        "channels",
        "suppressions",
        "timeline",
        "arms",
        "buckets",
        "pipeline",
    ):
        assert f'id="{element}"' in page
    assert "Kafka: broker down" in page
    assert 'fetch("/api/dashboard"' in page and "setInterval(refresh, 2500)" in page


def test_a_crash_looping_worker_is_shown_first_thing_and_escaped() -> None:
    looping = {
        "restarts": 7,
        "last_exit_code": 1,
        "last_exit_ago_s": 3,
        "last_error": "ERROR streams.kpis: <bad> & worse",
        "exits_recently": 7,
        "crash_looping": True,
    }
    once = {**looping, "restarts": 1, "exits_recently": 1, "crash_looping": False}
    snap = Snapshot(workers={"kpis": looping, "view": once})
    got = sections(snap, LagReport())["workers"]
    assert 'data-crash-looping="kpis"' in got and "Crash-looping: kpis." in got
    assert '<tr data-worker="kpis" class="error">' in got
    assert '<tr data-worker="view">' in got
    assert "&lt;bad&gt; &amp; worse" in got and "<bad>" not in got
    assert figures(snap, LagReport())["crash_looping"] == ["kpis"]
    page = render_page(snap, LagReport(), 5, datetime.now(UTC))
    assert page.index('id="workers"') < page.index('id="figures"')
    assert "Crash-looping: kpis." in page


def test_no_worker_section_while_every_worker_stays_up() -> None:
    assert sections(snapshot(), LagReport())["workers"] == ""
    assert figures(snapshot(), LagReport())["crash_looping"] == []
