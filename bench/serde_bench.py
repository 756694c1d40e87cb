"""Decode and encode cost per message: recaudo's decode path against
confluent-kafka's AvroDeserializer/AvroSerializer, same bytes, same process.

    python -m bench.serde_bench
"""

from __future__ import annotations

import time
from collections.abc import Callable

from recaudo.serde import Serde
from recaudo.settings import Settings
from tests.fixtures import debt_event


def per_call_us(fn: Callable[[], object], n: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main(n: int = 50_000) -> None:
    serde = Serde(Settings())
    topic = serde.topics.debt_events
    event = debt_event()
    data = serde.serialize(topic, event)
    confluent = per_call_us(lambda: serde.decode_with_confluent(topic, data), n)
    fast = per_call_us(lambda: serde.decode(topic, data), n)
    full = per_call_us(lambda: serde.deserialize(topic, data), n)
    confluent_encode = per_call_us(lambda: serde.serialize_with_confluent(topic, event), n)
    encode = per_call_us(lambda: serde.serialize(topic, event), n)
    print(f"decode, confluent AvroDeserializer: {confluent:6.1f} µs")
    print(f"decode, recaudo (fastavro direct):  {fast:6.1f} µs   ({confluent / fast:.1f}x faster)")
    print(f"decode + validate into the model:   {full:6.1f} µs")
    print(f"encode, confluent AvroSerializer:   {confluent_encode:6.1f} µs")
    print(
        f"encode, recaudo (fastavro direct):  {encode:6.1f} µs   "
        f"({confluent_encode / encode:.1f}x faster)"
    )


if __name__ == "__main__":
    main()
