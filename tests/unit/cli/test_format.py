"""Terminal tables: a header row, aligned columns, and bytes shown safely."""

from __future__ import annotations

import base64
import uuid

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recaudo.cli.format import (
    CELL_WIDTH,
    dead_letter_json,
    dead_letter_row,
    kpi_members_table,
    kpi_overall_table,
    readable_bytes,
    render_table,
)
from recaudo.cli.inspect import select_letters
from recaudo.cli.main import bucket_named
from recaudo.contracts.records import DeadLetter, Header
from recaudo.kpis import Counters
from recaudo.view.buckets import BUCKETS
from tests.fixtures import T0


def test_a_table_has_its_header_first_and_numbers_right_aligned() -> None:
    text = render_table(
        ("DEBTOR", "BUCKET", "DPD", "WHEN"),
        [["D-1", "DPD_90_PLUS", "120", "2026-11-02 15:00"], ["D-22", "CURRENT", "0", "—"]],
    )
    header, first, second = text.splitlines()
    assert header == "DEBTOR  BUCKET       DPD  WHEN"
    assert first == "D-1     DPD_90_PLUS  120  2026-11-02 15:00"
    assert second == "D-22    CURRENT        0  —"


@given(
    st.lists(
        st.lists(st.text(min_size=0, max_size=90), min_size=3, max_size=3),
        max_size=8,
    )
)
def test_every_row_has_the_headers_columns_and_cells_are_cut_to_one_line(
    rows: list[list[str]],
) -> None:
    lines = render_table(("A", "B", "C"), rows).split("\n")
    assert len(lines) == 1 + len(rows)
    assert lines[0].split() == ["A", "B", "C"]
    for line in lines:
        assert "\n" not in line and "\r" not in line
        assert len(line) <= 3 * CELL_WIDTH + 4


def test_bytes_are_shown_as_text_only_when_they_are_printable_utf8() -> None:
    assert readable_bytes(b"D-1") == "D-1"
    assert readable_bytes(None) == "—"
    assert readable_bytes(b"\xff\xfe") == "<2 bytes, not UTF-8>"
    assert readable_bytes(b"a\nb") == "'a\\nb'"


def letter(event_id: uuid.UUID, topic: str = "recaudo.debt-events") -> DeadLetter:
    return DeadLetter(
        event_id=event_id,
        occurred_at=T0,
        source="recaudo.view",
        consumer_group="recaudo.view",
        source_topic=topic,
        source_partition=2,
        source_offset=41,
        key=b"\xff",
        value=b"\x00\x01",
        headers=[Header(key="ce_id", value=b"x"), Header(key="empty", value=None)],
        error_type="DECODE_ERROR",
        error_message="not Avro",
    )


def test_a_dead_letter_row_names_its_source_and_its_json_keeps_every_byte() -> None:
    found = letter(uuid.UUID("12345678-0000-4000-8000-000000000000"))
    row = dead_letter_row(found)
    assert row[2] == "recaudo.debt-events[2]@41"
    assert row[3:] == ["DECODE_ERROR", "not Avro", "<1 bytes, not UTF-8>"]
    data = dead_letter_json(found)
    assert data["key"] is None and base64.b64decode(data["key_base64"]) == b"\xff"
    assert base64.b64decode(data["value_base64"]) == b"\x00\x01"
    assert data["headers"] == [
        {"key": "ce_id", "value_base64": "eA=="},
        {"key": "empty", "value_base64": None},
    ]


def test_dead_letters_are_chosen_by_a_unique_start_of_their_id_or_by_topic() -> None:
    a = letter(uuid.UUID("aaaaaaaa-1111-4000-8000-000000000000"))
    b = letter(uuid.UUID("aaaaaaaa-2222-4000-8000-000000000000"), topic="recaudo.debtor-profiles")
    letters = [a, b, a]  # the same letter written twice
    assert select_letters(letters, ["AAAAAAAA-1"], None, False) == [a]
    assert select_letters(letters, [], "recaudo.debtor-profiles", True) == [b]
    with pytest.raises(click.BadParameter, match="starts 2 ids"):
        select_letters(letters, ["aaaaaaaa"], None, False)
    with pytest.raises(click.BadParameter, match="at least 8"):
        select_letters(letters, ["aaaa"], None, False)
    with pytest.raises(click.BadParameter, match="no dead letter"):
        select_letters(letters, ["bbbbbbbb"], None, False)


@pytest.mark.parametrize(
    ("name", "bucket"),
    [
        ("90+", "DPD_90_PLUS"),
        ("DPD_90_PLUS", "DPD_90_PLUS"),
        ("dpd_90_plus", "DPD_90_PLUS"),
        ("Current", "CURRENT"),
        ("1-30", "DPD_1_30"),
        ("DPD_31_60", "DPD_31_60"),
    ],
)
def test_a_bucket_is_taken_as_listed_or_by_its_short_name(name: str, bucket: str) -> None:
    assert bucket_named(name) == bucket


def test_every_bucket_as_listed_is_accepted_and_a_wrong_one_names_them() -> None:
    assert [bucket_named(b) for b in BUCKETS] == list(BUCKETS)
    with pytest.raises(click.BadParameter, match=r"DPD_90_PLUS \(90\+\)"):
        bucket_named("DPD_91")


def test_kpi_tables_name_the_figures_as_the_dashboard_and_money_per_line() -> None:
    c = Counters(
        contacts=40,
        cures=9,
        episodes=20,
        contacted_cures=5,
        contacts_to_cure=12,
        recovered_minor={"USD": 1_050, "COP": 150_000},
    )
    overall = kpi_overall_table(c).splitlines()
    assert overall[0].split() == ["FIGURE", "VALUE", "DEFINITION"]
    cured = next(line for line in overall if line.startswith("Cured after contact"))
    assert cured.split()[3] == "5"
    money = [line for line in overall if "COP" in line or "USD" in line]
    assert len(money) == 2 and "COP 1,500.00" in money[0] and "USD 10.50" in money[1]
    members = kpi_members_table("Channel", [("sms", c)]).splitlines()
    assert members[0].startswith("CHANNEL") and "CURED AFTER CONTACT" in members[0]
    assert members[1].split()[0] == "sms" and members[1].endswith("COP 1,500.00")
    assert members[2].strip() == "USD 10.50"


def test_the_kpi_table_adds_the_conversation_figures_when_there_were_conversations() -> None:
    quiet = kpi_overall_table(Counters(contacts=2))
    assert "Replies understood" not in quiet
    talk = kpi_overall_table(Counters(contacts=2, messages_read=4, messages_understood=3))
    row = next(line for line in talk.splitlines() if line.startswith("Replies understood"))
    assert "75.0%" in row
