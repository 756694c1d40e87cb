"""`recaudo publish` of a file as a bank's spreadsheet saves it, against the
real broker: every valid row lands, the rejected ones are kept beside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from recaudo.contracts.records import DebtEvent
from recaudo.embedded.partition_end import FetchedEnds
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings
from tests.integration.kafka_io import consume_all

pytestmark = pytest.mark.integration

HEADER = (
    "debtor_id;account_id;type;occurred_at;payment_id;amount;currency;"
    "days_past_due;balance;instalment_number;due_date;dispute_id;reason"
)
VALID = [
    "D-ES-1;ACC-1;PAYMENT_RECEIVED;2026-11-03T10:00:00Z;P1;1.234,56;EUR;;;;;;",
    "D-ES-1;ACC-1;DAYS_PAST_DUE_UPDATED;2026-11-04T08:00:00Z;;;EUR;12;2.500,00;;;;",
    "D-CO-7;CARD-7;INSTALMENT_DUE;2026-11-05T08:00:00Z;;250.000;COP;;;3;2026-11-08;;",
    "D-CO-7;CARD-7;DISPUTE_OPENED;2026-11-06T08:00:00Z;;;;;;;;DS-1;importe no reconocido",
    "D-BR-2;AUTO-2;PAYMENT_RECEIVED;2026-11-07T10:00:00Z;P9;99,9;BRL;;;;;;",
]
INVALID = [
    "D-ES-1;ACC-1;PAYMENT_RECEIVED;ayer;P2;10;EUR;;;;;;",
    "D-ES-1;ACC-1;BUCKET_CHANGED;2026-11-04T08:00:00Z;;;;;;;;;",
]


def recaudo(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECAUDO_")}
    env["KAFKA_BOOTSTRAP_SERVERS"] = settings.require_bootstrap_servers()
    env["RECAUDO_TOPIC_PREFIX"] = settings.topic_prefix
    env["RECAUDO_TOPIC_PARTITIONS"] = str(settings.topic_partitions)
    env["RECAUDO_STATE_DIR"] = str(settings.state_dir)
    return subprocess.run(
        [sys.executable, "-m", "recaudo", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def messages_in(settings: Settings, topic: str) -> int:
    """Every message the topic holds: the sum of its partitions' true ends
    (read from a fetch: the embedded broker lists a batch's base offset)."""
    consumer = Consumer({**settings.kafka_config(), "group.id": "watermarks"})
    ends = FetchedEnds(settings.kafka_config())
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        listed = {
            (topic, p): consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in meta.partitions
        }
        return sum(ends.ends(listed).values())
    finally:
        ends.close()
        consumer.close()


def test_excel_semicolon_file_publishes_every_valid_row_and_keeps_the_rest(
    topics_ready: Settings, tmp_path: Path
) -> None:
    typo = tmp_path / "typo.csv"
    typo.write_bytes(("\ufeff" + HEADER.replace("balance", "balanse") + "\r\n").encode())
    typo.write_bytes(typo.read_bytes() + "\r\n".join(VALID).encode() + b"\r\n")
    refused = recaudo(topics_ready, "publish", str(typo))
    assert refused.returncode == 1
    assert "unknown column 'balanse' (did you mean 'balance'?)" in refused.stderr
    debt_events = f"{topics_ready.topic_prefix}.debt-events"
    assert messages_in(topics_ready, debt_events) == 0

    file = tmp_path / "cobranza.csv"
    lines = [HEADER, VALID[0], INVALID[0], *VALID[1:3], INVALID[1], *VALID[3:]]
    file.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    result = recaudo(topics_ready, "publish", str(file))

    assert result.returncode == 1, result.stderr
    assert "CSV, semicolon-separated, decimal commas, UTF-8 with BOM" in result.stderr
    rejects = tmp_path / "cobranza.csv.rejects.jsonl"
    assert (
        f"published 5 event(s); 2 invalid row(s) skipped, kept with their line and reason "
        f"in {rejects}" in result.stdout
    )
    assert messages_in(topics_ready, debt_events) == len(VALID)
    serde = Serde(topics_ready)
    events = [
        serde.deserialize(debt_events, m.value())
        for m in consume_all(topics_ready, debt_events, expected=len(VALID))
    ]
    assert all(isinstance(e, DebtEvent) for e in events)
    amounts = {
        (e.debtor_id, e.type): getattr(e.payload, "amount_minor", None)
        or getattr(e.payload, "balance_minor", None)
        for e in events
        if isinstance(e, DebtEvent)
    }
    assert amounts == {
        ("D-ES-1", "PAYMENT_RECEIVED"): 123456,
        ("D-ES-1", "DAYS_PAST_DUE_UPDATED"): 250000,
        ("D-CO-7", "INSTALMENT_DUE"): 25000000,
        ("D-CO-7", "DISPUTE_OPENED"): None,
        ("D-BR-2", "PAYMENT_RECEIVED"): 9990,
    }
    kept = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert [(k["line"], k["text"]) for k in kept] == [(3, INVALID[0]), (6, INVALID[1])]
    assert "occurred_at" in kept[0]["reason"] and "derived by recaudo" in kept[1]["reason"]
