"""Decode and encode cost per message: recaudo's paths against
confluent-kafka's AvroDeserializer/AvroSerializer and fastavro from the
model's dict, same bytes, same process; encoding for a debt event and for a
debtor view (the record the view processor writes most).

    python -m bench.serde_bench
"""

from __future__ import annotations

import time
from collections.abc import Callable

from recaudo.contracts.samples import debt_event, debtor_profile
from recaudo.kafka.serde import Serde, fastavro_body
from recaudo.settings import Settings
from recaudo.view import apply, snapshot


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
    print(f"decode, confluent AvroDeserializer: {confluent:6.1f} µs")
    print(f"decode, recaudo (fastavro direct):  {fast:6.1f} µs   ({confluent / fast:.1f}x faster)")
    print(f"decode + validate into the model:   {full:6.1f} µs")

    state = apply(apply(None, debtor_profile()).state, event).state
    view = snapshot(state, event.debtor_id)
    for name, record, to in (
        ("debt event", event, topic),
        ("debtor view", view, serde.topics.debtor_view),
    ):
        confluent_encode = per_call_us(
            lambda r=record, t=to: serde.serialize_with_confluent(t, r), n
        )
        dict_encode = per_call_us(lambda r=record: fastavro_body(r), n)
        encode = per_call_us(lambda r=record, t=to: serde.serialize(t, r), n)
        print(f"encode a {name}:")
        print(f"  confluent AvroSerializer:         {confluent_encode:6.1f} µs")
        print(f"  fastavro from model_dump:         {dict_encode:6.1f} µs")
        print(
            f"  recaudo (compiled encoder):       {encode:6.1f} µs   "
            f"({confluent_encode / encode:.1f}x confluent, {dict_encode / encode:.1f}x fastavro)"
        )


if __name__ == "__main__":
    main()
