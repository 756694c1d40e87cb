"""The snapshot coalescer: each change comes out once, latest value, after its quiet time."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recaudo.view.coalesce import Coalescer


def test_a_burst_comes_out_once_with_its_last_value_after_the_quiet_time() -> None:
    c: Coalescer[str, int] = Coalescer(0.25)
    c.mark("D-1", 1, now=10.0)
    c.mark("D-1", 2, now=10.1)
    c.mark("D-1", 3, now=10.2)
    assert c.settled(now=10.4, limit=10) == []  # 0.2 s since its last change
    assert c.settled(now=10.45, limit=10) == [("D-1", 3)]
    assert c.settled(now=11.0, limit=10) == [] and len(c) == 0


def test_oldest_change_first_and_at_most_limit() -> None:
    c: Coalescer[str, str] = Coalescer(0.1)
    for i, key in enumerate(["a", "b", "c", "d"]):
        c.mark(key, key.upper(), now=float(i))
    c.mark("a", "A2", now=3.5)  # changed again: behind the others now
    assert c.settled(now=10.0, limit=2) == [("b", "B"), ("c", "C")]
    assert c.settled(now=10.0, limit=5) == [("d", "D"), ("a", "A2")]


def test_drain_hands_out_what_is_still_settling() -> None:
    c: Coalescer[str, int] = Coalescer(1.0)
    c.mark("a", 1, now=0.0)
    c.mark("b", 2, now=0.9)
    assert c.settled(now=1.5, limit=10) == [("a", 1)]
    assert c.drain() == [("b", 2)] and len(c) == 0


def test_quiet_time_is_not_negative() -> None:
    with pytest.raises(ValueError, match="quiet_s"):
        Coalescer(-1.0)


changes = st.lists(
    st.tuples(st.sampled_from("abcdef"), st.floats(min_value=0, max_value=0.5)),
    max_size=60,
)


@given(changes=changes, quiet=st.floats(min_value=0, max_value=1), limit=st.integers(1, 4))
def test_every_change_comes_out_once_and_the_last_value_is_the_latest(
    changes: list[tuple[str, float]], quiet: float, limit: int
) -> None:
    """Marks at increasing times with settled() between them, then a drain:
    each key comes out with its latest value last, never while settling, and
    never twice for one change."""
    c: Coalescer[str, int] = Coalescer(quiet)
    now = 0.0
    out: list[tuple[str, int]] = []
    latest: dict[str, int] = {}
    marked_at: dict[str, float] = {}
    for seq, (key, gap) in enumerate(changes):
        now += gap
        for k, v in c.settled(now, limit):
            assert now - marked_at[k] >= quiet and v == latest[k]
            out.append((k, v))
        c.mark(key, seq, now)
        latest[key], marked_at[key] = seq, now
    out.extend(c.drain())
    last: dict[str, int] = {}
    for k, v in out:
        last[k] = v
    assert last == latest
    assert len(out) <= len(changes)
    assert len(set(out)) == len(out)
