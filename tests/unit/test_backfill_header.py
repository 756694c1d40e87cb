"""The ``recaudo-backfill`` header a bank's producer sets on history."""

from __future__ import annotations

import pytest

from recaudo.kafka.producer import BACKFILL_HEADER, is_backfill


@pytest.mark.parametrize("value", [b"true", b"TRUE", b" True ", b"1", "true"])
def test_true_or_1_marks_history(value: bytes | str) -> None:
    assert is_backfill([("ce_id", b"x"), (BACKFILL_HEADER, value)])


@pytest.mark.parametrize("value", [b"false", b"0", b"", b"yes please", None, b"\xff"])
def test_anything_else_is_live(value: bytes | None) -> None:
    assert not is_backfill([(BACKFILL_HEADER, value)])


def test_no_headers_or_another_name_is_live() -> None:
    assert not is_backfill(None)
    assert not is_backfill([])
    assert not is_backfill([("Recaudo-Backfill-Other", b"true")])
