"""The CLI as a user runs it: a real process against the real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recaudo.kafka.serde import Serde
from recaudo.kafka.topics import CATALOGUE
from recaudo.settings import Settings
from tests.integration.kafka_io import consume_all

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def recaudo(settings: Settings | None, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RECAUDO_")}
    base.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    if settings is not None:
        base["KAFKA_BOOTSTRAP_SERVERS"] = settings.require_bootstrap_servers()
        base["RECAUDO_TOPIC_PREFIX"] = settings.topic_prefix
        base["RECAUDO_TOPIC_PARTITIONS"] = str(settings.topic_partitions)
        base["RECAUDO_STATE_DIR"] = str(settings.state_dir)
    base.update(env)
    return subprocess.run(
        [sys.executable, "-m", "recaudo", *args],
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_explains_every_command() -> None:
    out = recaudo(None, "--help").stdout
    for command in ("up", "down", "status", "publish", "topics", "debtor", "streams", "settings"):
        assert command in out


def test_topics_create_then_again(kafka_settings: Settings) -> None:
    first = recaudo(kafka_settings, "topics", "create")
    assert first.returncode == 0, first.stderr
    assert f"created {len(CATALOGUE)} topic(s)" in first.stdout
    again = recaudo(kafka_settings, "topics", "create")
    assert "created 0 topic(s)" in again.stdout


def test_publish_example_lands_every_event(topics_ready: Settings) -> None:
    result = recaudo(topics_ready, "publish", str(EXAMPLES / "portfolio.jsonl"))
    assert result.returncode == 0, result.stderr
    assert "published 14 event(s); 0 invalid" in result.stdout
    serde = Serde(topics_ready)
    events = consume_all(topics_ready, serde.topics.debt_events, expected=11)
    profiles = consume_all(topics_ready, serde.topics.debtor_profiles, expected=3)
    assert len(events) == 11 and len(profiles) == 3
    ids = {str(serde.deserialize(serde.topics.debt_events, m.value()).event_id) for m in events}
    expected_ids = {
        json.loads(line)["event_id"]
        for line in (EXAMPLES / "portfolio.jsonl").read_text().splitlines()
        if line.startswith("{") and '"record"' not in line
    }
    assert ids == expected_ids


def test_publish_reports_bad_rows_and_sends_good_ones(
    topics_ready: Settings, tmp_path: Path
) -> None:
    good = (EXAMPLES / "portfolio.jsonl").read_text().splitlines()[5]
    bad = good.replace('"amount_minor": 25000000', '"amount_minor": -1')
    file = tmp_path / "mixed.jsonl"
    file.write_text("\n".join([good, "not json", bad]) + "\n")
    result = recaudo(topics_ready, "publish", str(file))
    assert result.returncode == 1
    assert "published 1 event(s); 2 invalid row(s) skipped" in result.stdout
    assert f"{file}:line 2: not valid JSON" in result.stderr
    assert f"{file}:line 3: payload.amount_minor" in result.stderr
    assert len(consume_all(topics_ready, f"{topics_ready.topic_prefix}.debt-events", 1)) == 1


def test_publish_without_a_broker_says_what_to_do(tmp_path: Path) -> None:
    result = recaudo(
        None, "publish", str(EXAMPLES / "portfolio.jsonl"), RECAUDO_STATE_DIR=str(tmp_path)
    )
    assert result.returncode != 0
    assert "recaudo up" in result.stderr and "KAFKA_BOOTSTRAP_SERVERS" in result.stderr


def test_settings_masks_secrets(tmp_path: Path) -> None:
    result = recaudo(
        None,
        "settings",
        RECAUDO_STATE_DIR=str(tmp_path),
        RECAUDO_KAFKA_SASL_PASSWORD="hunter2",
        DATABASE_URL="postgresql://u:s3cret@db/x",
    )
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout and "s3cret" not in result.stdout
    assert json.loads(result.stdout)["database_url"] == "postgresql://u:***@db/x"
