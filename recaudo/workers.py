"""The long-running processes `recaudo up` supervises."""

from __future__ import annotations

import sys

from recaudo.embedded.supervisor import ProcessSpec
from recaudo.events import CHANNELS


def _recaudo(*args: str) -> list[str]:
    # The same interpreter that runs `recaudo up`: no reliance on PATH.
    return [sys.executable, "-m", "recaudo", *args]


def worker_specs(replicas: int = 1) -> list[ProcessSpec]:
    """One spec per process; replicas share a consumer group and split partitions.

    The debtor-view stream worker, and one simulated-provider connector per channel.
    """
    specs: list[ProcessSpec] = []
    for i in range(replicas):
        specs.append(ProcessSpec(f"streams-view-{i}", _recaudo("streams", "run", "--name", "view")))
        for channel in CHANNELS:
            specs.append(
                ProcessSpec(
                    f"connector-{channel}-{i}",
                    _recaudo("connector", "run", "--channel", channel, "--provider", "simulator"),
                )
            )
    return specs
