"""A small, known collections story for the KPI processor and the dashboard:
three debtors, their decisions, the channels' responses, a promise, a payment
and a cure, with the KPI totals it must produce."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import psycopg

from recaudo.contracts.records import ChannelResponse, ContactDecision, Envelope, RuleHit
from recaudo.dashboard.lag import LagProbe
from recaudo.db.kpi_store import counters_of, read_kpis
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kpis import Counters, Reader
from recaudo.settings import Settings
from streams.kpis import KpiProcessor
from tests.fixtures import T0, debt_event


def _decision(debtor: str, minutes: int, outcome: str, **kw: Any) -> ContactDecision:
    return ContactDecision(
        occurred_at=T0 + timedelta(minutes=minutes),
        source="orchestrator",
        debtor_id=debtor,
        trigger="payment_missed",
        step=kw.pop("step", 0),
        outcome=outcome,  # type: ignore[arg-type]
        strategy=kw.pop("strategy", "early"),
        **kw,
    )


def _response(debtor: str, minutes: int, dispatch_id: str, channel: str, status: str) -> Any:
    return ChannelResponse(
        occurred_at=T0 + timedelta(minutes=minutes),
        source="connector",
        debtor_id=debtor,
        dispatch_id=dispatch_id,
        channel=channel,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        provider="simulator",
    )


def story() -> list[Envelope]:
    """Events in the order they happen (within a debtor; debtors interleave)."""
    opened = {
        "principal_minor": 500_000,
        "currency": "COP",
        "balance_minor": 500_000,
        "product": "card",
    }
    replayed = _decision("D-2", 3, "DISPATCHED", channel="email", dispatch_id="d3", arm="B")
    return [
        debt_event("D-1", "DEBT_OPENED", {**opened, "days_past_due": 10}, account_id="A-1"),
        debt_event("D-2", "DEBT_OPENED", {**opened, "days_past_due": 45}, account_id="A-2"),
        _decision("D-1", 1, "DISPATCHED", channel="sms", dispatch_id="d1", arm="A"),
        _decision(
            "D-2",
            2,
            "SUPPRESSED",
            channel="sms",
            rules_fired=[RuleHit(rule_id="quiet_hours", reason_code="QUIET_HOURS")],
        ),
        replayed,
        replayed,  # the same event twice: counted once
        _decision(
            "D-3",
            4,
            "SUPPRESSED",
            channel="voice",
            rules_fired=[RuleHit(rule_id="consent", reason_code="NO_CONSENT")],
        ),
        _decision("D-3", 5, "DEFERRED", channel="sms", arm="A"),
        _response("D-1", 6, "d1", "sms", "DELIVERED"),
        _response("D-1", 7, "d1", "sms", "DELIVERED"),  # a second receipt: one delivery
        _response("D-1", 9, "d1", "sms", "REPLIED"),
        _response("D-2", 8, "d3", "email", "BOUNCED"),
        _decision("D-1", 20, "DISPATCHED", channel="voice", dispatch_id="d2", arm="A", step=1),
        _response("D-1", 22, "d2", "voice", "CALL_RIGHT_PARTY"),
        debt_event(
            "D-1",
            "PROMISE_TO_PAY",
            {
                "promise_id": "p1",
                "amount_minor": 100_000,
                "currency": "COP",
                "promised_date": "2026-11-05",
                "channel": "voice",
            },
            occurred_at=T0 + timedelta(minutes=23),
        ),
        debt_event(
            "D-1",
            "PAYMENT_RECEIVED",
            {"payment_id": "pay1", "amount_minor": 120_000, "currency": "COP"},
            occurred_at=T0 + timedelta(hours=2),
        ),
        debt_event(
            "D-1",
            "DEBT_CURED",
            {"previous_bucket": "DPD_1_30"},
            occurred_at=T0 + timedelta(hours=2, minutes=1),
            source="recaudo.view",
            event_id=uuid.uuid4(),
        ),
    ]


#: What the story adds up to, over everyone (the ALL member's running total).
EXPECTED_TOTAL = Counters(
    contacts=3,
    calls=1,
    delivered=2,
    failed=1,
    replied=1,
    right_party=1,
    deferred=1,
    suppressed=2,
    promises=1,
    promises_kept=1,
    payments=1,
    cures=1,
    episodes=2,
    contacted_cures=1,
    contacts_to_cure=2,
    recovered_minor={"COP": 120_000},
    suppressions={"QUIET_HOURS": 1, "NO_CONSENT": 1},
)


def publish(settings: Settings, events: list[Envelope]) -> None:
    """One at a time, a few ms apart: the processor reads its three topics in
    message-timestamp order, so distinct timestamps keep the story's order
    across topics (debts opened before they are contacted, as in real life)."""
    with RecaudoProducer(settings) as producer:
        for event in events:
            producer.publish(event)
            time.sleep(0.003)
        producer.flush()


def total_of(dsn: str, dimension: str = "ALL", member: str = "all") -> Counters | None:
    try:
        with psycopg.connect(dsn) as conn:
            rows = read_kpis(conn, "TOTAL", dimension)
    except psycopg.errors.UndefinedTable:
        return None  # the worker applies the migrations when it starts
    found = [r for r in rows if r["member"] == member]
    return counters_of(found[0]) if found else None


def without_conversations(settings: Settings) -> Settings:
    """The story's figures are the pipeline's with conversations off: its
    reply is read as a conversation only when a ``read`` is given."""
    return settings.model_copy(update={"conversations": False})


def run_until_total(
    settings: Settings, expected: Counters, timeout_s: float = 45, read: Reader | None = None
) -> Counters:
    """Run the KPI processor (main thread: it installs signal handlers) until
    Postgres holds ``expected`` as the overall total and the processor has
    consumed every input (so duplicates read last were seen too), or the
    timeout passes; the total as it stands after the processor stopped."""
    if read is None:
        settings = without_conversations(settings)
    processor = KpiProcessor(settings, commit_interval=0.5, read=read)
    probe = LagProbe(settings)

    def caught_up() -> bool:
        groups = {g.group: g for g in probe.sample().groups}
        return "kpis" in groups and groups["kpis"].lag == 0

    def watch() -> None:
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if total_of(settings.database_dsn()) == expected and caught_up():
                    return
                time.sleep(0.3)
        finally:
            processor.stop()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        processor.run()
    finally:
        watcher.join()
        probe.close()
    return total_of(settings.database_dsn()) or Counters()
