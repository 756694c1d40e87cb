"""The compiled Avro encoders write fastavro's bytes, for every catalogue
record and for every type they support, at the edges of each."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.kafka.avro_writer import UnsupportedSchema, compile_encoder, encoder_for
from recaudo.kafka.serde import fastavro_body as fastavro_bytes
from recaudo.view import apply, snapshot
from tests.unit.view.strategies import histories


@settings(max_examples=60, deadline=None)
@given(events=histories(max_size=30))
def test_events_and_the_views_they_fold_into_encode_as_fastavro_does(events: list[Any]) -> None:
    state = None
    for event in events:
        assert encoder_for(event.avro_name)(event) == fastavro_bytes(event)
        state = apply(state, event).state
    assert state is not None
    view = snapshot(state, events[0].debtor_id)
    assert encoder_for(view.avro_name)(view) == fastavro_bytes(view)


def test_the_header_comes_first() -> None:
    from tests.fixtures import debt_event

    event = debt_event()
    assert encoder_for("DebtEvent", b"\x00\x00\x00\x00\x07")(event) == (
        b"\x00\x00\x00\x00\x07" + fastavro_bytes(event)
    )


# A record with every supported type, to reach values the catalogue's
# business rules never produce (negative and 64-bit longs, long and non-ASCII
# strings, NaN, null in either union position).
KIND = {"type": "enum", "name": "Kind", "symbols": ["A", "B", "C"]}
INNER = {"type": "record", "name": "Inner", "fields": [{"name": "n", "type": "long"}]}
OTHER = {"type": "record", "name": "Other", "fields": [{"name": "s", "type": "string"}]}
EVERYTHING = {
    "type": "record",
    "name": "Everything",
    "namespace": "test.v1",
    "fields": [
        {"name": "flag", "type": "boolean"},
        {"name": "from", "type": "string"},  # a Python keyword
        {"name": "small", "type": "int"},
        {"name": "big", "type": "long"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "text", "type": "string"},
        {"name": "raw", "type": "bytes"},
        {"name": "kind", "type": KIND},
        {"name": "kinds", "type": {"type": "array", "items": "Kind"}},
        {"name": "inner", "type": INNER},
        {"name": "inners", "type": {"type": "array", "items": "Inner"}},
        {"name": "labels", "type": {"type": "map", "values": "long"}},
        {"name": "maybe_text", "type": ["null", "string"]},
        {"name": "text_or_null", "type": ["string", "null"]},
        {"name": "either", "type": ["null", "Inner", OTHER]},
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
    ],
}
LONGS = st.integers(-(2**63), 2**63 - 1)
INTS = st.integers(-(2**31), 2**31 - 1)


def inner(n: int) -> SimpleNamespace:
    return SimpleNamespace(n=n, avro_name="Inner")


@st.composite
def everything(draw: st.DrawFn) -> SimpleNamespace:
    either = draw(
        st.one_of(
            st.none(),
            LONGS.map(inner),
            st.text().map(lambda s: SimpleNamespace(s=s, avro_name="Other")),
        )
    )
    value = SimpleNamespace(
        flag=draw(st.booleans()),
        small=draw(INTS),
        big=draw(LONGS),
        f=draw(st.floats(width=32, allow_nan=False)),
        d=draw(st.floats()),
        text=draw(st.text(max_size=200)),
        raw=draw(st.binary(max_size=200)),
        kind=draw(st.sampled_from(KIND["symbols"])),
        kinds=draw(st.lists(st.sampled_from(KIND["symbols"]), max_size=5)),
        inner=inner(draw(LONGS)),
        inners=[inner(n) for n in draw(st.lists(LONGS, max_size=4))],
        labels=draw(st.dictionaries(st.text(max_size=80), LONGS, max_size=4)),
        maybe_text=draw(st.none() | st.text(max_size=80)),
        text_or_null=draw(st.none() | st.text(max_size=80)),
        either=either,
        id=draw(st.uuids()),
        day=draw(st.dates(date(1900, 1, 1), date(2200, 1, 1))),
        at=draw(
            st.none()
            | st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC))
        ),
    )
    setattr(value, "from", draw(st.text(max_size=10)))
    return value


def as_dict(value: SimpleNamespace) -> dict[str, Any]:
    """The dict fastavro writes for the same value."""
    out = {k: v for k, v in vars(value).items() if k != "avro_name"}
    out["inner"] = {"n": value.inner.n}
    out["inners"] = [{"n": i.n} for i in value.inners]
    if value.either is not None:
        name = value.either.avro_name
        fields = {k: v for k, v in vars(value.either).items() if k != "avro_name"}
        out["either"] = (f"test.v1.{name}", fields)
    return out


@settings(max_examples=300, deadline=None)
@given(value=everything())
def test_every_supported_type_encodes_as_fastavro_does(value: SimpleNamespace) -> None:
    encode = compile_encoder(EVERYTHING)
    expected = io.BytesIO()
    fastavro.schemaless_writer(expected, fastavro.parse_schema(EVERYTHING), as_dict(value))
    assert encode(value) == expected.getvalue()


def test_timestamps_in_any_zone_are_the_instant_and_need_a_zone() -> None:
    schema = {
        "type": "record",
        "name": "T",
        "fields": [{"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}],
    }
    encode = compile_encoder(schema)
    at = datetime(2026, 12, 2, 14, 0, 0, 123456, tzinfo=UTC)
    bogota = at.astimezone(timezone(timedelta(hours=-5)))
    expected = io.BytesIO()
    fastavro.schemaless_writer(expected, fastavro.parse_schema(schema), {"at": bogota})
    assert encode(SimpleNamespace(at=bogota)) == encode(SimpleNamespace(at=at))
    assert encode(SimpleNamespace(at=bogota)) == expected.getvalue()
    with pytest.raises(ValueError, match="has no time zone"):
        encode(SimpleNamespace(at=at.replace(tzinfo=None)))


@pytest.mark.parametrize(
    ("field_type", "message"),
    [
        ({"type": "fixed", "name": "F", "size": 4}, "type 'fixed'"),
        (["string", "long"], "only null with one type, or records"),
        ({"type": "bytes", "logicalType": "decimal", "precision": 4}, "logical type 'decimal'"),
        ("Missing", "unknown named type 'Missing'"),
    ],
)
def test_what_is_not_supported_is_refused_when_built(field_type: Any, message: str) -> None:
    schema = {"type": "record", "name": "R", "fields": [{"name": "x", "type": field_type}]}
    with pytest.raises(UnsupportedSchema, match=message):
        compile_encoder(schema)


@pytest.mark.parametrize("length", [0, 1, 63, 64, 65, 127, 128, 8191, 8192, 100_000])
def test_lengths_at_every_varint_boundary(length: int) -> None:
    schema = {
        "type": "record",
        "name": "S",
        "fields": [{"name": "text", "type": "string"}, {"name": "raw", "type": "bytes"}],
    }
    # Two-byte characters: the length written is of the UTF-8 bytes.
    value = SimpleNamespace(text="ñ" * (length // 2) + "a" * (length % 2), raw=b"x" * length)
    expected = io.BytesIO()
    fastavro.schemaless_writer(expected, fastavro.parse_schema(schema), vars(value))
    assert compile_encoder(schema)(value) == expected.getvalue()
