"""The long-running processes `recaudo up` supervises."""

from __future__ import annotations

import sys

from recaudo.embedded.ports import free_port
from recaudo.embedded.supervisor import ProcessSpec
from recaudo.events import CHANNELS
from recaudo.settings import get_settings


def _recaudo(*args: str) -> list[str]:
    # The same interpreter that runs `recaudo up`: no reliance on PATH.
    return [sys.executable, "-m", "recaudo", *args]


def _spec(name: str, role: str, argv: list[str], health: bool = True) -> ProcessSpec:
    # One service name per role in traces and metrics, as the deployment files set.
    env = {"OTEL_SERVICE_NAME": f"recaudo-{role}"}
    if not health:
        return ProcessSpec(name, argv, env)
    # A port chosen now and kept across restarts, so `recaudo status` can name it.
    port = free_port()
    return ProcessSpec(name, [*argv, "--health-port", str(port)], env, health_port=port)


#: The name of the dashboard's process (`recaudo up` prints its address).
DASHBOARD = "dashboard"


#: The name of the inbound email receiver's process.
INBOUND_EMAIL = "inbound-email"
#: the learner service, with the learner switched on (RECAUDO_LEARNER_ENABLED)
LEARNER = "streams-learner"


def _inbound_email_port() -> int:
    """RECAUDO_INBOUND_EMAIL_PORT if set, else a free port chosen now and kept
    across restarts (its log names it): two runtimes on one
    machine must not fight over a default port."""
    settings = get_settings()
    if "inbound_email_port" in settings.model_fields_set:
        return settings.inbound_email_port
    return free_port()


def worker_specs(
    replicas: int = 1, dashboard: bool = True, inbound_email: bool = True
) -> list[ProcessSpec]:
    """One spec per process; replicas share a consumer group and split partitions.

    The debtor-view, view-publisher, KPI and agent-task stream workers (and
    one learner service when the learner is switched on), one
    simulated-provider connector per channel, one inbound email receiver (SMTP
    on 127.0.0.1: never replicated) and one dashboard (it only reads: never
    replicated). Workers serve /healthz, /readyz and /metrics on
    a free port of 127.0.0.1 each.
    """
    specs: list[ProcessSpec] = []
    for i in range(replicas):
        specs.append(
            _spec(f"streams-view-{i}", "streams-view", _recaudo("streams", "run", "--name", "view"))
        )
        specs.append(
            _spec(
                f"streams-publisher-{i}",
                "streams-publisher",
                _recaudo("streams", "run", "--name", "publisher"),
            )
        )
        specs.append(
            _spec(f"streams-kpis-{i}", "streams-kpis", _recaudo("streams", "run", "--name", "kpis"))
        )
        specs.append(
            _spec(
                f"streams-agent-tasks-{i}",
                "streams-agent-tasks",
                _recaudo("streams", "run", "--name", "agent-tasks"),
            )
        )
        for channel in CHANNELS:
            specs.append(
                _spec(
                    f"connector-{channel}-{i}",
                    f"connector-{channel}",
                    _recaudo("connector", "run", "--channel", channel, "--provider", "simulator"),
                )
            )
    if get_settings().learner_enabled:
        # One model: the learner service is never replicated.
        specs.append(_spec(LEARNER, LEARNER, _recaudo("streams", "run", "--name", "learner")))
    if inbound_email:
        specs.append(
            _spec(
                INBOUND_EMAIL,
                INBOUND_EMAIL,
                _recaudo("inbound-email", "run", "--port", str(_inbound_email_port())),
            )
        )
    if dashboard:
        # The dashboard serves its probes and metrics on its own page's port.
        specs.append(_spec(DASHBOARD, DASHBOARD, _recaudo("dashboard"), health=False))
    return specs
