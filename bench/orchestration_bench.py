"""End-to-end event -> dispatch latency of the view + orchestrator processor.

    python -m bench.orchestration_bench --rate 5000 --seconds 30

1. publishes a profile and an open debt for each of K debtors and lets the
   processor fold them in;
2. a producer thread then publishes debt events at a fixed rate: most are
   days-past-due updates (view work, no contact), one in ``--trigger-every`` is a
   missed payment that must become a dispatch;
3. a reader assigned to the dispatch topics (no group join) stamps each
   dispatch as it arrives; latency = arrival - the trigger's send time, both
   on this machine's monotonic clock;
4. prints the achieved input rate and p50 / p95 / p99 / max latency.

The processor runs in a process of its own, as in production (the load and
the reader would otherwise share its interpreter lock), with its production
checkpoint interval, so the figures include the pauses checkpoints cause.
With ``--snapshots publisher`` (the default, as ``recaudo up`` runs it) the view
publisher runs in a third process and builds the debtor snapshots from the
states the processor hands on; ``--snapshots inline`` has the processor build
them itself, for the comparison on the same machine.
Uses the embedded Tansu broker unless KAFKA_BOOTSTRAP_SERVERS is set.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from ctypes import c_longlong
from datetime import UTC, date, datetime, timedelta
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

from bench.cpu import CpuMeter
from bench.harness import bench_environment, read_dispatch_arrivals
from recaudo.contracts.records import DebtEvent, DebtorProfile, Event
from recaudo.kafka.producer import RecaudoProducer
from recaudo.orchestration import FixedClock
from recaudo.settings import Settings, ViewSnapshots
from streams.debtor_view import DebtorViewProcessor
from streams.view_publisher import ViewPublisher

# A Wednesday, 11:00 in New York: inside Regulation F's hours, so every trigger
# is a dispatch and the figure is the pipeline's, not the policy's.
NOW = datetime(2026, 11, 18, 16, tzinfo=UTC)


def setup_events(debtors: int) -> list[Event]:
    out: list[Event] = []
    for i in range(debtors):
        d = f"B-{i:06d}"
        out.append(
            DebtorProfile(
                occurred_at=NOW - timedelta(days=60),
                source="crm",
                debtor_id=d,
                preferred_language="en",
                time_zone="America/New_York",
                country="US",
                jurisdiction="us_reg_f",
                contact_points=[
                    {"channel": "sms", "address": "+12125550100", "consent": True},
                    {"channel": "email", "address": f"b{i}@example.com", "consent": True},
                ],
            )
        )
        out.append(
            DebtEvent(
                occurred_at=NOW - timedelta(days=40),
                source="core-banking",
                debtor_id=d,
                account_id=f"{d}-1",
                type="DEBT_OPENED",
                payload={
                    "principal_minor": 500_000,
                    "currency": "USD",
                    "balance_minor": 400_000,
                    "product": "card",
                    "instalment_minor": 20_000,
                    "next_due_date": date(2026, 11, 17),
                },
            )
        )
    return out


Encoded = tuple[str, str, bytes, list[tuple[str, bytes]]]


def load(
    settings: Settings,
    debtors: int,
    rate: int,
    seconds: float,
    every: int,
    sent: dict[str, float],
    on_start: Callable[[], None] = lambda: None,
) -> float:
    """Sends the load at ``rate``, stamping each trigger's send time; returns
    when the first event was sent (monotonic clock).

    Every event is built and encoded before the clock starts: the load
    generator shares the machine with the broker and the processor, and
    should take as little of it as it can."""
    rng = random.Random(7)
    order = list(range(debtors))
    rng.shuffle(order)
    triggered = 0
    interval = 1.0 / rate
    with RecaudoProducer(settings) as producer:
        plan: list[tuple[str | None, Encoded]] = []
        for n in range(int(rate * seconds)):
            if n % every == 0 and triggered < debtors:
                d = f"B-{order[triggered]:06d}"
                triggered += 1
                event = DebtEvent(
                    occurred_at=NOW - timedelta(minutes=1),
                    source="core-banking",
                    debtor_id=d,
                    account_id=f"{d}-1",
                    type="PAYMENT_MISSED",
                    payload={
                        "instalment_number": 2,
                        "amount_minor": 20_000,
                        "currency": "USD",
                        "due_date": date(2026, 11, 17),
                    },
                )
                plan.append((d, producer.encode(event)))
            else:
                plan.append((None, producer.encode(days_past_due(rng, debtors))))
        # Connected, with its producer id, before the clock starts: else the
        # first triggers carry the producer's start-up.
        producer.publish(days_past_due(rng, debtors))
        producer.flush()
        on_start()
        start = time.monotonic()
        for n, (trigger, (topic, key, value, headers)) in enumerate(plan):
            due = start + n * interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if trigger is not None:
                sent[trigger] = time.monotonic()
            producer.produce_raw(topic, key.encode(), value, headers)
    return start


def days_past_due(rng: random.Random, debtors: int) -> DebtEvent:
    """View work that leads to no contact."""
    d = f"B-{rng.randrange(debtors):06d}"
    return DebtEvent(
        event_id=uuid.uuid4(),
        occurred_at=NOW - timedelta(hours=rng.randrange(1, 48)),
        source="core-banking",
        debtor_id=d,
        account_id=f"{d}-1",
        type="DAYS_PAST_DUE_UPDATED",
        payload={"days_past_due": 0, "balance_minor": 400_000, "currency": "USD"},
    )


def run_processor(
    settings_fields: dict[str, Any],
    processed: c_longlong,
    derived: c_longlong,
    stop: ProcessEvent,
    instance: str = "0",
) -> None:
    """The processor's own process: counts the messages it handles from the
    bench's topics and the derived events it publishes (which it reads back
    from debt-events), stops on ``stop``. ``instance`` names the replica, as
    the supervisor does: its own state directory and group member id."""
    os.environ["RECAUDO_INSTANCE_ID"] = instance
    settings = Settings(**settings_fields)
    inputs = {settings.topic_prefix + ".debt-events", settings.topic_prefix + ".debtor-profiles"}
    processor = DebtorViewProcessor(
        settings,
        clock=FixedClock(NOW),
        # What the bench sent only: decisions and timers read back are its own.
        on_processed=lambda topic, *_: _increment(processed) if topic in inputs else None,
    )

    def watch() -> None:
        while not stop.wait(0.02):
            derived.value = processor.sink.derived_written
        processor.stop()

    threading.Thread(target=watch, daemon=True).start()
    processor.run()
    sink = processor.sink
    print(
        f"processor wrote {sink.snapshots_written:,} snapshots, {sink.states_written:,} "
        f"states, {sink.derived_written:,} "
        f"derived events, {sink.decisions_written:,} decisions, "
        f"{sink.dispatches_written:,} dispatches (setup and load)"
    )


def run_publisher(settings_fields: dict[str, Any], stop: ProcessEvent) -> None:
    """The view publisher's own process, as ``recaudo up`` runs it."""
    publisher = ViewPublisher(Settings(**settings_fields))

    def watch() -> None:
        stop.wait()
        publisher.stop()

    threading.Thread(target=watch, daemon=True).start()
    publisher.run()
    print(f"publisher wrote {publisher.snapshots_written:,} snapshots (setup and load)")


def _increment(counter: c_longlong) -> None:
    counter.value += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=5000, help="input events/s")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--debtors", type=int, default=20_000)
    parser.add_argument("--trigger-every", type=int, default=20)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="view + orchestrator processes sharing the group, as recaudo up --workers runs them",
    )
    parser.add_argument(
        "--snapshots",
        choices=["publisher", "inline"],
        default="publisher",
        help="who builds the debtor snapshots (Settings.view_snapshots)",
    )
    args = parser.parse_args()
    snapshots: ViewSnapshots = args.snapshots

    with bench_environment("ob", args.partitions) as environment:
        settings = environment.settings.model_copy(update={"view_snapshots": snapshots})
        setup = setup_events(args.debtors)
        with RecaudoProducer(settings) as producer:
            producer.publish_many(setup)
        context = multiprocessing.get_context("spawn")
        # One writer each: its processor.
        counts = [context.Value("q", 0, lock=False) for _ in range(args.workers)]
        derived_counts = [context.Value("q", 0, lock=False) for _ in range(args.workers)]
        stop_processor = context.Event()
        processors = [
            context.Process(
                target=run_processor,
                args=(settings.model_dump(), counts[i], derived_counts[i], stop_processor, str(i)),
            )
            for i in range(args.workers)
        ]
        for processor in processors:
            processor.start()

        def processed() -> int:
            return sum(c.value for c in counts)

        def derived() -> int:
            return sum(c.value for c in derived_counts)

        publisher = None
        if snapshots == "publisher":
            publisher = context.Process(
                target=run_publisher, args=(settings.model_dump(), stop_processor)
            )
            publisher.start()
        sent: dict[str, float] = {}
        arrived: dict[str, float] = {}
        stop = threading.Event()

        reader = read_dispatch_arrivals(settings, args.partitions, arrived, stop)
        try:
            t0 = time.monotonic()
            while processed() < len(setup) and time.monotonic() - t0 < 300:
                time.sleep(0.2)
            print(f"setup: {len(setup):,} events folded in {time.monotonic() - t0:.1f} s")
            time.sleep(6)  # the setup's last checkpoints done
            before, derived_before = processed(), derived()
            cpu = CpuMeter(
                {
                    "broker": environment.broker_pid,
                    **{
                        "view + orchestrator" + (f" {i}" if args.workers > 1 else ""): p.pid
                        for i, p in enumerate(processors)
                    },
                    "view publisher": publisher.pid if publisher else None,
                }
            )
            t1 = load(
                settings,
                args.debtors,
                args.rate,
                args.seconds,
                args.trigger_every,
                sent,
                on_start=cpu.start,
            )
            took = time.monotonic() - t1
            offered = int(args.rate * args.seconds) + 1  # and the producer's warm-up event
            print(
                f"load: {offered - 1:,} events in {took:.1f} s "
                f"({(offered - 1) / took:,.0f} events/s offered), "
                f"{len(sent):,} of them triggers"
            )
            deadline = time.monotonic() + 120
            # Done when it has read the load and the derived events it caused.
            while (
                processed() - before < offered + derived() - derived_before
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            done = time.monotonic() - t1
            cpu.stop()
            print(
                f"processor: the {offered - 1:,} events (and "
                f"{derived() - derived_before:,} derived) in {done:.1f} s: "
                f"{offered / done:,.0f} events/s, done {max(0.0, done - took):.1f} s "
                "after the last was sent"
            )
            print(cpu.report(offered - 1, "events"))
            deadline = time.monotonic() + 30
            while len(arrived) < len(sent) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            stop.set()
            stop_processor.set()
            for child in (*processors, publisher):
                if child is not None:
                    child.join(60)
                    if child.is_alive():
                        child.terminate()
        reader.join(5)

        latencies = sorted((arrived[d] - t) * 1000 for d, t in sent.items() if d in arrived)
        missing = len(sent) - len(latencies)
        if not latencies:
            raise SystemExit("no dispatch arrived: is the processor running?")

        def pct(p: float) -> float:
            return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

        print(
            f"event -> dispatch latency over {len(latencies):,} dispatches "
            f"({missing} missing): p50 {pct(0.50):.1f} ms, p95 {pct(0.95):.1f} ms, "
            f"p99 {pct(0.99):.1f} ms, max {latencies[-1]:.1f} ms, "
            f"mean {statistics.fmean(latencies):.1f} ms"
        )


if __name__ == "__main__":
    main()
