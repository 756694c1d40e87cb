"""Baseline for bench/view_bench.py: the debtor view as a naive faust-streaming
table agent (JSON values, one table entry per debtor holding a dict).

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

from bench.naive_view import empty_view, fold

BOOTSTRAP, TOPIC, EXPECTED = sys.argv[1], sys.argv[2], int(sys.argv[3])

app = faust.App(
    f"faust-view-{os.getpid()}",
    broker=f"kafka://{BOOTSTRAP}",
    store="memory://",
    datadir=tempfile.mkdtemp(prefix="faust"),
    topic_partitions=int(os.environ.get("BENCH_PARTITIONS", "6")),
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=6.0,
    topic_allow_declare=True,
)
events = app.topic(TOPIC, key_type=str, value_serializer="json")
views = app.Table(
    "views", default=empty_view, partitions=int(os.environ.get("BENCH_PARTITIONS", "6"))
)
clock: dict[str, float] = {}
count = 0


@app.agent(events)
async def build(stream: Any) -> None:
    global count
    async for key, event in stream.items():
        clock.setdefault("first", time.perf_counter())
        views[key] = fold(dict(views[key]), event)
        count += 1
        if count >= EXPECTED:
            print(f"processed {count} in {time.perf_counter() - clock['first']:.3f} s", flush=True)
            os._exit(0)


if __name__ == "__main__":
    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    app.main()
