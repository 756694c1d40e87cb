"""Loading the ``.avsc`` contracts and registering them.

Without ``SCHEMA_REGISTRY_URL`` every process uses confluent-kafka's in-process
registry, which numbers schemas in registration order: registering all of them
in the catalogue's fixed order makes ids agree across processes.
"""

from __future__ import annotations

import importlib.resources
import json
from functools import cache
from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from recaudo.kafka.topics import Topics

SCHEMA_FILES: dict[str, str] = {
    "DebtEvent": "debt_event.avsc",
    "DebtorProfile": "debtor_profile.avsc",
    "ContactDecision": "contact_decision.avsc",
    "DispatchCommand": "dispatch_command.avsc",
    "ChannelResponse": "channel_response.avsc",
    "DebtorView": "debtor_view.avsc",
    "DeadLetter": "dead_letter.avsc",
    "KpiWindow": "kpi_window.avsc",
    "Timer": "timer.avsc",
    "AgentTask": "agent_task.avsc",
    "LearnerModel": "learner_model.avsc",
    "LearnerSwitch": "learner_switch.avsc",
}


def schema_dir() -> Path:
    """``schemas/`` of a source checkout, else the copy shipped in the wheel."""
    checkout = Path(__file__).resolve().parents[2] / "schemas"
    if checkout.is_dir():
        return checkout
    return Path(str(importlib.resources.files("recaudo").joinpath("_schemas")))


@cache
def schema_text(record: str) -> str:
    try:
        filename = SCHEMA_FILES[record]
    except KeyError:
        raise KeyError(f"no schema for record {record!r}; known: {sorted(SCHEMA_FILES)}") from None
    return (schema_dir() / filename).read_text(encoding="utf-8")


@cache
def registry_schema(record: str) -> Schema:
    """The Schema object registered and used by serializers (the in-process
    registry matches schemas by equality, so both must be built alike)."""
    return Schema(schema_text(record), "AVRO")


def schema_json(record: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(schema_text(record))
    return parsed


def subject_for(topic: str) -> str:
    """TopicNameStrategy, set explicitly: newer clients default to asking the
    registry for associations, which Karapace and Apicurio do not serve."""
    return f"{topic}-value"


def register_all(client: SchemaRegistryClient, topics: Topics) -> dict[str, int]:
    """Register each topic's value schema, in catalogue order; returns subject -> id.

    Idempotent on a real registry (an identical schema keeps its id).
    """
    ids: dict[str, int] = {}
    for topic in topics.avro():
        assert topic.spec.record is not None
        subject = subject_for(topic.name)
        ids[subject] = client.register_schema(subject, registry_schema(topic.spec.record))
    return ids
