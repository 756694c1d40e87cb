"""The KPI processor on the real broker and real Postgres."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from recaudo.contracts.records import KpiWindow
from recaudo.db.kpi_store import counters_of, read_kpis
from recaudo.kafka.serde import Serde
from recaudo.kpis import Counters
from recaudo.settings import Settings
from tests.integration.kafka_io import consume_all
from tests.integration.streams.kpi_scenario import (
    EXPECTED_TOTAL,
    publish,
    run_until_total,
    story,
)

pytestmark = pytest.mark.integration


def test_kpis_from_a_known_story(pg_settings: Settings) -> None:
    publish(pg_settings, story())
    assert run_until_total(pg_settings, EXPECTED_TOTAL) == EXPECTED_TOTAL

    with psycopg.connect(pg_settings.database_dsn()) as conn:
        totals = {(r["dimension"], r["member"]): counters_of(r) for r in read_kpis(conn)}
        hours = read_kpis(conn, "HOUR", "ALL")
        rates = conn.execute(
            "SELECT delivery_rate, right_party_rate, reply_rate, promise_kept_rate, cure_rate,"
            " contacts_per_cure FROM kpi_rates WHERE period = 'TOTAL' AND dimension = 'ALL'"
        ).fetchone()

    # Per channel: the sms dispatch was delivered and replied to, the email bounced.
    sms, email, voice = (totals[("CHANNEL", c)] for c in ("sms", "email", "voice"))
    assert (sms.contacts, sms.delivered, sms.replied, sms.suppressed) == (1, 1, 1, 1)
    assert (email.contacts, email.delivered, email.failed) == (1, 0, 1)
    assert (voice.calls, voice.right_party, voice.promises, voice.suppressed) == (1, 1, 1, 1)
    assert voice.suppressions == {"NO_CONSENT": 1}
    # The payment and the cure go to the last contact (voice, arm early/A).
    assert voice.recovered_minor == {"COP": 120_000} and voice.cures == 1
    # Per arm: strategy/arm, from the decisions.
    arm_a, arm_b = totals[("ARM", "early/A")], totals[("ARM", "early/B")]
    assert (arm_a.contacts, arm_a.deferred, arm_a.contacted_cures, arm_a.promises_kept) == (
        2,
        1,
        1,
        1,
    )
    assert (arm_b.contacts, arm_b.failed) == (1, 1)
    # Per bucket: from the debtors' debt events (decisions carry none).
    assert totals[("BUCKET", "DPD_1_30")].contacts == 2
    assert totals[("BUCKET", "DPD_31_60")].contacts == 1
    assert totals[("BUCKET", "DPD_1_30")].cures == 1

    # Hourly event-time windows add up to the running total.
    assert len(hours) == 2
    summed = Counters()
    for row in hours:
        summed.add(counters_of(row))
    assert summed == EXPECTED_TOTAL
    assert [float(r) for r in rates] == [0.6667, 1.0, 0.5, 1.0, 0.5, 2.0]

    # Every changed window is on the kpis topic too, keyed by member.
    serde = Serde(pg_settings)
    messages = consume_all(pg_settings, serde.topics.kpis, expected=len(totals) + 1)
    latest: dict[tuple[str, str, str, object], KpiWindow] = {}
    for message in messages:
        record = serde.deserialize(serde.topics.kpis, message.value())
        assert isinstance(record, KpiWindow)
        assert message.key() == f"{record.dimension}:{record.member}".encode()
        ident = (record.dimension, record.member, record.period, record.window_start)
        if ident not in latest or record.revision > latest[ident].revision:
            latest[ident] = record
    overall = latest[("ALL", "all", "TOTAL", datetime(1970, 1, 1, tzinfo=UTC))]
    assert (overall.contacts, overall.delivered, overall.recovered_minor) == (
        3,
        2,
        {"COP": 120_000},
    )
