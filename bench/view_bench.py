"""Debtor-view throughput: recaudo's view processor against the same work
written as textbook quixstreams and faust-streaming apps, on the same events,
the same broker, in the same run.

    python -m bench.view_bench --events 200000 --debtors 10000

1. generates N debt events over K debtors (recaudo.demo.portfolio) and publishes
   them as Confluent-framed Avro to recaudo's debt-events topic, and the same
   bytes to a topic of their own for the baselines (recaudo writes its derived
   events back to its input topic, the baselines to an output topic);
2. runs recaudo's view processor (streams/debtor_view.py: compact state,
   derived events, coalesced snapshots to the debtor-view topic);
3. runs the textbook quixstreams app: per event, state get, recaudo's fold and
   outputs the plain way (bench/equal_work.py), state set, the snapshot and
   the derived events out with ``to_topic``;
4. runs the same work as a textbook faust-streaming agent with a Table
   (bench/faust_view.py), if faust-streaming is installed;
5. runs quixstreams' floor: the same topic read as raw bytes, no
   deserialising, no state, no output (what any quixstreams app pays before
   doing anything);
6. prints sustained events/s of each (from its first event to its last, so
   consumer-group joins are not counted), the ratios, and the state bytes per
   debtor of recaudo's view.

The textbook apps write a snapshot per event; recaudo writes one per changed
debtor per checkpoint (``--commit-interval``), which is part of its design,
not of its speed layers.

Uses the embedded Tansu broker unless KAFKA_BOOTSTRAP_SERVERS is set.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bench.equal_work import fold as equal_work_fold
from bench.harness import bench_settings
from recaudo.contracts.records import DebtEvent
from recaudo.demo.portfolio import generate
from recaudo.embedded.quirks import consumer_overrides
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings


class Meter:
    """Counts processed messages; stops the app when all ``expected`` have
    been seen. The rate is of ``inputs`` (default: all of them) over the time
    from the first message to the last."""

    def __init__(self, expected: int, stop: Callable[[], None], inputs: int | None = None) -> None:
        self.expected = expected
        self.inputs = expected if inputs is None else inputs
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self._stop = stop

    def __call__(self, *_: Any) -> None:
        now = time.perf_counter()
        if not self.count:
            self.first = now
        self.count += 1
        self.last = now
        if self.count == self.expected:
            threading.Timer(0.2, self._stop).start()

    @property
    def rate(self) -> float:
        return (self.inputs - 1) / (self.last - self.first) if self.count > 1 else 0.0


def debt_events(n_events: int, n_debtors: int) -> list[DebtEvent]:
    days = max(2, n_events // n_debtors)
    out = [e for e in generate(n_debtors, days=days, seed=11) if isinstance(e, DebtEvent)]
    return out[:n_events]


def publish(settings: Settings, events: list[DebtEvent], baseline_topic: str) -> None:
    with RecaudoProducer(settings) as producer:
        for event in events:
            producer.publish(event)
    serde = Serde(settings)
    topic = serde.topics.debt_events
    # Uncompressed: the faust baseline's client (aiokafka) has no lz4 codec here.
    raw = Producer(settings.producer_config(**{"compression.type": "none"}))
    for event in events:
        value = serde.serialize(topic, event)
        raw.produce(baseline_topic, key=event.debtor_id.encode(), value=value)
        raw.poll(0)
    raw.flush(60)


def run_recaudo(settings: Settings, events: int, derived: int, commit_interval: float) -> Meter:
    from streams.debtor_view import DebtorViewProcessor

    holder: dict[str, DebtorViewProcessor] = {}
    # The view reads back the derived events it writes to the same topic:
    # it is done when it has read those too, but only the debt events count.
    meter = Meter(events + derived, lambda: holder["p"].stop(), inputs=events)
    holder["p"] = DebtorViewProcessor(
        settings,
        group=f"bench-recaudo-{uuid.uuid4().hex[:6]}",
        on_processed=meter,
        commit_interval=commit_interval,
        # The view alone, as the baselines: orchestration has its own benchmark.
        orchestrate=False,
        timers=False,
        # Its snapshots built here too, as the textbook apps build theirs.
        snapshots="inline",
    )
    guard = threading.Timer(900, holder["p"].stop)
    guard.start()
    holder["p"].run()
    guard.cancel()
    return meter


def run_textbook_quix(
    settings: Settings, topic: str, out_topic: str, expected: int, *, floor: bool = False
) -> Meter:
    """The textbook app, or with ``floor`` the bare read of the same topic."""
    from quixstreams import Application
    from quixstreams.models import TopicConfig

    state_dir = tempfile.mkdtemp(prefix="textbookqx")
    group = f"bench-textbook-{uuid.uuid4().hex[:6]}"
    app = Application(
        broker_address=settings.require_bootstrap_servers(),
        consumer_group=group,
        auto_offset_reset="earliest",
        commit_interval=1.0,
        consumer_extra_config=consumer_overrides(group),
        state_dir=state_dir,
        loglevel="WARNING",
    )
    meter = Meter(expected, app.stop)
    config = TopicConfig(
        num_partitions=settings.topic_partitions,
        replication_factor=1,
        extra_config={"retention.ms": "86400000", "cleanup.policy": "delete"},
    )
    source = app.topic(topic, value_deserializer="bytes", config=config)
    if floor:
        app.dataframe(source).update(lambda _v: meter())
    else:
        views = app.topic(f"{out_topic}-views", value_serializer="bytes", config=config)
        derived = app.topic(f"{out_topic}-derived", value_serializer="bytes", config=config)

        def fold(value: bytes, state: Any) -> dict[str, Any]:
            outputs = equal_work_fold(state.get("view"), value)
            state.set("view", outputs.state)
            meter()
            return {"snapshot": outputs.snapshot, "derived": outputs.derived}

        sdf = app.dataframe(source).apply(fold, stateful=True)
        sdf.apply(lambda out: out["snapshot"]).to_topic(views)
        sdf.apply(lambda out: out["derived"], expand=True).to_topic(derived)
    guard = threading.Timer(900, app.stop)
    guard.start()
    app.run()
    guard.cancel()
    shutil.rmtree(state_dir, ignore_errors=True)
    return meter


def run_faust(bootstrap: str, topic: str, expected: int, partitions: int) -> float | None:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.faust_view", bootstrap, topic, str(expected)],
            capture_output=True,
            text=True,
            timeout=1800,
            env={**os.environ, "BENCH_PARTITIONS": str(partitions)},
        )
    except subprocess.TimeoutExpired:
        print("faust: did not finish within 30 min")
        return None
    # faust routes a worker's stdout into its log, which goes to stderr.
    found = re.search(r"processed (\d+) in ([\d.]+) s", proc.stdout + proc.stderr)
    if found:
        return (int(found.group(1)) - 1) / float(found.group(2))
    print("faust failed:", (proc.stderr or proc.stdout)[-2000:])
    return None


def folded_in_memory(events: list[DebtEvent]) -> tuple[float, int]:
    """(state bytes per debtor, derived events) of the view of ``events``."""
    from recaudo.view import DebtorState, apply

    states: dict[str, DebtorState | None] = {}
    derived = 0
    for event in events:
        result = apply(states.get(event.debtor_id), event)
        states[event.debtor_id] = result.state
        derived += len(result.derived)
    sizes = [len(s.encode()) for s in states.values() if s is not None]
    return sum(sizes) / len(sizes), derived


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--debtors", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--skip-faust", action="store_true")
    parser.add_argument(
        "--only-recaudo",
        action="store_true",
        help="run recaudo's view processor alone (to compare it with itself: bench.layers)",
    )
    parser.add_argument(
        "--commit-interval",
        type=float,
        default=5.0,
        help="recaudo view checkpoint interval, s (snapshots coalesce over it)",
    )
    args = parser.parse_args()

    with bench_settings("vb", args.partitions) as settings:
        bootstrap = settings.require_bootstrap_servers()
        baseline_topic = f"{settings.topic_prefix}.debt-events-baseline"
        admin = AdminClient(settings.kafka_config())
        futures = admin.create_topics(
            [
                NewTopic(
                    t,
                    args.partitions,
                    1,
                    config={"retention.ms": "86400000", "cleanup.policy": "delete"},
                )
                for t in (
                    baseline_topic,
                    f"{baseline_topic}-out-views",
                    f"{baseline_topic}-out-derived",
                )
            ]
        )
        for future in futures.values():
            future.result()

        t0 = time.perf_counter()
        events = debt_events(args.events, args.debtors)
        print(
            f"generated {len(events):,} debt events over {args.debtors:,} debtors "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        t0 = time.perf_counter()
        publish(settings, events, baseline_topic)
        print(f"published them (twice) in {time.perf_counter() - t0:.1f} s")

        size, derived = folded_in_memory(events)
        print(f"the view derives {derived:,} events from them (it reads them back too)")
        recaudo = run_recaudo(settings, len(events), derived, args.commit_interval)
        print(f"recaudo view:          {recaudo.rate:10,.0f} events/s")
        if args.only_recaudo:
            print(f"state per debtor:     {size:10.0f} bytes")
            return
        textbook = run_textbook_quix(settings, baseline_topic, f"{baseline_topic}-out", len(events))
        print(f"textbook quixstreams: {textbook.rate:10,.0f} events/s")
        faust_rate = (
            None
            if args.skip_faust
            else run_faust(bootstrap, baseline_topic, len(events), args.partitions)
        )
        if faust_rate:
            print(f"textbook faust:       {faust_rate:10,.0f} events/s")
        floor = run_textbook_quix(settings, baseline_topic, "", len(events), floor=True)
        print(f"quixstreams floor:    {floor.rate:10,.0f} events/s  (read only, no work)")
        print()
        print(f"recaudo / textbook quixstreams: {recaudo.rate / textbook.rate:6.2f}x")
        if faust_rate:
            print(f"recaudo / textbook faust:       {recaudo.rate / faust_rate:6.2f}x")
        print(f"textbook quixstreams / floor:   {textbook.rate / floor.rate:6.2f}x")
        print(f"state per debtor:               {size:6.0f} bytes (target <= 2048)")


if __name__ == "__main__":
    main()
