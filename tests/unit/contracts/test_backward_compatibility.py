"""The schemas evolve BACKWARD-compatibly: a reader on the new schema reads
every record written with the previous one (what a schema registry's BACKWARD
compatibility check guarantees). confluent-kafka's mock registry does not check
compatibility, so the check is done here with fastavro's schema resolution,
writing a record of every union branch and enum symbol of the previous schema
(``previous/``: a copy of each schema as last released; replace it with the
current one when releasing) and reading it with the current one."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import fastavro
import pytest

from recaudo.contracts import records as events
from recaudo.contracts.schemas import schema_dir
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings

PREVIOUS = Path(__file__).parent / "previous"


def _load(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def _values(schema: Any, named: dict[str, Any]) -> Iterator[Any]:
    """Values of ``schema`` covering every union branch and enum symbol."""
    if isinstance(schema, str):
        primitive = {
            "string": ["x"],
            "int": [3],
            "long": [5],
            "boolean": [True],
            "null": [None],
            "bytes": [b"b"],
            "double": [1.5],
            "float": [0.5],
        }
        if schema in primitive:
            yield from primitive[schema]  # type: ignore[misc]
            return
        yield from _values(named[schema], named)
        return
    if isinstance(schema, list):
        for branch in schema:
            for value in _values(branch, named):
                name = branch.get("name") if isinstance(branch, dict) else None
                if isinstance(branch, dict) and branch.get("type") == "record":
                    yield (f"recaudo.v1.{name}", value)
                else:
                    yield value
        return
    kind = schema["type"]
    if schema.get("logicalType") == "uuid":
        yield "6a0c2b8e-1d4f-4e9a-b7c3-5f8e2d1a9b60"
    elif schema.get("logicalType") == "date":
        yield date(2026, 12, 1)
    elif schema.get("logicalType") == "timestamp-millis":
        yield 1_700_000_000_000
    elif kind == "enum":
        named[schema["name"]] = schema
        yield from schema["symbols"]
    elif kind == "record":
        named[schema["name"]] = schema
        options = {f["name"]: list(_values(f["type"], named)) for f in schema["fields"]}
        widest = max((len(v) for v in options.values()), default=1)
        for i in range(widest):
            yield {name: vals[min(i, len(vals) - 1)] for name, vals in options.items()}
    elif kind == "array":
        yield list(_values(schema["items"], named))[:1]
    elif kind == "map":
        yield {"k": next(iter(_values(schema["values"], named)))}
    else:
        yield from _values(kind, named)


def backward_incompatibilities(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Records written with ``previous`` that a ``current`` reader cannot read
    back (empty: BACKWARD compatible)."""
    writer = fastavro.parse_schema(copy.deepcopy(previous))
    reader = fastavro.parse_schema(copy.deepcopy(current))
    problems = []
    for value in _values(copy.deepcopy(previous), {}):
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, writer, value)
        buf.seek(0)
        try:
            fastavro.schemaless_reader(buf, writer, reader)
        except Exception as exc:  # fastavro raises several types for a failed resolution
            problems.append(f"{type(exc).__name__}: {exc}")
    return problems


@pytest.mark.parametrize("name", sorted(p.name for p in PREVIOUS.glob("*.avsc")))
def test_current_schema_reads_everything_the_previous_one_wrote(name: str) -> None:
    previous, current = _load(PREVIOUS / name), _load(schema_dir() / name)
    assert backward_incompatibilities(previous, current) == []


def test_the_check_fails_on_a_change_that_is_not_backward_compatible() -> None:
    previous = _load(PREVIOUS / "debt_event.avsc")
    broken = copy.deepcopy(previous)
    # Dropping a union branch and a type symbol: old PROMISE_TO_PAY data is unreadable.
    payload = next(f for f in broken["fields"] if f["name"] == "payload")
    payload["type"] = [b for b in payload["type"] if b["name"] != "PromiseToPay"]
    assert backward_incompatibilities(previous, broken)


def test_an_old_promise_decodes_into_the_new_model() -> None:
    """A PROMISE_TO_PAY written with the previous schema is a valid DebtEvent now."""
    previous = fastavro.parse_schema(_load(PREVIOUS / "debt_event.avsc"))
    current = fastavro.parse_schema(_load(schema_dir() / "debt_event.avsc"))
    record = {
        "event_id": "6a0c2b8e-1d4f-4e9a-b7c3-5f8e2d1a9b60",
        "occurred_at": 1_700_000_000_000,
        "source": "core-banking",
        "debtor_id": "D-1",
        "account_id": "A-1",
        "type": "PROMISE_TO_PAY",
        "payload": (
            "recaudo.v1.PromiseToPay",
            {
                "promise_id": "P-1",
                "amount_minor": 5000,
                "currency": "COP",
                "promised_date": date(2026, 12, 1),
                "channel": None,
            },
        ),
    }
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, previous, record)
    buf.seek(0)
    decoded = fastavro.schemaless_reader(buf, previous, current)
    assert isinstance(decoded, dict)
    event = events.DebtEvent.from_avro(decoded)
    assert isinstance(event.payload, events.PromiseToPay)
    assert event.payload.amount_minor == 5000


def test_the_new_type_is_one_a_bank_sends() -> None:
    assert "PAYMENT_PLAN_AGREED" in events.BANK_TYPES
    current = _load(schema_dir() / "debt_event.avsc")
    enum = next(f for f in current["fields"] if f["name"] == "type")["type"]
    assert enum["symbols"][-1] == "PAYMENT_PLAN_AGREED"
    payload = next(f for f in current["fields"] if f["name"] == "payload")["type"]
    assert payload[-1]["name"] == "PaymentPlanAgreed"


def test_a_plan_travels_in_the_confluent_format_both_writers_agree() -> None:
    """recaudo's own writer and confluent-kafka's encode the new branch the
    same, and the consumer's reader decodes it back."""
    serde = Serde(Settings())
    event = events.DebtEvent(
        occurred_at=datetime(2026, 12, 1, 12, tzinfo=UTC),
        source="recaudo.conversation",
        debtor_id="D-1",
        account_id="A-1",
        type="PAYMENT_PLAN_AGREED",
        payload=events.PaymentPlanAgreed(
            plan_id="PL-1",
            instalment_count=3,
            instalment_minor=133_334,
            currency="COP",
            first_due_date=date(2026, 12, 8),
            frequency="MONTHLY",
            total_minor=400_000,
            channel="whatsapp",
            conversation_id="D-1/wamid.1",
        ),
    )
    topic = serde.topics.debt_events
    data = serde.serialize(topic, event)
    assert data == serde.serialize_with_confluent(topic, event)
    assert serde.deserialize(topic, data) == event


def test_a_plan_must_cover_its_total() -> None:
    with pytest.raises(ValueError, match="must cover total_minor"):
        events.PaymentPlanAgreed(
            plan_id="PL-1",
            instalment_count=2,
            instalment_minor=100,
            currency="USD",
            first_due_date=date(2026, 12, 8),
            frequency="WEEKLY",
            total_minor=201,
        )
