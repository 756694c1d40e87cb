"""Identifiers in lists: ends kept, the middle masked."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from recaudo.desk.masking import MASK, mask_id


def test_examples() -> None:
    assert mask_id("D-CO-0001") == "D-•••••01"
    assert mask_id("AB123") == "••••3"
    assert mask_id(None) == mask_id("") == ""


@given(st.text(alphabet=st.characters(blacklist_characters=MASK), min_size=1, max_size=40))
def test_same_length_and_at_most_four_characters_shown(value: str) -> None:
    masked = mask_id(value)
    assert len(masked) == len(value)
    shown = [c for c in masked if c != MASK]
    assert len(shown) <= min(4, max(1, len(value) - 3))
    if len(value) > 6:
        assert masked[2:-2] == MASK * (len(value) - 4)
