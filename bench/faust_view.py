"""Baseline for bench/view_bench.py: recaudo's view work (bench/equal_work.py)
as a textbook faust-streaming agent with a Table: per event, the table read,
the fold, the table written, the snapshot and the derived events sent.

Run by the benchmark as ``python -m bench.faust_view BOOTSTRAP TOPIC N``; prints
``processed N in S s`` counting from the first event it handled.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import Any

import faust

from bench.equal_work import fold

BOOTSTRAP, TOPIC, EXPECTED = sys.argv[1], sys.argv[2], int(sys.argv[3])
PARTITIONS = int(os.environ.get("BENCH_PARTITIONS", "6"))

app = faust.App(
    f"faust-view-{os.getpid()}",
    broker=f"kafka://{BOOTSTRAP}",
    store="memory://",
    datadir=tempfile.mkdtemp(prefix="faust"),
    topic_partitions=PARTITIONS,
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=6.0,
    topic_allow_declare=True,
)
events = app.topic(TOPIC, key_type=str, value_serializer="raw")
views_out = app.topic(f"{TOPIC}-faust-views", key_type=str, value_serializer="raw")
derived_out = app.topic(f"{TOPIC}-faust-derived", key_type=str, value_serializer="raw")
states = app.Table("states", default=str, partitions=PARTITIONS)
clock: dict[str, float] = {}
count = 0


@app.agent(events)
async def build(stream: Any) -> None:
    global count
    async for key, value in stream.items():
        clock.setdefault("first", time.perf_counter())
        outputs = fold(states[key] or None, value)
        states[key] = outputs.state
        await views_out.send(key=key, value=outputs.snapshot)
        for derived in outputs.derived:
            await derived_out.send(key=key, value=derived)
        count += 1
        if count >= EXPECTED:
            print(f"processed {count} in {time.perf_counter() - clock['first']:.3f} s", flush=True)
            os._exit(0)


if __name__ == "__main__":
    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    app.main()
