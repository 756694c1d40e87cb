"""The long-running processes of a deployment: one image, one command line each.

Compose and Kubernetes run exactly these argument lists after the image's
``recaudo`` entrypoint (a test holds the compose file to them), so a change to a
command's options is made here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from recaudo.contracts.records import CHANNELS, Channel

#: Every role serves ``/healthz`` (liveness), ``/readyz`` (readiness) and
#: ``/metrics`` on this port; Kubernetes probes and Prometheus use it.
HEALTH_PORT = 8080

Component = Literal["streams", "connector", "webhooks", "portal", "desk", "dashboard"]


@dataclass(frozen=True, slots=True)
class Role:
    """One kind of process: scaled as a unit (a compose service, a Deployment)."""

    name: str
    component: Component
    args: tuple[str, ...]
    description: str
    channel: Channel | None = None


def _health(*args: str) -> tuple[str, ...]:
    return (*args, "--health-port", str(HEALTH_PORT))


STREAMS_VIEW = Role(
    "streams-view",
    "streams",
    _health("streams", "run", "--name", "view"),
    "Stream worker: the debtor 360 view (one consumer group; replicas split the partitions).",
)

STREAMS_PUBLISHER = Role(
    "streams-publisher",
    "streams",
    _health("streams", "run", "--name", "publisher"),
    "Stream worker: debtor snapshots from the view's states, to the debtor-view topic and "
    "Postgres (stateless; replicas split the partitions).",
)

STREAMS_KPIS = Role(
    "streams-kpis",
    "streams",
    _health("streams", "run", "--name", "kpis"),
    "Stream worker: collection KPIs per hour and running totals (kpis topic and Postgres).",
)

STREAMS_AGENT_TASKS = Role(
    "streams-agent-tasks",
    "streams",
    _health("streams", "run", "--name", "agent-tasks"),
    "Stream worker: the agent-tasks topic mirrored into Postgres (agent_task) for CRMs and "
    "agent desktops (stateless; replicas split the partitions).",
)

CONNECTORS: tuple[Role, ...] = tuple(
    Role(
        f"connector-{channel}",
        "connector",
        _health("connector", "run", "--channel", channel, "--provider", "simulator"),
        f"Channel connector: consumes dispatch.{channel}, calls the provider, reports outcomes.",
        channel,
    )
    for channel in CHANNELS
)

#: The webhook service takes provider callbacks and answers the probes on the
#: same port, so one Service and one port serve both. It listens on 127.0.0.1
#: unless told otherwise: in a container, every interface, behind the proxy.
WEBHOOKS = Role(
    "webhooks",
    "webhooks",
    ("webhooks", "run", "--host", "0.0.0.0", "--port", str(HEALTH_PORT)),
    "Inbound provider webhooks (delivery receipts, replies) onto channel-responses.",
)

#: The debtors' self-service portal faces the internet like the webhooks, and
#: answers the probes on the same port. The stream workers mint its links:
#: they and it share RECAUDO_PORTAL_KEY (the Secret) and RECAUDO_PORTAL_BASE_URL.
PORTAL = Role(
    "portal",
    "portal",
    ("portal", "run", "--host", "0.0.0.0", "--port", str(HEALTH_PORT)),
    "Debtors' self-service portal: the page a message's link opens; choices onto debt-events.",
)

#: The agent desk is for the bank's own people: reached inside its network or
#: behind a proxy that authenticates (RECAUDO_DESK_TRUSTED_HEADER), never
#: published to the internet. It answers the probes on its page's port, and
#: starts only once an agent is configured (RECAUDO_DESK_AGENTS, the Secret).
DESK = Role(
    "desk",
    "desk",
    ("desk", "run", "--host", "0.0.0.0", "--port", str(HEALTH_PORT)),
    "Agent desk: the open agent tasks; replies, outcomes and closings onto the topics.",
)

#: The dashboard only reads (Postgres tables, consumer lag); its page, its JSON
#: and the probes share one port. It listens on 127.0.0.1 unless told otherwise.
DASHBOARD = Role(
    "dashboard",
    "dashboard",
    ("dashboard", "--host", "0.0.0.0", "--port", str(HEALTH_PORT)),
    "Collections dashboard: funnel, channels, suppressions, consumer lag (reads only).",
)

ROLES: tuple[Role, ...] = (
    STREAMS_VIEW,
    STREAMS_PUBLISHER,
    STREAMS_KPIS,
    STREAMS_AGENT_TASKS,
    *CONNECTORS,
    WEBHOOKS,
    PORTAL,
    DESK,
    DASHBOARD,
)
