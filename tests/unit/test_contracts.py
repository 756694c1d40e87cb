"""Every pydantic model agrees with its ``.avsc`` record, field for field."""

from __future__ import annotations

import io
import json
import types
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import fastavro
import pytest
from pydantic import AwareDatetime, BaseModel

from recaudo.contracts import records as events
from recaudo.contracts.records import AvroRecord
from recaudo.contracts.schemas import SCHEMA_FILES, schema_dir, schema_json
from tests.fixtures import debt_event, debtor_profile

MODELS: dict[str, type[AvroRecord]] = {
    obj.avro_name: obj
    for obj in vars(events).values()
    if isinstance(obj, type) and issubclass(obj, AvroRecord) and "avro_name" in vars(obj)
}


def _avro_records(schema: Any, found: dict[str, dict[str, Any]]) -> None:
    """Collect every named record in a schema, depth first."""
    if isinstance(schema, list):
        for branch in schema:
            _avro_records(branch, found)
    elif isinstance(schema, dict):
        if schema.get("type") == "record":
            found[schema["name"]] = schema
            for f in schema["fields"]:
                _avro_records(f["type"], found)
        elif schema.get("type") == "array":
            _avro_records(schema["items"], found)
        elif schema.get("type") == "map":
            _avro_records(schema["values"], found)


def _enums(schema: Any, found: dict[str, list[str]]) -> None:
    if isinstance(schema, list):
        for b in schema:
            _enums(b, found)
    elif isinstance(schema, dict):
        if schema.get("type") == "enum":
            found[schema["name"]] = schema["symbols"]
        for key in ("fields", "items", "values", "type"):
            value = schema.get(key)
            if isinstance(value, list) and key == "fields":
                for f in value:
                    _enums(f["type"], found)
            elif (value is not None and key != "type") or isinstance(value, dict | list):
                _enums(value, found)


def avro_shape(t: Any, enums: dict[str, list[str]]) -> Any:
    """A comparable description of an Avro type."""
    if isinstance(t, list):
        branches = [avro_shape(b, enums) for b in t if b != "null"]
        shape = branches[0] if len(branches) == 1 else ("union", frozenset(branches))
        return ("optional", shape) if "null" in t else shape
    if isinstance(t, dict):
        logical = t.get("logicalType")
        if logical == "uuid":
            return "uuid"
        if logical == "timestamp-millis":
            return "datetime"
        if logical == "date":
            return "date"
        kind = t["type"]
        if kind == "record":
            return ("record", t["name"])
        if kind == "enum":
            return ("enum", frozenset(t["symbols"]))
        if kind == "array":
            return ("list", avro_shape(t["items"], enums))
        if kind == "map":
            return ("dict", avro_shape(t["values"], enums))
        return avro_shape(kind, enums)
    primitives = {"string": "str", "long": "int", "int": "int", "boolean": "bool", "bytes": "bytes"}
    if t in primitives:
        return primitives[t]
    if t in enums:  # a reference to a named enum defined earlier
        return ("enum", frozenset(enums[t]))
    return ("record", t)  # a reference to a named record


def py_shape(annotation: Any) -> Any:
    """The same description for a pydantic field annotation."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return py_shape(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = get_args(annotation)
        branches = [py_shape(a) for a in args if a is not type(None)]
        shape = branches[0] if len(branches) == 1 else ("union", frozenset(branches))
        return ("optional", shape) if type(None) in args else shape
    if origin is Literal:
        return ("enum", frozenset(get_args(annotation)))
    if origin is list:
        return ("list", py_shape(get_args(annotation)[0]))
    if origin is dict:
        return ("dict", py_shape(get_args(annotation)[1]))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("record", annotation.avro_name)  # type: ignore[attr-defined]
    simple = {
        str: "str",
        int: "int",
        bool: "bool",
        bytes: "bytes",
        uuid.UUID: "uuid",
        datetime: "datetime",
        AwareDatetime: "datetime",
        date: "date",
    }
    return simple[annotation]


def all_records() -> list[tuple[str, dict[str, Any], dict[str, list[str]]]]:
    out = []
    for record in SCHEMA_FILES:
        schema = schema_json(record)
        found: dict[str, dict[str, Any]] = {}
        enums: dict[str, list[str]] = {}
        _avro_records(schema, found)
        _enums(schema, enums)
        out.extend((name, rec, enums) for name, rec in found.items())
    return out


def test_every_schema_file_is_known_and_parses() -> None:
    on_disk = {p.name for p in schema_dir().glob("*.avsc")}
    assert on_disk == set(SCHEMA_FILES.values())
    for record in SCHEMA_FILES:
        schema = schema_json(record)
        assert schema["namespace"] == "recaudo.v1"
        fastavro.parse_schema(schema)


@pytest.mark.parametrize(
    ("name", "record", "enums"), all_records(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_model_mirrors_record(
    name: str, record: dict[str, Any], enums: dict[str, list[str]]
) -> None:
    model = MODELS.get(name)
    assert model is not None, f"no pydantic model for Avro record {name}"
    avro_fields = {f["name"]: f for f in record["fields"]}
    assert list(avro_fields) == list(model.model_fields), f"{name}: field names or order differ"
    for field_name, avro_field in avro_fields.items():
        info = model.model_fields[field_name]
        assert py_shape(info.annotation) == avro_shape(avro_field["type"], enums), (
            f"{name}.{field_name}: model {info.annotation} vs avro {avro_field['type']}"
        )
        if "default" in avro_field:
            assert not info.is_required(), f"{name}.{field_name} has an Avro default"
            if avro_field["default"] is None:
                assert info.default is None


def test_top_level_events_carry_the_envelope() -> None:
    for record in SCHEMA_FILES:
        fields = [f["name"] for f in schema_json(record)["fields"]]
        assert fields[:3] == ["event_id", "occurred_at", "source"], record
        # DeadLetter: keyed by the original message's key; KpiWindow: by dimension
        # member; LearnerModel and LearnerSwitch: one key each.
        if record not in ("DeadLetter", "KpiWindow", "LearnerModel", "LearnerSwitch"):
            assert fields[3] == "debtor_id", record


def test_money_is_never_a_float() -> None:
    text = "".join((schema_dir() / f).read_text() for f in SCHEMA_FILES.values())
    assert '"float"' not in text and '"double"' not in text


def _roundtrip(record: str, event: AvroRecord) -> Any:
    parsed = fastavro.parse_schema(schema_json(record))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, event.to_avro())
    buf.seek(0)
    return type(event).from_avro(fastavro.schemaless_reader(buf, parsed, parsed))


@pytest.mark.parametrize("event_type", sorted(events.PAYLOAD_BY_TYPE))
def test_every_debt_event_type_roundtrips_through_avro(event_type: str) -> None:
    model = events.PAYLOAD_BY_TYPE[event_type]
    samples: dict[str, Any] = {
        "str": "X-1",
        "int": 7,
        "bool": True,
        "date": "2026-12-01",
        ("enum", frozenset(["UPHELD", "REJECTED", "WITHDRAWN"])): "UPHELD",
    }
    payload: dict[str, Any] = {}
    for fname, info in model.model_fields.items():
        shape = py_shape(info.annotation)
        if fname == "currency":
            payload[fname] = "COP"
        elif isinstance(shape, tuple) and shape[0] == "enum":
            payload[fname] = sorted(shape[1])[0]
        elif isinstance(shape, tuple) and shape[0] == "optional":
            payload[fname] = None
        else:
            payload[fname] = samples[shape]
    event = debt_event(type=event_type, payload=payload)
    assert _roundtrip("DebtEvent", event) == event


def test_profile_roundtrips_and_keeps_consent() -> None:
    profile = debtor_profile()
    back = _roundtrip("DebtorProfile", profile)
    assert back == profile
    assert back.contact_points[0].consent is True


def test_payload_must_match_type() -> None:
    with pytest.raises(ValueError, match="PAYMENT_RECEIVED needs a PaymentReceived payload"):
        events.DebtEvent(
            occurred_at=datetime(2026, 1, 1, tzinfo=events.UTC),
            source="s",
            debtor_id="d",
            account_id="a",
            type="PAYMENT_RECEIVED",
            payload=events.DisputeOpened(dispute_id="x", reason="y"),
        )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {
                "instalment_number": 1,
                "amount_minor": -5,
                "currency": "USD",
                "due_date": "2026-01-01",
            },
            "negative",
        ),
        (
            {
                "instalment_number": 1,
                "amount_minor": 5,
                "currency": "XYZ",
                "due_date": "2026-01-01",
            },
            "unknown currency",
        ),
        (
            {
                "instalment_number": 1,
                "amount_minor": 5.5,
                "currency": "USD",
                "due_date": "2026-01-01",
            },
            "integer",
        ),
    ],
)
def test_business_rules_reject_bad_money(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        debt_event(payload=payload)


def test_profile_rules() -> None:
    with pytest.raises(ValueError, match="IANA time zone"):
        debtor_profile(time_zone="Mars/Olympus")
    with pytest.raises(ValueError, match=r"E\.164"):
        debtor_profile(
            contact_points=[{"channel": "sms", "address": "3001112233", "consent": True}]
        )


def test_timestamps_are_utc_millis() -> None:
    from datetime import timedelta, timezone

    local = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=-5)))
    event = debt_event(occurred_at=local)
    assert event.occurred_at == datetime(2026, 3, 1, 14, 30, 0, 123000, tzinfo=events.UTC)
    with pytest.raises(ValueError):
        debt_event(occurred_at=datetime(2026, 3, 1))  # naive: whose midnight?


def test_json_examples_in_docs_parse() -> None:
    # The schema docs promise that `type` names the payload branch.
    doc = schema_json("DebtEvent")["doc"]
    assert "payload" in doc and json.dumps(doc)
