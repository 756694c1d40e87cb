"""What every consumer reads before a record's value: the key as text and the
headers recaudo reads, each readable or a DecodeError saying why; and the
dead letter an unreadable record becomes, with its bytes as they came."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.trace import get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from recaudo.kafka.cloudevents import ce_headers
from recaudo.kafka.dead_letters import dead_letter_for
from recaudo.kafka.serde import DecodeError, check_header, read_key, read_record, valid_traceparent
from tests.fixtures import debt_event

TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@dataclass
class Message:
    key_: bytes | None = b"D-1"
    value_: bytes | None = b"value"
    headers_: list[tuple[str, bytes | None]] = field(default_factory=list)
    unreadable_headers: bool = False

    def topic(self) -> str:
        return "recaudo.debt-events"

    def partition(self) -> int:
        return 2

    def offset(self) -> int:
        return 41

    def key(self) -> bytes | None:
        return self.key_

    def value(self) -> bytes | None:
        return self.value_

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        if self.unreadable_headers:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
        return self.headers_

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)


@given(st.text(min_size=1))
def test_any_utf8_key_reads_as_its_text(text: str) -> None:
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        return  # lone surrogates have no UTF-8 form
    assert read_key(encoded) == text


@given(st.binary(min_size=1))
def test_a_key_that_is_not_utf8_is_a_decode_error(raw: bytes) -> None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        with pytest.raises(DecodeError, match="is not UTF-8 text"):
            read_key(raw)
    else:
        assert read_key(raw) == raw.decode("utf-8")


@pytest.mark.parametrize(("key", "reason"), [(None, "has no key"), (b"", "key is empty")])
def test_a_missing_or_empty_key_is_a_decode_error(key: bytes | None, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        read_key(key)


def test_the_headers_recaudo_writes_are_readable() -> None:
    headers = [*ce_headers(debt_event()), ("traceparent", TRACEPARENT), ("tracestate", b"k=v")]
    assert read_record(Message(headers_=list(headers))) == "D-1"


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("traceparent", b"00-this-is-not-a-trace-01", "W3C trace context"),
        ("traceparent", b"00-" + b"0" * 32 + b"-00f067aa0ba902b7-01", "W3C trace context"),
        ("traceparent", b"\xff\xfe", "not UTF-8"),
        ("traceparent", None, "has no value"),
        ("tracestate", b"not a list member", "tracestate"),
        ("ce_time", b"yesterday", "RFC 3339"),
        ("ce_specversion", b"0.3", "CloudEvents 1.0"),
        ("ce_id", b"\xff\x82", "not UTF-8"),
        ("ce_source", b"  ", "blank"),
        ("content-type", b"\xc3", "not UTF-8"),
    ],
)
def test_a_garbled_header_recaudo_reads_is_a_decode_error(
    name: str, value: bytes | None, reason: str
) -> None:
    with pytest.raises(DecodeError, match=reason):
        check_header(name, value)
    with pytest.raises(DecodeError, match=reason):
        read_record(Message(headers_=[(name, value)]))


@given(st.binary() | st.none())
def test_headers_recaudo_does_not_read_are_carried_as_they_are(value: bytes | None) -> None:
    check_header("origin", value)


def test_headers_the_client_cannot_read_are_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="headers cannot be read"):
        read_record(Message(unreadable_headers=True))


def test_a_dead_letter_keeps_the_original_bytes_and_says_why() -> None:
    message = Message(
        key_=b"\xff\x82", value_=b"\x00\x01", headers_=[("ce_time", b"\xff"), ("x", None)]
    )
    with pytest.raises(DecodeError) as caught:
        read_record(message)
    letter = dead_letter_for(message, caught.value, "recaudo.view", "g.view")
    assert (letter.key, letter.value) == (b"\xff\x82", b"\x00\x01")
    assert [(h.key, h.value) for h in letter.headers] == message.headers_
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        "recaudo.debt-events",
        2,
        41,
    )
    assert letter.error_type == "DECODE_ERROR"
    assert "ce_time" in letter.error_message


def test_the_same_message_given_up_on_again_is_the_same_dead_letter() -> None:
    first = dead_letter_for(Message(key_=None), DecodeError("x"), "recaudo.timers", "g.timers")
    again = dead_letter_for(Message(key_=None), DecodeError("x"), "recaudo.timers", "g.timers")
    other = dead_letter_for(Message(key_=None), DecodeError("x"), "recaudo.kpis", "g.kpis")
    assert first.event_id == again.event_id != other.event_id


def test_a_dead_letter_of_unreadable_headers_says_they_were_not_kept() -> None:
    message = Message(unreadable_headers=True)
    letter = dead_letter_for(message, DecodeError("headers cannot be read"), "s", "g")
    assert letter.headers == []
    assert "headers not kept" in letter.error_message


_hex = st.sampled_from("0123456789abcdef")


@st.composite
def traceparents(draw: st.DrawFn) -> str:
    """Near-valid traceparents: at most one part zero, wrongly sized or cased."""
    broken = draw(st.sampled_from([None, 32, 16, 2]))
    flaw = draw(st.sampled_from(["zero", "short", "upper"]))

    def part(size: int) -> str:
        if size == broken and flaw == "zero":
            return "0" * size
        text = "".join(draw(st.lists(_hex, min_size=size, max_size=size)))
        if size != broken:
            return text
        return text[:-1] if flaw == "short" else text.upper()

    version = draw(st.sampled_from(["00", "01", "fe", "ff", "0g"]))
    tail = draw(st.sampled_from(["", "-extra", " ", "\t", "\n", "-x\ny", " x"]))
    return f"{version}-{part(32)}-{part(16)}-{part(2)}{tail}"


@given(traceparents() | st.text(max_size=80))
def test_a_traceparent_is_valid_when_opentelemetry_would_continue_it(text: str) -> None:
    context = TraceContextTextMapPropagator().extract({"traceparent": text})
    continued = get_current_span(context).get_span_context().is_valid
    assert valid_traceparent(text) == continued
