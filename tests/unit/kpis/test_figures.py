"""One cure count everywhere: the figures read from the counters the
attribution produced, summed per member as the KPI rows are."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.contracts.records import ContactDecision, Envelope
from recaudo.dashboard.data import Snapshot
from recaudo.dashboard.lag import LagReport
from recaudo.dashboard.page import figures, sections
from recaudo.demo.driver import DemoPlan, DemoStats
from recaudo.demo.report import summary
from recaudo.kpis import Counters, DebtorKpiState, observe
from recaudo.kpis import figures as fig
from tests.fixtures import T0, debt_event


def opened(debtor: str, dpd: int, at: int) -> Any:
    payload = {
        "principal_minor": 1000,
        "currency": "COP",
        "balance_minor": 1000,
        "product": "loan",
        "days_past_due": dpd,
    }
    return debt_event(debtor, "DEBT_OPENED", payload, occurred_at=T0 + timedelta(minutes=at))


def contact(debtor: str, n: int, channel: str, arm: str, at: int) -> ContactDecision:
    return ContactDecision(
        occurred_at=T0 + timedelta(minutes=at),
        source="orchestrator",
        debtor_id=debtor,
        trigger="payment_missed",
        step=0,
        channel=channel,
        outcome="DISPATCHED",
        dispatch_id=f"{debtor}-{n}",
        strategy="early",
        arm=arm,
    )


def cured(debtor: str, bucket: str, at: int) -> Any:
    return debt_event(
        debtor,
        "DEBT_CURED",
        {"previous_bucket": bucket},
        occurred_at=T0 + timedelta(minutes=at),
        source="recaudo.view",
    )


def snapshot_of(events_by_debtor: dict[str, list[Envelope]]) -> Snapshot:
    """The counters per dimension member, as the KPI processor totals them."""
    snap = Snapshot()
    for events in events_by_debtor.values():
        state = DebtorKpiState()
        for event in events:
            for a in observe(state, event):
                for dimension, member in a.touch.members():
                    if dimension == "ALL":
                        snap.overall.add(a.counters)
                    else:
                        held = snap.by_dimension.setdefault(dimension, {})
                        held.setdefault(member, Counters()).add(a.counters)
    return snap


def story() -> dict[str, list[Envelope]]:
    return {
        # contacted, then cured
        "D-1": [
            opened("D-1", 10, 0),
            contact("D-1", 1, "sms", "A", 1),
            cured("D-1", "DPD_1_30", 9),
        ],
        # cured with no contact
        "D-2": [opened("D-2", 40, 0), cured("D-2", "DPD_31_60", 5)],
        # contacted and cured, behind again, cured again without a contact;
        # then contacted twice in a new episode, not cured
        "D-3": [
            opened("D-3", 70, 0),
            contact("D-3", 1, "email", "B", 1),
            cured("D-3", "DPD_61_90", 2),
            opened("D-3", 5, 3),
            cured("D-3", "DPD_1_30", 4),
            opened("D-3", 20, 5),
            contact("D-3", 2, "voice", "B", 6),
            contact("D-3", 3, "sms", "B", 7),
        ],
    }


def table_column(html: str, column: str) -> list[str]:
    return re.findall(rf'<td data-label="{re.escape(column)}">([^<]*)</td>', html)


def test_cured_after_contact_is_one_number_on_every_part_of_the_page_and_in_the_summary() -> None:
    snap = snapshot_of(story())
    c = snap.overall
    assert (c.cures, c.contacted_cures, c.episodes) == (4, 2, 3)
    assert fig.cured_after_contact(c) == 2
    assert fig.cured_without_contact(c) == 2
    assert fig.contact_episodes(c) == 3

    got = sections(snap, LagReport())
    label = fig.CURED_AFTER_CONTACT.label
    # The funnel's step, and each table's column summed over its members.
    assert re.search(rf"<title>{label}: 2 \(", got["funnel"]), got["funnel"]
    for section in ("channels", "arms", "buckets"):
        cells = table_column(got[section], label)
        assert cells and sum(int(x) for x in cells) == 2, (section, cells)
    assert (
        'data-figure="cured_after_contact"><div class="label">Cured after contact</div>'
        in (got["figures"])
    )
    assert '<div class="value">2</div>' in got["figures"].split('"cured_after_contact"')[1]
    assert f"<dt>{label}</dt>" in got["definitions"]
    assert figures(snap, LagReport())["cured_after_contact"] == 2

    text = summary(snap, DemoPlan(debtors=3), DemoStats(phase="done"), 60)
    row = next(line for line in text.splitlines() if line.strip().startswith(label))
    assert row.split()[3] == "2"
    assert "2 of 3 contact episodes" in text
    assert "contacted debtors" not in text


events_of_a_debtor = st.lists(
    st.sampled_from(["contact-sms", "contact-voice", "cure", "behind"]), max_size=12
)


@settings(max_examples=200, deadline=None)
@given(st.lists(events_of_a_debtor, min_size=1, max_size=5))
def test_cured_after_contact_adds_up_over_channels_arms_and_buckets(
    plans: list[list[str]],
) -> None:
    by_debtor: dict[str, list[Envelope]] = {}
    for d, plan in enumerate(plans):
        debtor = f"D-{d}"
        events: list[Envelope] = [opened(debtor, 35, 0)]
        for i, step in enumerate(plan, start=1):
            if step.startswith("contact"):
                channel = step.split("-")[1]
                events.append(contact(debtor, i, channel, "AB"[i % 2], i))
            elif step == "cure":
                events.append(cured(debtor, "DPD_31_60", i))
            else:
                events.append(opened(debtor, 35, i))
        by_debtor[debtor] = events
    snap = snapshot_of(by_debtor)
    overall = fig.cured_after_contact(snap.overall)
    for dimension in ("CHANNEL", "ARM", "BUCKET"):
        members = snap.members(dimension).values()
        assert sum(fig.cured_after_contact(c) for c in members) == overall, dimension
    assert overall + fig.cured_without_contact(snap.overall) == snap.overall.cures


def test_format_value_by_kind() -> None:
    assert fig.format_value(None, "rate") == "—"
    assert fig.format_value(0.1234, "rate") == "12.3%"
    assert fig.format_value(2.5, "ratio") == "2.5"
    assert fig.format_value(12_345, "count") == "12,345"
    assert fig.recovered_lines({"USD": 1050, "COP": 100, "JPY": 5}) == [
        "COP 1.00",
        "JPY 5",
        "USD 10.50",
    ]
