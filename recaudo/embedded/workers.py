"""The long-running processes `recaudo up` supervises."""

from __future__ import annotations

import sys

from recaudo.contracts.records import CHANNELS
from recaudo.desk.sessions import desk_has_agents
from recaudo.embedded.ports import free_port
from recaudo.embedded.supervisor import ProcessSpec
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


#: The debtors' self-service portal's process (its page port serves its probes).
PORTAL = "portal"
#: The agent desk's process, started only when an agent can sign in to it.
DESK = "desk"
#: What `recaudo up` and `recaudo status` say when the desk is not started.
DESK_NOT_STARTED = (
    "not started: no agent configured. Run `recaudo desk hash-password`, then set "
    'RECAUDO_DESK_AGENTS=\'{"you": "<hash>"}\' and run `recaudo up` again (docs/desk.md)'
)


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


def _page_spec(name: str, argv: list[str], port: int) -> ProcessSpec:
    """A web service that serves its probes and metrics on its own page's port."""
    return ProcessSpec(name, argv, {"OTEL_SERVICE_NAME": f"recaudo-{name}"}, health_port=port)


def worker_specs(
    replicas: int = 1,
    dashboard: bool = True,
    inbound_email: bool = True,
    portal: bool = False,
    desk: bool = False,
) -> list[ProcessSpec]:
    """One spec per process; replicas share a consumer group and split partitions.

    The debtor-view, view-publisher, KPI and agent-task stream workers (and
    one learner service when the learner is switched on), one
    simulated-provider connector per channel, one inbound email receiver (SMTP
    on 127.0.0.1: never replicated) and one dashboard (it only reads: never
    replicated). With ``portal``, the debtors' portal on RECAUDO_PORTAL_PORT;
    with ``desk``, the agent desk on RECAUDO_DESK_PORT when an agent is
    configured (:func:`~recaudo.desk.sessions.desk_has_agents`); neither is
    replicated. Workers serve /healthz, /readyz and /metrics on a free port of
    127.0.0.1 each; the dashboard, the portal and the desk on their page's port.
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
    settings = get_settings()
    if portal:
        specs.append(_page_spec(PORTAL, _recaudo("portal", "run"), settings.portal_port))
    if desk and desk_has_agents(settings.desk_agents, settings.desk_trusted_header):
        specs.append(_page_spec(DESK, _recaudo("desk", "run"), settings.desk_port))
    if dashboard:
        # The dashboard serves its probes and metrics on its own page's port.
        specs.append(_spec(DASHBOARD, DASHBOARD, _recaudo("dashboard"), health=False))
    return specs
