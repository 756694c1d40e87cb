"""Dispatches per second of one connector process against the simulated
provider, rate limit off.

    python -m bench.connector_bench --dispatches 50000 [--ledger-sync full]

Publishes N dispatch commands to the embedded broker (unless
KAFKA_BOOTSTRAP_SERVERS is set), runs one `Connector` on them and prints the
sustained rate, from the first batch handled to the last outcome acknowledged.
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import UTC, datetime, timedelta

from bench.harness import bench_settings
from connectors.service import Connector, ConnectorConfig
from connectors.simulator import SimulatedProvider
from recaudo.contracts.records import DispatchCommand
from recaudo.kafka.producer import RecaudoProducer


def commands(n: int) -> list[DispatchCommand]:
    now = datetime.now(UTC)
    return [
        DispatchCommand(
            occurred_at=now,
            source="bench",
            debtor_id=f"D{i % 5000:05d}",
            dispatch_id=f"bench-{i}",
            channel="sms",
            address="+573001112233",
            template="reminder_1",
            locale="es",
            body="Su cuota vence pronto.",
            not_before=now - timedelta(minutes=1),
            expires_at=now + timedelta(hours=2),
            trigger="instalment_due",
            step=0,
        )
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dispatches", type=int, default=50_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument(
        "--ledger-sync",
        choices=["normal", "full"],
        default="normal",
        help="SQLite synchronous mode of the sent-ledger (full: a sync to disk per commit).",
    )
    args = parser.parse_args()
    with bench_settings("cb", args.partitions) as settings:
        with RecaudoProducer(settings) as producer:
            producer.publish_many(commands(args.dispatches))
        provider = SimulatedProvider("sms", latency_scale=0, seed=1)
        connector = Connector(
            settings,
            ConnectorConfig(channel="sms", batch_size=1000),
            provider,
            ledger_synchronous=args.ledger_sync,
        )
        thread = threading.Thread(target=connector.run)
        thread.start()
        first = None
        deadline = time.monotonic() + 600
        while connector.stats.consumed < args.dispatches and time.monotonic() < deadline:
            if first is None and connector.stats.batches:
                first = (time.perf_counter(), connector.stats.consumed)
            time.sleep(0.01)
        # The last batch counts once its outcomes are acknowledged and committed.
        done_batches = connector.stats.batches
        while connector.stats.batches == done_batches and time.monotonic() < deadline:
            time.sleep(0.005)
        end = time.perf_counter()
        connector.stop()
        thread.join()
        assert first is not None
        handled = connector.stats.consumed - first[1]
        rate = handled / (end - first[0])
        print(
            f"dispatches handled: {connector.stats.consumed:,} "
            f"(sent {connector.stats.sent:,}, failed {connector.stats.failed:,})"
        )
        print(
            f"one connector, simulator, no rate limit, ledger synchronous={args.ledger_sync}: "
            f"{rate:,.0f} dispatches/s (target >= 5,000)"
        )


if __name__ == "__main__":
    main()
