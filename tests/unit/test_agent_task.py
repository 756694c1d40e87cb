"""The agent-task contract: written by recaudo's encoder exactly as fastavro
writes it, read back equal, and its open/closed rule enforced."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import fastavro
import pytest
from pydantic import ValidationError

from recaudo.contracts.records import AgentTask, ConversationTurn
from recaudo.contracts.schemas import schema_json
from recaudo.kafka.avro_writer import encoder_for

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def a_task(**update: object) -> AgentTask:
    values: dict[str, object] = {
        "occurred_at": T0,
        "source": "recaudo.conversation",
        "debtor_id": "D-1",
        "task_id": "T-1",
        "reason": "dispute",
        "status": "OPEN",
        "priority": "NORMAL",
        "transcript": [
            ConversationTurn(
                direction="INBOUND",
                channel="whatsapp",
                text="esa deuda no es mía",
                intent="not_my_debt",
                confidence_permille=640,
                at=T0,
            )
        ],
        "view_json": '{"debtor_id": "D-1"}',
        "created_at": T0,
    }
    values.update(update)
    return AgentTask.model_validate(values)


def test_encoded_as_fastavro_does_and_read_back_equal() -> None:
    task = a_task()
    schema = fastavro.parse_schema(schema_json("AgentTask"))
    reference = io.BytesIO()
    fastavro.schemaless_writer(reference, schema, task.to_avro())
    assert encoder_for("AgentTask")(task) == reference.getvalue()
    reference.seek(0)
    record = fastavro.schemaless_reader(reference, schema, schema)
    assert isinstance(record, dict)
    assert AgentTask.from_avro(record) == task


def test_a_closed_task_has_a_closing_time_and_an_open_one_none() -> None:
    closed_at = T0 + timedelta(hours=1)
    a_task(status="CLOSED", closed_at=closed_at, closed_by="agent-1")
    with pytest.raises(ValidationError, match="CLOSED task needs closed_at"):
        a_task(status="CLOSED")
    with pytest.raises(ValidationError, match="OPEN task has no closed_at"):
        a_task(closed_at=closed_at)


def test_confidence_is_per_mille() -> None:
    with pytest.raises(ValidationError):
        ConversationTurn(direction="INBOUND", channel="sms", confidence_permille=1001, at=T0)
