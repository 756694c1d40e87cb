"""The dashboard's Conversations section and figures, from counters alone."""

from __future__ import annotations

import json

from recaudo.dashboard.data import Snapshot
from recaudo.dashboard.lag import LagReport
from recaudo.dashboard.page import figures, sections
from recaudo.kpis import Counters


def test_the_section_shows_each_conversation_figure_and_the_handoff_reasons() -> None:
    talk = Counters(
        messages_read=8,
        messages_understood=6,
        conversations=4,
        conversations_resolved=1,
        conversation_promises=1,
        conversation_plans=2,
        handoffs=3,
        handoff_reasons={"hardship": 2, "ask_human": 1},
        answer_latency_ms={"250": 3, "more": 1},
    )
    html = sections(Snapshot(overall=talk), LagReport())["conversations"]
    for key, shown in (
        ("messages_understood_rate", "75.0%"),
        ("conversations", "4"),
        ("resolved_without_human_rate", "25.0%"),
        ("conversation_promises", "1"),
        ("conversation_plans", "2"),
        ("handoffs", "3"),
        ("answer_time_p50", "≤ 250 ms"),
        ("answer_time_p90", "&gt; 1 d"),
    ):
        assert f'data-figure="{key}"><div class="label">' in html, key
        assert f'<div class="value">{shown}</div>' in html, (key, shown)
    assert "<title>hardship: 2" in html and "<title>ask_human: 1" in html
    data = figures(Snapshot(overall=talk), LagReport())
    assert data["answer_time_p50"] == 250 and data["answer_time_p90"] == "more"
    json.dumps(data, allow_nan=False)  # no infinity in the JSON


def test_without_conversations_the_section_says_what_turns_them_off() -> None:
    html = sections(Snapshot(overall=Counters(contacts=3)), LagReport())["conversations"]
    assert "RECAUDO_CONVERSATIONS=false" in html and "data-figure" not in html
