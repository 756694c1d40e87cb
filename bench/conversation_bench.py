"""Inbound reply -> outbound answer latency of the view worker with
conversations on, on the embedded stack.

    python -m bench.conversation_bench --rate 100 --seconds 20

1. publishes a profile (Spanish, Bogotá, Ley 2300) and an open debt for each
   debtor and lets the worker fold them in;
2. publishes ``REPLIED`` SMS responses at a fixed rate, one per debtor, each
   a message from the corpus of the simulator's kind ("cuánto debo",
   "pago el viernes", ...), stamping each send time;
3. a reader assigned to the dispatch topics stamps each answer as it
   arrives (keyed by debtor); latency = arrival - send, one monotonic clock;
4. prints the achieved rate and p50 / p95 / p99 / max latency.

The worker runs in a process of its own with its production checkpoint
interval and the clock frozen inside Ley 2300's hours, so every answer is
sent and the figure is the pipeline's, not the policy's.
Uses the embedded Tansu broker unless KAFKA_BOOTSTRAP_SERVERS is set.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import threading
import time
from ctypes import c_longlong
from datetime import UTC, date, datetime, timedelta
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

from bench.harness import bench_environment, read_dispatch_arrivals
from recaudo.contracts.records import ChannelResponse, DebtEvent, DebtorProfile, Event
from recaudo.kafka.producer import RecaudoProducer
from recaudo.orchestration import FixedClock
from recaudo.settings import Settings
from streams.debtor_view import DebtorViewProcessor

# A Wednesday, 11:00 in Bogotá: inside Ley 2300's hours.
NOW = datetime(2026, 11, 18, 16, tzinfo=UTC)
MESSAGES = (
    "cuánto debo",
    "pago el viernes",
    "no puedo pagar todo, me dan cuotas?",
    "gracias",
    "ya pagué la semana pasada",
    "quiero hablar con una persona",
)


def setup_events(debtors: int) -> list[Event]:
    out: list[Event] = []
    for i in range(debtors):
        d = f"C-{i:06d}"
        out.append(
            DebtorProfile(
                occurred_at=NOW - timedelta(days=60),
                source="crm",
                debtor_id=d,
                preferred_language="es",
                time_zone="America/Bogota",
                country="CO",
                jurisdiction="co_ley_2300",
                contact_points=[{"channel": "sms", "address": "+573001234567", "consent": True}],
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
                    "principal_minor": 50_000_000,
                    "currency": "COP",
                    "balance_minor": 40_000_000,
                    "product": "card",
                    "instalment_minor": 2_000_000,
                    "next_due_date": date(2026, 11, 15),
                },
            )
        )
    return out


def run_worker(settings_fields: dict[str, Any], processed: c_longlong, stop: ProcessEvent) -> None:
    settings = Settings(**{**settings_fields, "conversations": True})
    inputs = {settings.topic_prefix + ".debt-events", settings.topic_prefix + ".debtor-profiles"}
    worker = DebtorViewProcessor(
        settings,
        clock=FixedClock(NOW),
        on_processed=lambda topic, *_: _increment(processed) if topic in inputs else None,
    )

    def watch() -> None:
        stop.wait()
        worker.stop()

    threading.Thread(target=watch, daemon=True).start()
    worker.run()


def _increment(counter: c_longlong) -> None:
    counter.value += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=100, help="replies/s")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()
    replies = int(args.rate * args.seconds)

    with bench_environment("cb", args.partitions) as environment:
        settings = environment.settings
        setup = setup_events(replies)
        with RecaudoProducer(settings) as producer:
            producer.publish_many(setup)
        context = multiprocessing.get_context("spawn")
        processed = context.Value("q", 0, lock=False)
        stop_worker = context.Event()
        worker = context.Process(
            target=run_worker, args=(settings.model_dump(), processed, stop_worker)
        )
        worker.start()
        sent: dict[str, float] = {}
        arrived: dict[str, float] = {}
        stop = threading.Event()

        reader = read_dispatch_arrivals(settings, args.partitions, arrived, stop)
        try:
            t0 = time.monotonic()
            while processed.value < len(setup) and time.monotonic() - t0 < 300:
                time.sleep(0.2)
            print(f"setup: {len(setup):,} events folded in {time.monotonic() - t0:.1f} s")
            time.sleep(3)
            with RecaudoProducer(settings) as producer:
                plan = []
                for i in range(replies):
                    d = f"C-{i:06d}"
                    response = ChannelResponse(
                        occurred_at=NOW,
                        source="twilio",
                        debtor_id=d,
                        channel="sms",
                        status="REPLIED",
                        provider="twilio",
                        text=MESSAGES[i % len(MESSAGES)],
                    )
                    plan.append((d, producer.encode(response)))
                producer.flush()
                start = time.monotonic()
                for n, (d, (topic, key, value, headers)) in enumerate(plan):
                    pause = start + n / args.rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    sent[d] = time.monotonic()
                    producer.produce_raw(topic, key.encode(), value, headers)
                took = time.monotonic() - start
            print(f"load: {replies:,} replies in {took:.1f} s ({replies / took:,.0f}/s)")
            deadline = time.monotonic() + 60
            while len(arrived) < len(sent) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            stop.set()
            stop_worker.set()
            worker.join(60)
            if worker.is_alive():
                worker.terminate()
        reader.join(5)

        latencies = sorted((arrived[d] - t) * 1000 for d, t in sent.items() if d in arrived)
        if not latencies:
            raise SystemExit("no answer arrived: is the worker running?")

        def pct(p: float) -> float:
            return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

        print(
            f"reply -> answer latency over {len(latencies):,} answers "
            f"({len(sent) - len(latencies)} replies without one): p50 {pct(0.50):.1f} ms, "
            f"p95 {pct(0.95):.1f} ms, p99 {pct(0.99):.1f} ms, max {latencies[-1]:.1f} ms, "
            f"mean {statistics.fmean(latencies):.1f} ms"
        )


if __name__ == "__main__":
    main()
