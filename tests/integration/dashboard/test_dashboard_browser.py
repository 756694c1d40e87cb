"""The dashboard in a real browser (headless Chromium), over KPI rows the real
KPI processor computed on the real broker from published events."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from recaudo.contracts.records import AgentTask, ChannelResponse, ContactDecision, Envelope, RuleHit
from recaudo.dashboard.server import Dashboard
from recaudo.kpis import Counters
from recaudo.settings import Settings, env_for_children
from tests.fixtures import T0, debt_event
from tests.integration.dashboard import chromium
from tests.integration.streams.kpi_scenario import EXPECTED_TOTAL, publish, run_until_total, story

#: Paid by D-4 (in its 1-30 days bucket, as D-1's COP 1,200.00 was): six
#: currencies in all, on the card and in that bucket's row.
MORE_CURRENCIES = {
    "BRL": 98_765_43,
    "MXN": 4_567_89,
    "USD": 12_345_67,
    "PEN": 7_654_32,
    "CLP": 8_765_432,
}


#: What the conversation's intent model reads in the two messages of D-1's
#: conversations (the model itself is measured in tests/unit/understanding).
INTENTS = {"mejor en cuotas": ("ask_plan", True), "quiero hablar con alguien": ("ask_human", True)}


def read(text: str) -> tuple[str, bool]:
    return INTENTS[text]


def conversation() -> list[Envelope]:
    """D-1 writes back before paying: a plan agreed in one conversation (its
    answer dispatched 2 s after the message), a person asked for in the next."""

    def message(text: str, at: timedelta) -> ChannelResponse:
        return ChannelResponse(
            occurred_at=T0 + at,
            source="webhooks",
            debtor_id="D-1",
            dispatch_id="d1",
            channel="sms",
            status="REPLIED",
            provider="simulator",
            text=text,
        )

    plan_asked = message("mejor en cuotas", timedelta(hours=1))
    human_asked = message("quiero hablar con alguien", timedelta(hours=1, minutes=10))
    answer = ContactDecision(
        occurred_at=plan_asked.occurred_at + timedelta(seconds=2),
        source="orchestrator",
        debtor_id="D-1",
        trigger="reply_received",
        trigger_event_id=plan_asked.event_id,
        step=0,
        outcome="DISPATCHED",
        channel="sms",
        dispatch_id="answer-1",
        strategy="early",
        arm="A",
    )
    plan = debt_event(
        "D-1",
        "PAYMENT_PLAN_AGREED",
        {
            "plan_id": "conv-plan-1",
            "instalment_count": 2,
            "instalment_minor": 60_000,
            "currency": "COP",
            "first_due_date": "2026-11-09",
            "frequency": "WEEKLY",
            "total_minor": 120_000,
            "channel": "sms",
        },
        occurred_at=plan_asked.occurred_at + timedelta(seconds=3),
        source="recaudo.conversation",
    )
    task = AgentTask(
        occurred_at=human_asked.occurred_at + timedelta(seconds=1),
        source="recaudo.conversation",
        debtor_id="D-1",
        task_id="task-1",
        reason="ask_human",
        status="OPEN",
        priority="NORMAL",
        created_at=human_asked.occurred_at + timedelta(seconds=1),
    )
    return [plan_asked, answer, plan, human_asked, task]


#: What the conversation adds: the answer is a contact of D-1's episode.
CONVERSATION_TOTAL = Counters(
    contacts=1,
    contacts_to_cure=1,
    messages_read=2,
    messages_understood=2,
    conversations=2,
    conversations_resolved=1,
    conversation_plans=1,
    handoffs=1,
    handoff_reasons={"ask_human": 1},
    answer_latency_ms={"2000": 1},
)


def more_story() -> tuple[list[Envelope], Counters]:
    """The story, plus: a decision three weeks before it (the timeline must
    still end at the story's newest hour), D-3 cured with no contact (a cure
    that is not "cured after contact"), and D-4 paying in five more
    currencies; and the overall total that makes."""
    old = ContactDecision(
        occurred_at=T0 - timedelta(days=21),
        source="orchestrator",
        debtor_id="D-3",
        trigger="payment_missed",
        step=0,
        outcome="SUPPRESSED",
        channel="sms",
        strategy="early",
        rules_fired=[RuleHit(rule_id="consent", reason_code="NO_CONSENT")],
    )
    self_cure = debt_event(
        "D-3",
        "DEBT_CURED",
        {"previous_bucket": "DPD_1_30"},
        account_id="A-3",
        occurred_at=T0 + timedelta(hours=2, minutes=30),
        source="recaudo.view",
    )
    opened = debt_event(
        "D-4",
        "DEBT_OPENED",
        {
            "principal_minor": 10**12,
            "currency": "COP",
            "balance_minor": 10**12,
            "product": "card",
            "days_past_due": 10,
        },
        account_id="A-4",
        occurred_at=T0 + timedelta(hours=3),
    )
    payments = [
        debt_event(
            "D-4",
            "PAYMENT_RECEIVED",
            {"payment_id": f"pay-{currency}", "amount_minor": amount, "currency": currency},
            account_id="A-4",
            occurred_at=T0 + timedelta(hours=3, minutes=1 + i),
        )
        for i, (currency, amount) in enumerate(sorted(MORE_CURRENCIES.items()))
    ]
    total = Counters.from_dict(EXPECTED_TOTAL.to_dict())
    total.add(CONVERSATION_TOTAL)
    total.add(
        Counters(
            suppressed=1,
            suppressions={"NO_CONSENT": 1},
            cures=1,
            payments=len(payments),
            recovered_minor=dict(MORE_CURRENCIES),
        )
    )
    events = story()
    payment = next(i for i, e in enumerate(events) if getattr(e, "type", "") == "PAYMENT_RECEIVED")
    events[payment:payment] = conversation()
    return [old, *events, self_cure, opened, *payments], total


def column_sum(dom: str, section: str, column: str) -> int:
    """A column of a section's member table, summed over its rows."""
    part = dom[dom.index(f'id="{section}"') :]
    part = part[: part.index("</table>")]
    cells = re.findall(rf'<td data-label="{re.escape(column)}">([\d,]+)</td>', part)
    assert cells, f"no {column} column in {section}"
    return sum(int(c.replace(",", "")) for c in cells)


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
    # beside the KPI processor; the view only: the story's decisions are its
    # own, and an orchestrator would add decisions about its past.
    env = env_for_children(
        pg_settings,
        RECAUDO_INSTANCE_ID="v0",
        RECAUDO_LOG_LEVEL="WARNING",
        RECAUDO_ORCHESTRATE="false",
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "recaudo", "streams", "run", "--name", name],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("view", "publisher")
    ]
    events, expected = more_story()
    try:
        publish(pg_settings, events)
        assert run_until_total(pg_settings, expected, read=read) == expected
        assert debtors_in_view(pg_settings.database_dsn(), 4) == 4
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(20)

    with Dashboard(pg_settings, port=0, refresh_s=1.0, cache_s=0.2) as board:
        status, body = get(f"{board.url}api/dashboard")
        assert status == 200
        figures = json.loads(body)["figures"]
        assert (figures["contacts"], figures["delivered"], figures["promises"]) == (4, 2, 1)
        assert figures["recovered_minor"] == {"COP": 120_000, **MORE_CURRENCIES}
        assert (figures["cured_after_contact"], figures["cured_without_contact"]) == (1, 1)
        assert figures["contact_episodes"] == 2
        assert get(f"{board.url}healthz")[0] == 200
        assert get(f"{board.url}readyz")[0] == 200
        assert b"recaudo_kpi_contacts 4.0" in get(f"{board.url}metrics")[1]
        assert (figures["messages_understood_rate"], figures["conversations"]) == (1.0, 2)
        assert (figures["resolved_without_human_rate"], figures["conversation_plans"]) == (0.5, 1)
        assert (figures["handoffs"], figures["handoff_reasons"]) == (1, {"ask_human": 1})
        assert figures["answer_time_p50"] == figures["answer_time_p90"] == 2000

        # The DOM after the page's own refresh ran in the browser.
        dom = chromium.dump_dom(browser, board.url)
        assert chromium.card(dom, "contacts") == "4"
        assert chromium.card(dom, "delivery_rate") == "50.0%"
        assert chromium.card(dom, "right_party_rate") == "100.0%"
        assert chromium.card(dom, "cure_rate") == "50.0%"
        recovered = dom[dom.index('data-figure="recovered"') :].split("</ul>")[0]
        assert re.findall(r'<li data-currency="[A-Z]{3}">([^<]*)</li>', recovered)[:3] == [
            "BRL 98,765.43",
            "CLP 8,765,432",
            "COP 1,200.00",
        ]
        assert chromium.card(dom, "debtors") == "4"
        # The conversation figures, with their definitions and handoffs by reason.
        assert chromium.card(dom, "messages_understood_rate") == "100.0%"
        assert chromium.card(dom, "conversations") == "2"
        assert chromium.card(dom, "resolved_without_human_rate") == "50.0%"
        assert chromium.card(dom, "conversation_plans") == "1"
        assert chromium.card(dom, "handoffs") == "1"
        assert chromium.card(dom, "answer_time_p50") == "≤ 2 s"
        talks = dom[dom.index('id="conversations"') :].split("</section>")[0]
        assert re.search(r"<title>ask_human: 1\b", talks), talks[:2000]
        assert "<dt>Replies understood</dt>" in dom
        assert dom.count("<svg") >= 4, "funnel, channels, suppressions and timeline charts"

        # One cure count everywhere: the card, the funnel and each table say
        # "Cured after contact" and agree; D-3's self-cure is counted apart.
        assert chromium.card(dom, "cured_after_contact") == "1"
        assert chromium.card(dom, "cured_without_contact") == "1"
        assert chromium.card(dom, "contact_episodes") == "2"
        assert "<title>Cured after contact: 1 (" in dom
        for section in ("channels", "arms", "buckets"):
            assert column_sum(dom, section, "Cured after contact") == 1, section
        assert "<dt>Cured after contact</dt>" in dom

        # Contacts per hour ends at the newest hour, three weeks after the
        # oldest, with the story's contacts in it.
        timeline = dom[dom.index('id="timeline"') :].split("</svg>")[0]
        assert "<title>Nov 02 15:00: 3</title>" in timeline
        assert timeline.endswith('class="axis">Nov 02 18:00</text>'), timeline[-300:]
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

        # Six currencies: one line each, and no cell or card off screen or
        # outside its section, on a laptop and on a phone.
        page = get(board.url)[1].decode()
        for width in (1280, 390):
            layout = chromium.layout(browser, page, width)
            assert layout["pageWidth"] <= layout["screen"] == width, layout
            assert layout["outside"] == [], (width, layout["outside"])
            assert layout["wrapped"] == [], (width, layout["wrapped"])
            assert layout["currencies"]["card"] == 6, layout
            assert layout["currencies"]["buckets"] >= 6, layout

        shot = chromium.screenshot(browser, board.url, ARTIFACTS / "dashboard.png")
        print(f"\ndashboard screenshot: {shot}")
        assert shot.stat().st_size > 20_000
