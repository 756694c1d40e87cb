"""The KpiWindow schema gained the conversation counters BACKWARD-compatibly:
a record written before them reads with every new counter at zero."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import fastavro

from recaudo.contracts import records as events
from recaudo.contracts.schemas import schema_dir
from recaudo.kpis import COUNTER_NAMES, MAP_NAMES
from tests.unit.contracts.test_backward_compatibility import PREVIOUS, backward_incompatibilities

NEW = (
    "messages_read",
    "messages_understood",
    "conversations",
    "conversations_resolved",
    "conversation_promises",
    "conversation_plans",
    "handoffs",
    "handoff_reasons",
    "answer_latency_ms",
)


def _schema(path: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def test_every_counter_is_in_the_schema_and_the_record() -> None:
    fields = [f["name"] for f in _schema(schema_dir() / "kpi_window.avsc")["fields"]]
    for name in (*COUNTER_NAMES, *MAP_NAMES):
        assert name in fields and name in events.KpiWindow.model_fields


def test_the_new_counters_without_defaults_would_not_be_backward_compatible() -> None:
    previous = _schema(PREVIOUS / "kpi_window.avsc")
    current = _schema(schema_dir() / "kpi_window.avsc")
    assert backward_incompatibilities(previous, current) == []
    no_defaults = copy.deepcopy(current)
    for field in no_defaults["fields"]:
        if field["name"] in NEW:
            field.pop("default")
    assert backward_incompatibilities(previous, no_defaults)


def test_an_old_window_decodes_with_the_new_counters_at_zero() -> None:
    previous = fastavro.parse_schema(_schema(PREVIOUS / "kpi_window.avsc"))
    current = fastavro.parse_schema(_schema(schema_dir() / "kpi_window.avsc"))
    old_counters = [n for n in COUNTER_NAMES if n not in NEW]
    record = {
        "event_id": "6a0c2b8e-1d4f-4e9a-b7c3-5f8e2d1a9b60",
        "occurred_at": 1_700_000_000_000,
        "source": "recaudo.kpis",
        "dimension": "CHANNEL",
        "member": "sms",
        "period": "TOTAL",
        "window_start": 0,
        "window_end": None,
        "revision": 3,
        **dict.fromkeys(old_counters, 2),
        "recovered_minor": {"COP": 500},
        "suppressions": {},
    }
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, previous, record)
    buf.seek(0)
    decoded = fastavro.schemaless_reader(buf, previous, current)
    assert isinstance(decoded, dict)
    window = events.KpiWindow.from_avro(decoded)
    assert window.contacts == 2 and window.recovered_minor == {"COP": 500}
    assert all(not getattr(window, name) for name in NEW)
