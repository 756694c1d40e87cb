"""Run a benchmark with some of recaudo's speed layers turned off, to measure
what each buys against the straightforward implementation of the same work.

    python -m bench.layers --without encoders -- orchestration --rate 2000 --seconds 15
    python -m bench.layers --without held,decode -- view --events 60000 --debtors 5000

Each layer is turned off from here, in the benchmark's processes only
(production code has no switch for it); docs/performance.md ("Speed layers")
lists them and what each measured:

- ``encoders``: outputs written by fastavro from ``model_dump`` instead of the
  encoders compiled from the schemas (``recaudo/kafka/avro_writer.py``);
- ``decode``: inputs read by confluent-kafka's AvroDeserializer instead of
  fastavro with the framing read directly (``Serde.decode``);
- ``held``: the view's write-back cache holds one debtor, so each event reads,
  decodes, folds, encodes and writes its debtor (``Folder``);
- ``poll``: quixstreams' default 1 s batch-read wait instead of 5 ms
  (``streams/processor.py``).

The layers to turn off travel to the benchmark's child processes in the
``BENCH_WITHOUT_LAYERS`` environment variable: a spawned child imports this
module again as its main module and turns them off before it starts.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable
from typing import Any

ENV = "BENCH_WITHOUT_LAYERS"
LAYERS = ("encoders", "decode", "held", "poll")


def _without_encoders() -> None:
    import fastavro

    from recaudo.kafka import serde

    def plain_encoder_for(record: str, header: bytes = b"") -> Callable[[Any], bytes]:
        schema = serde.parsed_schema(record)

        def encode(model: Any) -> bytes:
            out = io.BytesIO()
            out.write(header)
            fastavro.schemaless_writer(out, schema, model.to_avro())
            return out.getvalue()

        return encode

    setattr(serde, "encoder_for", plain_encoder_for)  # noqa: B010


def _without_decode() -> None:
    from recaudo.kafka.serde import DecodeError, Serde

    def decode(self: Serde, topic: str, data: bytes | None) -> dict[str, Any]:
        if data is None:
            raise DecodeError("message has no value (tombstone) where an event was expected")
        return self.decode_with_confluent(topic, data)

    setattr(Serde, "decode", decode)  # noqa: B010


def _without_held() -> None:
    # Read by Settings, so by every process the benchmark starts.
    os.environ["RECAUDO_VIEW_HELD_DEBTORS"] = "1"


def _without_poll() -> None:
    from streams import processor as runtime

    base = getattr(runtime, "Application")  # noqa: B009

    def application(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("consumer_poll_timeout", None)
        return base(*args, **kwargs)

    setattr(runtime, "Application", application)  # noqa: B010


_SWITCHES: dict[str, Callable[[], None]] = {
    "encoders": _without_encoders,
    "decode": _without_decode,
    "held": _without_held,
    "poll": _without_poll,
}


def parse(names: str) -> list[str]:
    layers = [n.strip() for n in names.split(",") if n.strip() and n.strip() != "none"]
    unknown = sorted(set(layers) - set(LAYERS))
    if unknown:
        raise SystemExit(f"unknown layer(s) {unknown}: choose from {', '.join(LAYERS)} or none")
    return layers


def turn_off(layers: list[str]) -> None:
    """Turn the named layers off in this process and in those it spawns."""
    os.environ[ENV] = ",".join(layers)
    for layer in layers:
        _SWITCHES[layer]()


if __name__ == "__mp_main__":  # a spawned child of a benchmark run from here
    turn_off(parse(os.environ.get(ENV, "")))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Arguments after the benchmark's name go to that benchmark.",
    )
    parser.add_argument(
        "--without",
        default="none",
        help=f"comma-separated layers to turn off: {', '.join(LAYERS)} (default: none)",
    )
    parser.add_argument("bench", choices=["orchestration", "view"])
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    layers = parse(args.without)
    turn_off(layers)
    print(f"speed layers turned off: {', '.join(layers) or 'none'}", flush=True)
    rest = [a for a in args.rest if a != "--"]
    if args.bench == "orchestration":
        from bench import orchestration_bench as bench
    else:
        from bench import view_bench as bench  # type: ignore[no-redef]
    sys.argv = [f"bench.{args.bench}_bench", *rest]
    bench.main()


if __name__ == "__main__":
    main()
