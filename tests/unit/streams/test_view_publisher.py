"""The view publisher's decoding of debtor-states values (pure: no Kafka)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recaudo.kafka.serde import DecodeError
from streams.view_publisher import decode_state
from tests.unit.streams.builders import folded, history


def test_a_stored_state_decodes_to_the_same_bytes() -> None:
    raw = folded(history())
    assert decode_state(raw).encode() == raw


@pytest.mark.parametrize("value", [None, b""])
def test_nothing_is_not_a_state(value: bytes | None) -> None:
    with pytest.raises(DecodeError, match="empty"):
        decode_state(value)


@given(st.binary(min_size=1, max_size=200))
def test_any_bytes_decode_or_raise_a_decode_error(value: bytes) -> None:
    # Whatever arrives, the publisher dead-letters it or snapshots it: it never
    # fails with another error and stops.
    with contextlib.suppress(DecodeError):
        decode_state(value)
