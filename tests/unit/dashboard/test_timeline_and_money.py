"""The contacts-per-hour window and the per-currency money lists."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.dashboard.data import TIMELINE_WINDOWS, Snapshot
from recaudo.dashboard.lag import LagReport
from recaudo.dashboard.page import amounts_list, sections, timeline_points
from recaudo.kpis import Counters

H0 = datetime(2026, 11, 1, 5, tzinfo=UTC)


def hours(*pairs: tuple[int, int]) -> list[tuple[datetime, Counters]]:
    return [(H0 + timedelta(hours=h), Counters(contacts=n)) for h, n in pairs]


def test_the_window_ends_at_the_newest_hour_and_reaches_two_weeks_back() -> None:
    # History weeks before the contacts (a payment hour with no contact).
    points = timeline_points(hours((0, 0), (600, 5), (620, 7)))
    assert len(points) == TIMELINE_WINDOWS
    assert points[-1] == (H0 + timedelta(hours=620), 7)
    assert points[0][0] == H0 + timedelta(hours=620 - TIMELINE_WINDOWS + 1)
    assert (H0 + timedelta(hours=600), 5) in points
    assert sum(n for _, n in points) == 12


def test_a_short_history_is_drawn_from_its_first_hour_with_empty_hours_as_zeros() -> None:
    assert timeline_points(hours((0, 6), (3, 4))) == [
        (H0, 6),
        (H0 + timedelta(hours=1), 0),
        (H0 + timedelta(hours=2), 0),
        (H0 + timedelta(hours=3), 4),
    ]
    assert timeline_points([]) == []


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers(0, 2000), st.integers(0, 50), min_size=1, max_size=40))
def test_any_hours_the_newest_is_last_and_every_contact_in_the_window_is_drawn(
    rows: dict[int, int],
) -> None:
    points = timeline_points(hours(*rows.items()))
    newest = max(rows)
    assert points[-1][0] == H0 + timedelta(hours=newest)
    assert 1 <= len(points) <= TIMELINE_WINDOWS
    inside = {h: n for h, n in rows.items() if h > newest - TIMELINE_WINDOWS}
    assert sum(n for _, n in points) == sum(inside.values())
    steps = {b[0] - a[0] for a, b in itertools.pairwise(points)}
    assert steps <= {timedelta(hours=1)}


def test_the_chart_labels_the_newest_hour_last() -> None:
    snap = Snapshot(hourly=hours((0, 1), (500, 9)))
    chart = sections(snap, LagReport())["timeline"]
    newest = (H0 + timedelta(hours=500)).strftime("%b %d %H:00")
    assert f"<title>{newest}: 9</title>" in chart
    assert chart.endswith(f'text-anchor="end" class="axis">{newest}</text></svg>')


SIX = {
    "COP": 1_234_567_00,
    "BRL": 98_765_43,
    "MXN": 4_567_89,
    "USD": 12_345_67,
    "PEN": 7_654_32,
    "CLP": 8_765_432,
}


def test_money_is_one_list_item_per_currency() -> None:
    html = amounts_list(SIX)
    items = re.findall(r'<li data-currency="([A-Z]{3})">([^<]*)</li>', html)
    assert [c for c, _ in items] == sorted(SIX)
    assert ("COP", "COP 1,234,567.00") in items and ("CLP", "CLP 8,765,432") in items
    assert amounts_list({}) == "0"


def test_the_recovered_card_and_table_cells_list_each_currency_on_its_own_line() -> None:
    snap = Snapshot(
        overall=Counters(payments=6, recovered_minor=SIX),
        by_dimension={"CHANNEL": {"sms": Counters(contacts=3, recovered_minor=SIX)}},
    )
    got = sections(snap, LagReport())
    card = got["figures"].split('data-figure="recovered"')[1].split('data-figure="debtors"')[0]
    assert card.count("<li data-currency=") == 6
    cell = re.search(r'<td data-label="Recovered">(.*?)</td>', got["channels"])
    assert cell and cell.group(1).count("<li data-currency=") == 6
