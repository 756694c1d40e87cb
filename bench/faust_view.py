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
views = app.Table("views", default=dict, partitions=int(os.environ.get("BENCH_PARTITIONS", "6")))
clock: dict[str, float] = {}
count = 0


def fold(view: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    accounts = view.setdefault("accounts", {})
    account = accounts.setdefault(event["account_id"], {"balance": 0, "dpd": 0, "overdue": 0})
    payload = event["payload"]
    kind = event["type"]
    if kind == "DEBT_OPENED":
        account["balance"] = payload["balance_minor"]
    elif kind == "DAYS_PAST_DUE_UPDATED":
        account["dpd"] = payload["days_past_due"]
        account["balance"] = payload["balance_minor"]
    elif kind == "PAYMENT_MISSED":
        account["overdue"] += payload["amount_minor"]
    elif kind == "PAYMENT_RECEIVED":
        account["balance"] -= payload["amount_minor"]
        account["overdue"] = max(0, account["overdue"] - payload["amount_minor"])
    seen = view.setdefault("seen", [])
    seen.append(event["event_id"])
    view["version"] = view.get("version", 0) + 1
    return view


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
