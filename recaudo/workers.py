"""The long-running processes `recaudo up` supervises."""

from __future__ import annotations

import sys

from recaudo.embedded.supervisor import ProcessSpec
from recaudo.events import CHANNELS


def _recaudo(*args: str) -> list[str]:
    # The same interpreter that runs `recaudo up`: no reliance on PATH.
    return [sys.executable, "-m", "recaudo", *args]


def _spec(name: str, role: str, argv: list[str]) -> ProcessSpec:
    # One service name per role in traces and metrics, as the deployment files set.
    return ProcessSpec(name, argv, {"OTEL_SERVICE_NAME": f"recaudo-{role}"})


#: The name of the dashboard's process (`recaudo up` prints its address).
DASHBOARD = "dashboard"


def worker_specs(replicas: int = 1, dashboard: bool = True) -> list[ProcessSpec]:
    """One spec per process; replicas share a consumer group and split partitions.

    The debtor-view and KPI stream workers, one simulated-provider connector
    per channel, and one dashboard (it only reads: never replicated).
    """
    specs: list[ProcessSpec] = []
    for i in range(replicas):
        specs.append(
            _spec(f"streams-view-{i}", "streams-view", _recaudo("streams", "run", "--name", "view"))
        )
        specs.append(
            _spec(f"streams-kpis-{i}", "streams-kpis", _recaudo("streams", "run", "--name", "kpis"))
        )
        for channel in CHANNELS:
            specs.append(
                _spec(
                    f"connector-{channel}-{i}",
                    f"connector-{channel}",
                    _recaudo("connector", "run", "--channel", channel, "--provider", "simulator"),
                )
            )
    if dashboard:
        specs.append(_spec(DASHBOARD, DASHBOARD, _recaudo("dashboard")))
    return specs
