"""The README's examples loaded into the pipeline weeks after they happened,
on the real broker: nobody is contacted about the past.

The files are published with the README's own ``recaudo publish`` commands
(history, so ``--backfill``), and again without the flag, to a view and
orchestrator whose clock reads 2026-12-07 (weeks after the examples' events).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recaudo.contracts.records import ContactDecision, DebtEvent, DebtorView
from recaudo.kafka.serde import Serde
from recaudo.orchestration import FixedClock
from recaudo.settings import Settings
from streams.debtor_view import DebtorViewProcessor
from tests.integration.kafka_io import no_timer_due, read_to_end
from tests.integration.streams.test_orchestration import read, run_with, view_caught_up, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
#: Monday 2026-12-07, 10:00 in Bogota and Chicago, 12:00 in Sao Paulo
NOW = datetime(2026, 12, 7, 15, tzinfo=UTC)
#: each debtor's latest event time in the examples (the CSV's rows)
LAST_EVENT = {
    "D-CO-0001": datetime(2026, 11, 18, 15, 20, tzinfo=UTC),
    "D-US-0001": datetime(2026, 11, 19, 16, tzinfo=UTC),
    "D-BR-0001": datetime(2026, 11, 21, 8, tzinfo=UTC),
}


def readme_publish_commands() -> list[list[str]]:
    """The quick start's ``recaudo publish`` lines for examples/, as written."""
    found = []
    for line in (ROOT / "README.md").read_text().splitlines():
        match = re.match(r"\.venv/bin/recaudo (publish [^#]*examples/\S+)", line)
        if match:
            found.append(shlex.split(match.group(1)))
    assert found, "the README's quick start no longer publishes examples/"
    return found


def recaudo(settings: Settings, args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECAUDO_")}
    env["KAFKA_BOOTSTRAP_SERVERS"] = settings.require_bootstrap_servers()
    env["RECAUDO_TOPIC_PREFIX"] = settings.topic_prefix
    env["RECAUDO_TOPIC_PARTITIONS"] = str(settings.topic_partitions)
    env["RECAUDO_STATE_DIR"] = str(settings.state_dir)
    done = subprocess.run(
        [sys.executable, "-m", "recaudo", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def latest_views(settings: Settings, serde: Serde) -> dict[str, DebtorView]:
    topic = serde.topics.debtor_view
    views: dict[str, DebtorView] = {}
    for m in read_to_end(settings, topic):
        view = serde.deserialize(topic, m.value())
        assert isinstance(view, DebtorView)
        held = views.get(view.debtor_id)
        if held is None or view.version >= held.version:
            views[view.debtor_id] = view
    return views


def load_examples(settings: Settings, backfill: bool) -> tuple[DebtorViewProcessor, Counter[str]]:
    """Publish the examples as the README says (without ``--backfill`` if
    told), with the view and orchestrator running at :data:`NOW`, until every
    event is in the views and the timer has woken each debtor it scheduled."""
    serde = Serde(settings)
    processed: Counter[str] = Counter()
    processor = DebtorViewProcessor(
        settings,
        clock=FixedClock(NOW),
        snapshots="inline",  # to the debtor-view topic, read below
        on_processed=lambda topic, _p, _o: processed.update([topic]),
    )
    commands = readme_publish_commands()
    assert all("--backfill" in c for c in commands)

    def all_folded_in() -> bool:
        views = latest_views(settings, serde)
        return all(d in views and views[d].occurred_at >= when for d, when in LAST_EVENT.items())

    def woken() -> bool:
        """No debtor's latest timer is due: each due one was woken and decided."""
        return no_timer_due(settings, NOW)

    def scenario() -> None:
        for command in commands:
            recaudo(settings, command if backfill else [a for a in command if a != "--backfill"])
        assert wait_until(all_folded_in, 90), latest_views(settings, serde)
        assert wait_until(woken, 60), processed
        view_caught_up(settings, serde)  # and all decided on what it read

    run_with(processor, scenario)
    return processor, processed


def test_the_readme_history_load_contacts_nobody(topics_ready: Settings) -> None:
    settings = topics_ready
    serde = Serde(settings)
    processor, _ = load_examples(settings, backfill=True)
    dispatches, decisions = read(settings, serde)
    assert dispatches == [] and processor.sink.dispatches_written == 0
    # History is folded in, not decided on: no decision at all.
    assert decisions == [] and processor.sink.decisions_written == 0
    # The view knows everything the files said.
    views = latest_views(settings, serde)
    assert [d.status for d in views["D-BR-0001"].disputes] == ["OPEN"]
    assert views["D-US-0001"].last_payment_minor == 85000


def test_the_examples_without_backfill_contact_nobody_about_the_past(
    topics_ready: Settings,
) -> None:
    settings = topics_ready
    serde = Serde(settings)
    load_examples(settings, backfill=False)
    dispatches, decisions = read(settings, serde)
    events_topic = serde.topics.debt_events
    happened = {
        str(e.event_id): e.occurred_at
        for m in read_to_end(settings, events_topic)
        if isinstance(e := serde.deserialize(events_topic, m.value()), DebtEvent)
    }
    by_dispatch: dict[str, ContactDecision] = {
        x.dispatch_id: x for x in decisions if x.dispatch_id is not None
    }
    for command in dispatches:
        decided = by_dispatch[command.dispatch_id]
        # No reminder for a due date already past.
        assert command.trigger != "instalment_due", command.variables
        # Nothing answers a trigger older than the strategy's stale_after.
        assert NOW - happened[str(decided.trigger_event_id)] <= timedelta(days=3)
    # D-US-0001 promised to pay and paid, D-BR-0001 disputed: neither is contacted.
    assert not [c for c in dispatches if c.debtor_id in ("D-US-0001", "D-BR-0001")]
    stale = Counter(
        h.rule_id for x in decisions for h in x.rules_fired if h.reason_code == "STALE_TRIGGER"
    )
    assert stale["orchestration.stale.due_date_passed"] == 1  # D-CO-0001's 11-05 instalment
    assert stale["orchestration.stale.too_old"] >= 3
