"""CPython's cyclic garbage collector, set for a stream worker.

A worker holds many long-lived objects (pydantic and Avro schemas, client
handles, decoded debtor states) and allocates a few dozen short-lived ones per
message: with the default thresholds the collector re-walks the long-lived
ones every few messages. recaudo's own data holds no reference cycles, so
collecting less often costs little memory. What it buys: docs/performance.md
("Speed layers").
"""

from __future__ import annotations

import gc

#: Young-generation threshold (allocations net of frees) and the two older
#: generations' multipliers.
THRESHOLDS = (50_000, 20, 100)


def tune_for_streaming() -> None:
    """Move everything built so far (imports, schemas, clients) out of the
    collector's sight and collect less often. Process-wide; idempotent."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
