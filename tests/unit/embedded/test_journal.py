"""The journal's file format: what is written is read back; a crash's torn
line is dropped and cut off, an unreadable line is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recaudo.embedded.journal import Entry, read_entries, repair

entries = st.builds(
    Entry,
    partition=st.integers(0, 1_000),
    timestamp=st.none() | st.integers(0, 2**62),
    key=st.none() | st.binary(max_size=64),
    value=st.none() | st.binary(max_size=512),
    headers=st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=40)), max_size=5),
)


@given(st.lists(entries, max_size=20))
def test_what_is_written_is_read_back(
    tmp_path_factory: pytest.TempPathFactory, written: list[Entry]
) -> None:
    path = _fresh(tmp_path_factory)
    path.write_bytes(b"".join(entry.to_line() for entry in written))
    assert list(read_entries(path)) == written


@given(st.lists(entries, min_size=1, max_size=10), st.data())
def test_a_line_cut_short_is_dropped_and_cut_off(
    tmp_path_factory: pytest.TempPathFactory, written: list[Entry], data: st.DataObject
) -> None:
    path = _fresh(tmp_path_factory)
    whole = b"".join(entry.to_line() for entry in written[:-1])
    last = written[-1].to_line()
    torn = last[: data.draw(st.integers(1, len(last) - 1))]
    path.write_bytes(whole + torn)
    assert list(read_entries(path)) == written[:-1]
    repair(path)
    assert path.read_bytes() == whole
    with path.open("ab") as handle:
        handle.write(last)
    assert list(read_entries(path)) == written


def test_an_unreadable_line_is_skipped(tmp_path: Path) -> None:
    first = Entry(0, 1, b"k", b"v", [("ce_id", b"1")])
    second = Entry(1, None, None, None, [])
    path = tmp_path / "debt-events.jsonl"
    path.write_bytes(first.to_line() + b'{"p": "not a record"}\n' + second.to_line())
    assert list(read_entries(path)) == [first, second]


def test_a_missing_or_whole_file_needs_no_repair(tmp_path: Path) -> None:
    path = tmp_path / "debtor-profiles.jsonl"
    repair(path)
    assert not path.exists()
    line = Entry(0, 1, b"k", b"v", []).to_line()
    path.write_bytes(line)
    repair(path)
    assert path.read_bytes() == line


def _fresh(factory: pytest.TempPathFactory) -> Path:
    # Hypothesis runs many examples in one test: each gets a file of its own.
    return factory.mktemp("journal") / "debt-events.jsonl"
