"""The long-running processes `recaudo up` supervises."""

from __future__ import annotations

import sys

from recaudo.embedded.supervisor import ProcessSpec


def _recaudo(*args: str) -> list[str]:
    # The same interpreter that runs `recaudo up`: no reliance on PATH.
    return [sys.executable, "-m", "recaudo", *args]


def worker_specs(replicas: int = 1) -> list[ProcessSpec]:
    """One spec per process; replicas share a consumer group and split partitions."""
    specs: list[ProcessSpec] = []
    for i in range(replicas):
        specs.append(
            ProcessSpec(
                name=f"streams-view-{i}", argv=_recaudo("streams", "run", "--name", "view"), env={}
            )
        )
    return specs
