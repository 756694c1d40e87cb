"""`recaudo decisions`, `dispatches`, `dlq` and `kpis`, and `debtor list`, as a
user runs them: a real process against the real broker and Postgres."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from recaudo.contracts.records import (
    AccountView,
    ChannelResponse,
    ContactDecision,
    DebtEvent,
    DebtorView,
    DispatchCommand,
    RuleHit,
    Total,
)
from recaudo.dashboard.data import read_snapshot
from recaudo.dashboard.lag import LagReport
from recaudo.dashboard.page import figures
from recaudo.db.kpi_store import write_kpis
from recaudo.db.migrate import migrate
from recaudo.db.view_store import write_views
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.kpis import Counters, KpiRow
from recaudo.settings import Settings
from streams.processor import StreamProcessor
from tests.fixtures import T0, debt_event
from tests.integration.kafka_io import read_to_end
from tests.integration.test_cli import recaudo

pytestmark = pytest.mark.integration


def decision(debtor: str, minutes: int, outcome: str, **kw: Any) -> ContactDecision:
    return ContactDecision(
        occurred_at=T0 + timedelta(minutes=minutes),
        source="orchestrator",
        debtor_id=debtor,
        trigger="payment_missed",
        step=kw.pop("step", 0),
        outcome=outcome,
        strategy="early",
        **kw,
    )


def dispatch(debtor: str, minutes: int, dispatch_id: str, channel: str) -> DispatchCommand:
    return DispatchCommand(
        occurred_at=T0 + timedelta(minutes=minutes),
        source="orchestrator",
        debtor_id=debtor,
        dispatch_id=dispatch_id,
        channel=channel,
        address="+573001112233" if channel == "sms" else "d@example.co",
        template="payment_missed.0",
        locale="es-CO",
        not_before=T0 + timedelta(minutes=minutes),
        expires_at=T0 + timedelta(hours=minutes),
        trigger="payment_missed",
        step=0,
    )


def response(debtor: str, minutes: int, dispatch_id: str, status: str) -> ChannelResponse:
    return ChannelResponse(
        occurred_at=T0 + timedelta(minutes=minutes),
        source="connector",
        debtor_id=debtor,
        dispatch_id=dispatch_id,
        channel="sms",
        status=status,
        provider="simulator",
    )


def run(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The command as run beside `recaudo up`, which tells it the broker is
    the embedded one (its listed partition ends come up short)."""
    return recaudo(settings, *args, RECAUDO_EMBEDDED_BROKER="true", **env)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_decisions_and_dispatches_read_their_topics_to_the_end(topics_ready: Settings) -> None:
    serde = Serde(topics_ready)
    # One flush for all: the broker keeps them in few batches, whose listed
    # ends come up short (the commands read the true end).
    with RecaudoProducer(topics_ready, serde) as producer:
        for i in range(12):
            producer.publish(decision(f"D-{i % 3}", i, "DISPATCHED", channel="sms"))
        producer.publish(
            decision(
                "D-1",
                20,
                "SUPPRESSED",
                channel="voice",
                rules_fired=[RuleHit(rule_id="quiet_hours", reason_code="QUIET_HOURS")],
            )
        )
        producer.publish(dispatch("D-1", 1, "d-1", "sms"))
        producer.publish(dispatch("D-1", 2, "d-2", "email"))
        producer.publish(dispatch("D-2", 3, "d-3", "sms"))
        producer.publish(response("D-1", 4, "d-1", "DELIVERED"))
        producer.publish(response("D-1", 9, "d-1", "REPLIED"))
        producer.flush()

    out = run(topics_ready, "decisions", "--debtor", "D-1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:4] == ["WHEN", "(UTC)", "DEBTOR", "TRIGGER"]
    assert len(lines) == 1 + 4 + 1, out.stdout + out.stderr  # header, 4 dispatched, 1 suppressed
    assert "SUPPRESSED" in lines[-1] and "QUIET_HOURS" in lines[-1] and "voice" in lines[-1]
    assert "5 decision(s)" in out.stderr

    every = json_lines(run(topics_ready, "decisions", "--json", "--all").stdout)
    assert len(every) == 13
    assert [d["occurred_at"] for d in every] == sorted(d["occurred_at"] for d in every)
    latest = json_lines(run(topics_ready, "decisions", "--json", "--limit", "2").stdout)
    assert [d["outcome"] for d in latest] == ["DISPATCHED", "SUPPRESSED"]
    suppressed = run(topics_ready, "decisions", "--outcome", "SUPPRESSED", "--json")
    assert [d["debtor_id"] for d in json_lines(suppressed.stdout)] == ["D-1"]

    sms = run(topics_ready, "dispatches", "--channel", "sms")
    assert sms.returncode == 0, sms.stderr
    rows = sms.stdout.splitlines()
    assert rows[0].startswith("DECIDED (UTC)") and len(rows) == 3, sms.stdout
    d1 = next(r for r in rows if r.endswith("d-1"))
    assert "REPLIED" in d1, "the latest status by event time"
    d3 = next(r for r in rows if r.endswith("d-3"))
    assert "no response yet" in d3
    mine = json_lines(run(topics_ready, "dispatches", "--debtor", "D-1", "--json").stdout)
    assert {(d["dispatch_id"], d["channel"], d["status"]) for d in mine} == {
        ("d-1", "sms", "REPLIED"),
        ("d-2", "email", None),
    }


def dead_letter_a_poison_event(settings: Settings, group: str) -> tuple[DebtEvent, list[Any]]:
    """A processor that cannot fold D-poison's event dead-letters it (as every
    consumer does); the event and the records around it as they were sent."""
    serde = Serde(settings)
    poison = debt_event(debtor_id="D-poison")
    good = [debt_event(debtor_id=f"D-{i}") for i in range(2)]
    with RecaudoProducer(settings, serde) as producer:
        for event in (good[0], poison, good[1]):
            producer.publish(event)
    run_processor(settings, group, fail_on="D-poison", until=len(good))
    return poison, read_to_end(settings, serde.topics.debt_events)


def run_processor(settings: Settings, group: str, fail_on: str | None, until: int) -> list[str]:
    """Run a processor of ``group`` until it has handled ``until`` events;
    the debtors it handled."""
    processor = StreamProcessor(settings, group)
    seen: list[str] = []

    def handle(event: DebtEvent) -> None:
        if event.debtor_id == fail_on:
            raise ValueError("cannot fold this event")
        seen.append(event.debtor_id)
        if len(seen) == until:
            threading.Timer(0.5, processor.stop).start()

    processor.app.dataframe(processor.topic("debt-events")).update(handle)
    guard = threading.Timer(90, processor.stop)
    guard.start()
    try:
        processor.run()
    finally:
        guard.cancel()
    return seen


def test_dlq_lists_dead_letters_and_republishes_their_original_bytes(
    topics_ready: Settings,
) -> None:
    serde = Serde(topics_ready)
    poison, sent = dead_letter_a_poison_event(topics_ready, "poison-cli")
    original = next(m for m in sent if m.key() == b"D-poison")

    listed = run(topics_ready, "dlq")
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["ID", "WHEN", "(UTC)", "SOURCE", "ERROR", "REASON", "KEY"]
    where = f"{serde.topics.debt_events}[{original.partition()}]@{original.offset()}"
    assert where in row and "PROCESSING_ERROR" in row and "cannot fold this event" in row
    assert row.rstrip().endswith("D-poison")
    (letter,) = json_lines(run(topics_ready, "dlq", "--json").stdout)
    assert letter["source_offset"] == original.offset() and letter["key"] == "D-poison"
    assert run(topics_ready, "dlq", "--topic", "elsewhere").stdout.count("\n") == 1

    unknown = run(topics_ready, "dlq", "republish", "00000000")
    assert unknown.returncode == 2 and "no dead letter with id '00000000'" in unknown.stderr
    needs_topic = run(topics_ready, "dlq", "republish", "--all")
    assert needs_topic.returncode == 2 and "--all needs --topic" in needs_topic.stderr

    # The cause fixed, the letter goes back: the same key, value and headers,
    # to the same topic and partition, after the original.
    again = run(topics_ready, "dlq", "republish", letter["id"][:8])
    assert again.returncode == 0, again.stderr
    assert f"republished {letter['id']} to {serde.topics.debt_events}" in again.stdout
    assert "keep their event ids" in again.stdout
    after = read_to_end(topics_ready, serde.topics.debt_events)
    (copy,) = [m for m in after if m.key() == b"D-poison" and m.offset() != original.offset()]
    assert (copy.partition(), copy.value(), copy.headers()) == (
        original.partition(),
        original.value(),
        original.headers(),
    )
    assert copy.offset() > original.offset()
    assert serde.deserialize(serde.topics.debt_events, copy.value()).event_id == poison.event_id

    # The consumer that gave up on it, fixed, reads on from where it was and
    # takes the republished record in.
    assert run_processor(topics_ready, "poison-cli", fail_on=None, until=1) == ["D-poison"]

    every = run(topics_ready, "dlq", "republish", "--all", "--topic", serde.topics.debt_events)
    assert every.returncode == 0 and "republished 1 dead letter(s)" in every.stdout


def kpi_rows(dimension: str, members: dict[str, Counters]) -> list[KpiRow]:
    at = int(T0.timestamp() * 1000)
    return [
        KpiRow(dimension, member, "TOTAL", 0, 1, at, c.to_dict(sparse=True))
        for member, c in members.items()
    ]


def test_kpis_show_the_dashboards_figures_under_its_names(pg_settings: Settings) -> None:
    dsn = pg_settings.database_dsn()
    migrate(dsn)
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
        cures=9,
        episodes=20,
        contacted_cures=5,
        contacts_to_cure=12,
        recovered_minor={"COP": 150_000, "USD": 1_050, "BRL": 2_000},
    )
    sms = Counters(contacts=30, contacted_cures=3, recovered_minor={"COP": 100_000, "USD": 50})
    voice = Counters(contacts=10, calls=10, contacted_cures=2)
    with psycopg.connect(dsn) as conn:
        write_kpis(conn, kpi_rows("ALL", {"all": overall}))
        write_kpis(conn, kpi_rows("CHANNEL", {"sms": sms, "voice": voice}))
    env = {"DATABASE_URL": dsn}

    out = run(pg_settings, "kpis", **env)
    assert out.returncode == 0, out.stderr
    rows = {line.split("  ")[0]: line for line in out.stdout.splitlines()}
    assert rows["Cured after contact"].split()[3] == "5"
    assert rows["Cured without contact"].split()[3] == "4"
    assert rows["Contact episodes"].split()[2] == "20"
    assert rows["Cure rate"].split()[2] == "25.0%"
    money = [
        line.split()[-2:] for line in out.stdout.splitlines() if "COP" in line or "USD" in line
    ]
    assert ["COP", "1,500.00"] in money and ["USD", "10.50"] in money, out.stdout

    by_channel = run(pg_settings, "kpis", "--by", "channel", **env)
    assert by_channel.returncode == 0, by_channel.stderr
    lines = by_channel.stdout.splitlines()
    assert "CURED AFTER CONTACT" in lines[0]
    assert lines[1].split()[0] == "sms" and lines[1].rstrip().endswith("COP 1,000.00")
    assert lines[2].rstrip().endswith("USD 0.50"), "a member's second currency on its own line"

    # The same numbers as the dashboard, under the same keys.
    (cli,) = json_lines(run(pg_settings, "kpis", "--json", **env).stdout)
    board = figures(read_snapshot(dsn), LagReport())
    for key, value in cli["figures"].items():
        assert board[key] == value, key
    assert cli["figures"]["cured_after_contact"] == 5
    members = json_lines(run(pg_settings, "kpis", "--by", "channel", "--json", **env).stdout)
    assert sum(m["figures"]["cured_after_contact"] for m in members) == 5


def test_kpis_before_any_worker_ran_says_what_to_do(pg_settings: Settings) -> None:
    out = run(pg_settings, "kpis", DATABASE_URL=pg_settings.database_dsn())
    assert out.returncode == 1 and "no kpi table yet" in out.stderr


def debtor_view(debtor_id: str, bucket: str, dpd: int) -> DebtorView:
    return DebtorView(
        event_id=uuid.uuid4(),
        occurred_at=T0,
        source="recaudo.view",
        debtor_id=debtor_id,
        version=1,
        bucket=bucket,
        max_days_past_due=dpd,
        totals=[Total(currency="COP", balance_minor=10_000, overdue_minor=500)],
        accounts=[
            AccountView(
                account_id="A1",
                status="OPEN",
                currency="COP",
                balance_minor=10_000,
                overdue_minor=500,
                days_past_due=dpd,
                bucket=bucket,
            )
        ],
    )


def test_debtor_list_has_a_header_and_takes_buckets_as_it_prints_them(
    pg_settings: Settings,
) -> None:
    dsn = pg_settings.database_dsn()
    migrate(dsn)
    with psycopg.connect(dsn) as conn:
        write_views(
            conn,
            [debtor_view("D-1", "DPD_90_PLUS", 120), debtor_view("D-2", "DPD_1_30", 12)],
        )
    env = {"DATABASE_URL": dsn}
    out = run(pg_settings, "debtor", "list", **env)
    assert out.returncode == 0, out.stderr
    header, first, _ = out.stdout.splitlines()
    assert header.split() == ["DEBTOR", "BUCKET", "DPD", "OWES"]
    assert first.split()[:2] == ["D-1", "DPD_90_PLUS"]
    for name in ("DPD_90_PLUS", "dpd_90_plus", "90+"):
        only = run(pg_settings, "debtor", "list", "--bucket", name, **env)
        assert only.returncode == 0, only.stderr
        assert [line.split()[0] for line in only.stdout.splitlines()[1:]] == ["D-1"], name
    wrong = run(pg_settings, "debtor", "list", "--bucket", "DPD_91", **env)
    assert wrong.returncode == 2 and "DPD_90_PLUS (90+)" in wrong.stderr
