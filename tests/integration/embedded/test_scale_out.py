"""`recaudo up --workers 2` against one of each: two debtor-view workers and
two replicas of every connector, splitting the partitions in their consumer
groups, end with the same debtor views and the same dispatches as one of
each, and nothing is dispatched or sent twice.

Each pipeline is a process running :func:`run_up` (what `recaudo up` runs)
with the workers of :func:`worker_specs`, on the session broker and Postgres,
with a topic prefix, a database and a state directory of its own; both run at
once, on the same seeded portfolio.

Why two runs can be compared at all: the clock is held still at a working
hour (a run lasts microseconds of simulated time), so every decision is taken
at the same instant, no simulated delivery, read or reply comes due, and only
timers already past fire; the simulator draws each dispatch's fate from its
dispatch id alone; and the whole portfolio is on the topics before a worker
starts, so a debtor's inputs are all read (in timestamp order) before any
response to what they caused.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from pydantic import SecretStr

from recaudo.contracts.records import (
    CHANNELS,
    ChannelResponse,
    ContactDecision,
    DebtorView,
    DispatchCommand,
    Timer,
)
from recaudo.db.view_store import all_views
from recaudo.demo.portfolio import generate
from recaudo.embedded.broker import EmbeddedBroker
from recaudo.embedded.postgres import EmbeddedPostgres
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.kafka.topics_admin import ensure_topics
from recaudo.orchestration import strategy as strategy_module
from recaudo.settings import Settings, env_for_children
from tests.integration.fixtures import create_database
from tests.integration.kafka_io import caught_up, no_timer_due, read_to_end, worker_groups

pytestmark = pytest.mark.integration

DEBTORS = 60
PARTITIONS = 3
# A Wednesday, 17:00 UTC: between 09:00 and 14:00 in every time zone of the
# portfolio, and after its last event (its month ends on 1 December).
ORIGIN = datetime(2026, 12, 2, 17, tzinfo=UTC)
#: Simulated seconds per real second: a still clock.
STILL = 1e-6
SETTLE_TIMEOUT_S = 150.0
SEND_OUTCOMES = frozenset({"ACCEPTED", "BOUNCED", "FAILED", "EXPIRED"})
FAILED_SENDS = frozenset({"BOUNCED", "FAILED", "EXPIRED"})
#: A consumer's log line naming its partitions: bare numbers, or (topic, number) pairs.
ASSIGNED = re.compile(r"assigned partitions \[((?:[\d, ]|\('[^']*', \d+\))*)\]")
NUMBER = re.compile(r"(\d+)\)?(?:,|$)")

# `recaudo up --workers N`, less the KPI workers and the dashboard: they only
# read what this test compares, and would only slow it down.
UP = """
import sys
from recaudo.embedded.runtime import run_up
from recaudo.settings import Settings
from recaudo.embedded.workers import worker_specs

specs = [
    spec
    for spec in worker_specs(int(sys.argv[1]), dashboard=False)
    if not spec.name.startswith("streams-kpis")
]
sys.exit(run_up(Settings(), specs, progress=lambda line: print(line, flush=True)))
"""


@dataclass
class Outcome:
    #: final views in Postgres, and the latest of each debtor on the topic
    views: dict[str, DebtorView] = field(default_factory=dict)
    topic_views: dict[str, DebtorView] = field(default_factory=dict)
    #: every record of the dispatch topics, responses and decisions, repeats kept
    dispatches: list[DispatchCommand] = field(default_factory=list)
    responses: list[ChannelResponse] = field(default_factory=list)
    decisions: list[ContactDecision] = field(default_factory=list)
    woken: set[str] = field(default_factory=set)
    #: process name -> the partitions it was given
    partitions: dict[str, set[int]] = field(default_factory=dict)
    settled_after_s: float = 0.0
    #: the end of what `run_up` printed (workers that exited, restarts)
    log: str = ""

    def order_sensitive(self) -> set[str]:
        """Debtors whose outcome depends on the order of their inputs.

        After the first pass over the portfolio, what can still start or
        redirect a contact reaches a debtor on its own time: a failed send
        (its step falls back to the next channel) and a timer's wake-up (it
        may start a cadence). With two of them, which is read first decides,
        the same with one worker as with two: say an e-mail bounces and a
        call fails for two different steps; the step that hears first falls
        back to the other's channel while it still looks valid, or skips it.
        """
        failures = Counter(r.debtor_id for r in self.responses if r.status in FAILED_SENDS)
        return {d for d in self.views if failures[d] + (d in self.woken) >= 2}


class Reader:
    """The compared topics, read from the start as they fill (partition
    assignment, no group: nothing to join)."""

    def __init__(self, settings: Settings, serde: Serde) -> None:
        self.serde = serde
        topics = serde.topics
        names = [
            *(topics.dispatch(c) for c in CHANNELS),
            topics.channel_responses,
            topics.debtor_view,
            topics.contact_decisions,
            topics.wakeups,
        ]
        self.settings, self.names = settings, names
        self.consumer = Consumer(
            {**settings.kafka_config(), "group.id": f"reader-{uuid.uuid4().hex[:8]}"}
        )
        self.consumer.assign(
            [TopicPartition(t, p, OFFSET_BEGINNING) for t in names for p in range(PARTITIONS)]
        )
        self.records: list[Any] = []

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = self.consumer.poll(0.1)
            if msg is None or msg.error() is not None:
                continue
            topic = msg.topic()
            assert topic is not None
            self.records.append(self.serde.deserialize(topic, msg.value()))

    def read_to_end(self) -> None:
        """Every record there is now, read afresh from the beginning."""
        self.records = [
            self.serde.deserialize(m.topic() or "", m.value())
            for m in read_to_end(self.settings, *self.names)
        ]

    def of(self, kind: type[Any]) -> list[Any]:
        return [r for r in self.records if isinstance(r, kind)]

    def close(self) -> None:
        self.consumer.close()


def _strategy_without_staleness(state_dir: Path) -> Path:
    """The default strategy with a month's history still current: this test
    compares how the work splits, and the book's month ends the day before the
    clock (at the default ``stale_after`` most of its triggers are history)."""
    default = (Path(strategy_module.__file__).parent / "default_strategy.toml").read_text()
    assert re.search(r'^stale_after = "3d"$', default, flags=re.M), "default changed: update"
    path = state_dir / "strategy.toml"
    path.write_text(re.sub(r'^stale_after = "3d"$', 'stale_after = "60d"', default, flags=re.M))
    return path


class Pipeline:
    """One `run_up` process with ``replicas`` of each worker, its portfolio
    published before it starts, and a reader of what it produces."""

    def __init__(
        self, broker: EmbeddedBroker, postgres: EmbeddedPostgres, state_dir: Path, replicas: int
    ) -> None:
        self.replicas = replicas
        self.state_dir = state_dir
        self.dsn = create_database(postgres)
        state_dir.mkdir(parents=True, exist_ok=True)
        strategy = _strategy_without_staleness(state_dir)
        settings = Settings(
            strategy_file=strategy,
            kafka_bootstrap_servers=broker.bootstrap_servers,
            embedded_broker=True,
            topic_prefix=f"s{uuid.uuid4().hex[:10]}",
            topic_partitions=PARTITIONS,
            state_dir=state_dir,
            database_url=SecretStr(self.dsn),
            clock_origin=ORIGIN,
            clock_started=time.time(),
            clock_speed=STILL,
        )
        serde = Serde(settings)
        ensure_topics(settings)
        with RecaudoProducer(settings, serde) as producer:
            producer.publish_many(generate(DEBTORS))
        self.settings = settings
        self.groups = worker_groups(settings)
        self.at_rest = 0
        self.reader = Reader(settings, serde)
        self.out: IO[bytes] = (state_dir / "up.out").open("wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", UP, str(replicas)],
            env=env_for_children(settings, RECAUDO_STRATEGY_FILE=str(strategy)),
            stdout=self.out,
            stderr=subprocess.STDOUT,
        )
        self.outcome: Outcome | None = None

    def unsettled(self) -> str | None:
        """What is still missing; None once the pipeline has settled."""
        if self.proc.poll() is not None:
            raise AssertionError(f"run_up exited with {self.proc.returncode}: {self.output()}")
        reader = self.reader
        dispatched = {d.dispatch_id: d.debtor_id for d in reader.of(DispatchCommand)}
        answered = {r.dispatch_id for r in reader.of(ChannelResponse) if r.status in SEND_OUTCOMES}
        if not dispatched:
            return "nothing dispatched"
        if missing := set(dispatched) - answered:
            return f"{len(missing)} of {len(dispatched)} dispatches unanswered"
        with psycopg.connect(self.dsn) as conn:
            views = all_views(conn)
        if len(views) < DEBTORS:
            return f"{len(views)} of {DEBTORS} views in Postgres"
        per_debtor = Counter(dispatched.values())
        behind = [
            d
            for d, v in views.items()
            if sum(c.sent + c.failed for c in v.channels) != per_debtor[d]
        ]
        if behind:
            return f"{len(behind)} views without all their send outcomes"
        # At rest twice in a row: a wake-up on its way shows in between.
        still = no_timer_due(self.settings, ORIGIN) and caught_up(self.settings, self.groups)
        self.at_rest = self.at_rest + 1 if still else 0
        return None if self.at_rest >= 2 else "inputs not all committed, or a timer due"

    def collect(self) -> None:
        """Take the outcome, then stop the pipeline as Ctrl-C would."""
        reader = self.reader
        outcome = Outcome(settled_after_s=time.monotonic() - self.started)
        with psycopg.connect(self.dsn) as conn:
            outcome.views = all_views(conn)
        reader.read_to_end()
        outcome.topic_views = {v.debtor_id: v for v in reader.of(DebtorView)}
        outcome.dispatches = reader.of(DispatchCommand)
        outcome.responses = reader.of(ChannelResponse)
        outcome.decisions = reader.of(ContactDecision)
        outcome.woken = {t.debtor_id for t in reader.of(Timer)}
        self.outcome = outcome
        self.proc.send_signal(signal.SIGTERM)

    def finish(self) -> Outcome:
        code = self.proc.wait(60)
        assert code == 0, self.output()
        assert self.outcome is not None
        self.outcome.partitions = self.assigned_partitions()
        self.outcome.log = self.output()
        return self.outcome

    def assigned_partitions(self) -> dict[str, set[int]]:
        """Each process's partitions: a view worker's from the state stores
        it opened (one directory per partition), a connector's or a view
        publisher's from its last assignment in its log."""
        out: dict[str, set[int]] = {}
        for worker in (self.state_dir / "streams" / "view").iterdir():
            out[worker.name] = {
                int(p.name) for p in worker.rglob("*") if p.is_dir() and p.name.isdigit()
            }
        logs = self.state_dir / "logs"
        for log in [*logs.glob("connector-*.log"), *logs.glob("streams-publisher-*.log")]:
            found = ASSIGNED.findall(log.read_text(errors="replace"))
            out[log.stem] = (
                {int(p) for p in NUMBER.findall(found[-1].replace(" ", ""))} if found else set()
            )
        return out

    def output(self) -> str:
        self.out.flush()
        return (self.state_dir / "up.out").read_text(errors="replace")[-4000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.close()
        self.out.close()


def run_together(pipelines: list[Pipeline]) -> list[Outcome]:
    """Wait for every pipeline to settle; stop each as soon as it has."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    missing = {p.replicas: "not started" for p in pipelines}
    while any(p.outcome is None for p in pipelines):
        if time.monotonic() > deadline:
            raise AssertionError(f"not settled after {SETTLE_TIMEOUT_S:.0f} s: {missing}")
        for p in pipelines:
            if p.outcome is not None:
                continue
            p.reader.poll(0.5)
            state = p.unsettled()
            if state is None:
                p.collect()
                del missing[p.replicas]
            else:
                missing[p.replicas] = state
    return [p.finish() for p in pipelines]


def by_debtor(records: list[Any], debtors: set[str], attr: str) -> set[str]:
    return {getattr(r, attr) for r in records if r.debtor_id in debtors}


def test_two_workers_and_two_replicas_do_what_one_of_each_does(
    broker: EmbeddedBroker, postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    pipelines: list[Pipeline] = []
    try:
        for name, replicas in (("one", 1), ("two", 2)):
            pipelines.append(Pipeline(broker, postgres, tmp_path / name, replicas))
        one, two = run_together(pipelines)
    finally:
        for pipeline in pipelines:
            pipeline.close()

    # The split was real: every worker and replica was given partitions.
    for name in ("streams-view", "streams-publisher", *(f"connector-{c}" for c in CHANNELS)):
        halves = [two.partitions.get(f"{name}-{i}", set()) for i in range(2)]
        assert all(halves), f"{name}: {halves}\n{two.log}"
        assert set.union(*halves) == set(range(PARTITIONS)), f"{name}: {halves}"
        assert one.partitions[f"{name}-0"] == set(range(PARTITIONS))

    for run in (one, two):
        ids = Counter(d.dispatch_id for d in run.dispatches)
        assert len(ids) > DEBTORS  # contacts were made, not a quiet book
        assert ids.most_common(1)[0][1] == 1, "a dispatch_id twice on the dispatch topics"
        # One send outcome per dispatch: no command was handled twice.
        sends = Counter(r.dispatch_id for r in run.responses if r.status in SEND_OUTCOMES)
        assert sends == ids
        assert len(run.views) == DEBTORS
        assert run.topic_views == run.views  # the topic and Postgres agree

    sensitive = one.order_sensitive() | two.order_sensitive()
    print(
        f"settled after {one.settled_after_s:.1f} s (one of each), "
        f"{two.settled_after_s:.1f} s (two of each); "
        f"{len(one.dispatches)} and {len(two.dispatches)} dispatches; "
        f"order-sensitive debtors: {sorted(sensitive)}"
    )
    assert len(sensitive) <= DEBTORS // 10, sensitive
    same = set(one.views) - sensitive
    # Everything else is exactly equal: the views (content, version, the
    # content-derived event id), the dispatch ids, the decision ids.
    assert {d: one.views[d] for d in same} == {d: two.views[d] for d in same}
    assert by_debtor(one.dispatches, same, "dispatch_id") == by_debtor(
        two.dispatches, same, "dispatch_id"
    )
    assert by_debtor(one.decisions, same, "event_id") == by_debtor(two.decisions, same, "event_id")
    # For the order-sensitive few, what their contacts did to the channels
    # (and so the view's version and id) may differ; their debts may not.
    contacts = {"channels", "version", "event_id"}
    for d in sensitive:
        assert one.views[d].model_dump(exclude=contacts) == two.views[d].model_dump(
            exclude=contacts
        ), d
