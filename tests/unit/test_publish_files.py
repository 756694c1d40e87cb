from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from recaudo.contracts.bank_files import (
    EventFile,
    FileError,
    RejectsFile,
    Row,
    RowError,
    parse_decimal,
    read_csv,
    read_events,
    read_jsonl,
    rejects_path_for,
)
from recaudo.contracts.records import DebtEvent, DebtorProfile

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_example_files_are_entirely_valid() -> None:
    rows = list(read_events(EXAMPLES / "portfolio.jsonl")) + list(
        read_events(EXAMPLES / "debt-events.csv")
    )
    assert [r for r in rows if isinstance(r, RowError)] == []
    kinds = {type(r.event) for r in rows if isinstance(r, Row)}
    assert kinds == {DebtEvent, DebtorProfile}


def test_bad_rows_are_reported_with_line_and_reason_and_good_ones_kept() -> None:
    good = {
        "occurred_at": "2026-11-01T00:00:00Z",
        "debtor_id": "D",
        "account_id": "A",
        "type": "PAYMENT_RECEIVED",
        "payload": {"payment_id": "p1", "amount_minor": 100, "currency": "USD"},
    }
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({**good, "payload": {**good["payload"], "amount_minor": -1}}),
        json.dumps({**good, "payload": {**good["payload"], "currency": "DOLLARS"}}),
        json.dumps({"hello": "world"}),
        "",
        json.dumps({**good, "type": "PAYMENT_MISSED"}),
    ]
    rows = list(read_jsonl(io.StringIO("\n".join(lines)), "test"))
    errors = {r.line: r.reason for r in rows if isinstance(r, RowError)}
    assert [r.line for r in rows if isinstance(r, Row)] == [1]
    assert "not valid JSON" in errors[2]
    assert "negative" in errors[3]
    assert "unknown currency 'DOLLARS'" in errors[4]
    assert "cannot tell which event" in errors[5]
    assert "PaymentMissed" in errors[7] or "payload" in errors[7]


def test_missing_event_id_is_derived_from_content() -> None:
    line = json.dumps(
        {
            "occurred_at": "2026-11-01T00:00:00Z",
            "debtor_id": "D",
            "account_id": "A",
            "type": "DISPUTE_OPENED",
            "payload": {"dispute_id": "x", "reason": "y"},
        }
    )
    first = next(read_jsonl(io.StringIO(line), "s"))
    again = next(read_jsonl(io.StringIO(line), "s"))
    other = next(read_jsonl(io.StringIO(line.replace('"y"', '"z"')), "s"))
    assert isinstance(first, Row) and isinstance(again, Row) and isinstance(other, Row)
    assert first.event.event_id == again.event.event_id != other.event.event_id


def test_csv_rows() -> None:
    text = (
        "debtor_id,account_id,type,occurred_at,payment_id,amount_minor,currency,reason\n"
        "D1,A1,PAYMENT_RECEIVED,2026-11-01T10:00:00Z,P1,500,COP,\n"
        "D1,A1,PAYMENT_RECEIVED,2026-11-01T10:00:00Z,P2,500,COP,oops\n"
        "D1,A1,NOT_A_TYPE,2026-11-01T10:00:00Z,,,,\n"
    )
    rows = list(read_csv(io.StringIO(text), "bank"))
    assert isinstance(rows[0], Row) and rows[0].event.source == "bank"
    assert isinstance(rows[1], RowError) and rows[1].line == 3 and "reason" in rows[1].reason
    assert isinstance(rows[2], RowError) and rows[2].line == 4 and "NOT_A_TYPE" in rows[2].reason


def test_csv_header_must_have_envelope_columns() -> None:
    with pytest.raises(FileError, match=r"missing required column.*account_id"):
        read_csv(io.StringIO("debtor_id,amount_minor\nD,1\n"), "s")


# --- files as banks' spreadsheets save them ------------------------------------------

PAYMENTS_HEADER = ["debtor_id", "account_id", "type", "occurred_at", "payment_id", "currency"]


def payment_rows(amount_column: str, amounts: list[str]) -> list[list[str]]:
    header = [*PAYMENTS_HEADER, amount_column]
    rows = [
        ["D-ES-1", "ACC-1", "PAYMENT_RECEIVED", f"2026-11-0{i + 1}T10:00:00Z", f"P{i}", "EUR", a]
        for i, a in enumerate(amounts)
    ]
    return [header, *rows]


def write(path: Path, rows: list[list[str]], delimiter: str, encoding: str, eol: str) -> Path:
    text = eol.join(delimiter.join(cells) for cells in rows) + eol
    path.write_bytes(text.encode(encoding))
    return path


def amounts_of(rows: list[Row | RowError]) -> list[int]:
    assert [r for r in rows if isinstance(r, RowError)] == []
    events = [r.event for r in rows if isinstance(r, Row)]
    return [e.payload.amount_minor for e in events if isinstance(e, DebtEvent)]  # type: ignore[union-attr]


def test_excel_utf8_with_bom_and_crlf_reads_every_row(tmp_path: Path) -> None:
    file = write(
        tmp_path / "excel.csv",
        payment_rows("amount_minor", ["500", "1250"]),
        ",",
        "utf-8-sig",
        "\r\n",
    )
    assert file.read_bytes().startswith(b"\xef\xbb\xbfdebtor_id")
    rows = list(read_events(file))
    assert amounts_of(rows) == [500, 1250]
    assert [r.line for r in rows] == [2, 3]


def test_semicolon_csv_reads_decimal_commas_in_major_units(tmp_path: Path) -> None:
    file = write(
        tmp_path / "banco.csv",
        payment_rows("amount", ["1.234,56", "7,5", "12"]),
        ";",
        "utf-8-sig",
        "\r\n",
    )
    with EventFile(file) as events:
        assert events.describe() == "CSV, semicolon-separated, decimal commas, UTF-8 with BOM"
        assert amounts_of(list(events)) == [123456, 750, 1200]


def test_minor_unit_columns_with_decimal_commas_must_be_whole(tmp_path: Path) -> None:
    file = write(
        tmp_path / "banco.csv",
        payment_rows("amount_minor", ["25.000.000", "12,5"]),
        ";",
        "utf-8",
        "\n",
    )
    rows = list(read_events(file))
    assert isinstance(rows[0], Row) and rows[0].event.payload.amount_minor == 25_000_000  # type: ignore[attr-defined]
    assert isinstance(rows[1], RowError) and "whole number of minor units" in rows[1].reason
    assert "'amount' column" in rows[1].reason


def test_major_units_with_more_decimals_than_the_currency_are_refused(tmp_path: Path) -> None:
    file = write(tmp_path / "p.csv", payment_rows("amount", ["1.5", "1.005"]), ",", "utf-8", "\n")
    rows = list(read_events(file))
    assert isinstance(rows[0], Row) and rows[0].event.payload.amount_minor == 150  # type: ignore[attr-defined]
    assert isinstance(rows[1], RowError) and "more decimals than EUR has (2)" in rows[1].reason


def test_a_decimal_point_in_a_decimal_comma_file_says_which_option_to_pass(tmp_path: Path) -> None:
    file = write(tmp_path / "p.csv", payment_rows("amount", ["12.50"]), ";", "utf-8", "\n")
    (row,) = read_events(file)
    assert isinstance(row, RowError) and "pass --decimal-point" in row.reason
    with EventFile(file, decimal_comma=False) as events:
        assert amounts_of(list(events)) == [1250]


def test_tab_separated_file(tmp_path: Path) -> None:
    file = write(
        tmp_path / "export.tsv", payment_rows("amount", ["1,234.56", "3"]), "\t", "utf-8", "\r\n"
    )
    with EventFile(file) as events:
        assert events.describe() == "CSV, tab-separated, decimal points, UTF-8"
        assert amounts_of(list(events)) == [123456, 300]


def test_given_delimiter_wins_over_detection(tmp_path: Path) -> None:
    file = write(tmp_path / "p.csv", payment_rows("amount", ["1"]), "|", "utf-8", "\n")
    assert amounts_of(list(EventFile(file))) == [100]
    with pytest.raises(FileError, match="pass --delimiter"):
        EventFile(file, delimiter=",")


def dispute_rows(reason: str) -> list[list[str]]:
    return [
        ["debtor_id", "account_id", "type", "occurred_at", "dispute_id", "reason"],
        ["D-ES-2", "ACC-2", "DISPUTE_OPENED", "2026-11-02T10:00:00Z", "DS1", reason],
    ]


def test_windows_1252_file_is_decoded(tmp_path: Path) -> None:
    # The en dash is 0x96 in cp1252: a byte Latin-1 has no character for.
    reason = "cargo no reconocido por el señor Muñoz \u2013 «importe»"
    file = write(tmp_path / "cp.csv", dispute_rows(reason), ";", "cp1252", "\r\n")
    with pytest.raises(UnicodeDecodeError):
        file.read_text(encoding="utf-8")
    with EventFile(file) as events:
        assert events.encoding == "cp1252"
        (row,) = list(events)
    assert isinstance(row, Row) and row.event.payload.reason == reason  # type: ignore[attr-defined]


def test_utf16_with_bom_is_decoded(tmp_path: Path) -> None:
    file = write(tmp_path / "unicode.txt", dispute_rows("año"), "\t", "utf-16", "\r\n")
    (row,) = list(EventFile(file))
    assert isinstance(row, Row) and row.event.payload.reason == "año"  # type: ignore[attr-defined]


def test_a_file_that_is_not_the_named_encoding_is_refused_naming_the_option(
    tmp_path: Path,
) -> None:
    file = write(tmp_path / "cp.csv", dispute_rows("señor"), ",", "cp1252", "\n")
    with pytest.raises(FileError, match=r"is not utf-8.*--encoding"):
        EventFile(file, encoding="utf-8")
    with pytest.raises(FileError, match="unknown encoding 'klingon'"):
        EventFile(file, encoding="klingon")


def test_misspelled_column_refuses_the_file_before_any_row_naming_the_right_one(
    tmp_path: Path,
) -> None:
    rows = payment_rows("ammount_minor", ["", "500"])  # filled on the second row only
    file = write(tmp_path / "typo.csv", rows, ",", "utf-8", "\n")
    with pytest.raises(FileError) as refused:
        EventFile(file)
    assert "unknown column 'ammount_minor' (did you mean 'amount_minor'?)" in str(refused.value)
    with pytest.raises(FileError):
        list(read_events(file))  # not one row comes out


def test_header_without_any_close_name_lists_the_valid_columns() -> None:
    with pytest.raises(FileError, match="Valid columns: event_id, occurred_at"):
        read_csv(io.StringIO("debtor_id,account_id,type,occurred_at,zzzz\n"), "s")


def test_rejected_rows_keep_their_line_reason_and_text(tmp_path: Path) -> None:
    text = (
        "debtor_id;account_id;type;occurred_at;dispute_id;reason\r\n"
        "D1;A1;DISPUTE_OPENED;2026-11-01T10:00:00Z;DS1;ok\r\n"
        'D1;A1;DISPUTE_OPENED;not a time;DS2;"two\r\nlines"\r\n'
        "D1;A1;DEBT_CURED;2026-11-01T10:00:00Z;;\r\n"
    )
    file = tmp_path / "bank.csv"
    file.write_bytes(text.encode())
    rejects_path = rejects_path_for(file)
    assert rejects_path == tmp_path / "bank.csv.rejects.jsonl"
    with EventFile(file) as events, RejectsFile(rejects_path, file) as rejects:
        for row in events:
            if isinstance(row, RowError):
                rejects.add(row)
    kept = [json.loads(line) for line in rejects_path.read_text(encoding="utf-8").splitlines()]
    assert [(k["file"], k["line"]) for k in kept] == [("bank.csv", 3), ("bank.csv", 5)]
    assert kept[0]["text"] == 'D1;A1;DISPUTE_OPENED;not a time;DS2;"two\r\nlines"'
    assert "occurred_at" in kept[0]["reason"]
    assert kept[1]["text"] == "D1;A1;DEBT_CURED;2026-11-01T10:00:00Z;;"
    assert "derived by recaudo" in kept[1]["reason"]
    # A publish that rejects nothing leaves no rejects file from an earlier one.
    with RejectsFile(rejects_path, file):
        pass
    assert not rejects_path.exists()


def test_jsonl_rejects_keep_the_original_line(tmp_path: Path) -> None:
    file = tmp_path / "e.jsonl"
    file.write_bytes(b'\xef\xbb\xbf{"oops": \r\n')
    (row,) = read_events(file)
    assert isinstance(row, RowError) and row.line == 1 and row.text == '{"oops": '


def test_invalid_json_message_does_not_double_a_word() -> None:
    (row,) = read_jsonl(io.StringIO('{"debtor_id": "D1\n'), "s")
    assert isinstance(row, RowError)
    assert row.reason == "not valid JSON: Unterminated string starting at (column 15)"


DERIVED = ("BUCKET_CHANGED", "PROMISE_BROKEN", "DEBT_CURED")


def test_unknown_type_message_offers_only_the_types_a_bank_sends() -> None:
    line = json.dumps(
        {
            "occurred_at": "2026-11-01T00:00:00Z",
            "debtor_id": "D",
            "account_id": "A",
            "type": "PAYMENT_RECIVED",
            "payload": {"payment_id": "p1", "amount_minor": 100, "currency": "USD"},
        }
    )
    csv_text = "debtor_id,account_id,type,occurred_at\nD,A,PAYMENT_RECIVED,2026-11-01T00:00:00Z\n"
    for (row,) in (
        list(read_jsonl(io.StringIO(line), "s")),
        list(read_csv(io.StringIO(csv_text), "s")),
    ):
        assert isinstance(row, RowError)
        assert "did you mean PAYMENT_RECEIVED?" in row.reason and "DISPUTE_RESOLVED" in row.reason
        assert not any(t in row.reason for t in DERIVED), row.reason
    with pytest.raises(ValidationError) as invalid:
        DebtEvent.model_validate(json.loads(line))
    assert not any(t in str(invalid.value) for t in DERIVED)


def test_a_bank_file_cannot_send_derived_types() -> None:
    line = json.dumps(
        {
            "occurred_at": "2026-11-01T00:00:00Z",
            "debtor_id": "D",
            "account_id": "A",
            "type": "DEBT_CURED",
            "payload": {"previous_bucket": "DPD_1_30"},
        }
    )
    (row,) = read_jsonl(io.StringIO(line), "s")
    assert isinstance(row, RowError) and "DEBT_CURED is derived by recaudo" in row.reason


money = st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False)


@given(money, st.booleans(), st.booleans())
def test_numbers_as_spreadsheets_write_them_read_back_exactly(
    amount: Decimal, decimal_comma: bool, grouped: bool
) -> None:
    text = f"{amount:,.2f}" if grouped else f"{amount:.2f}"
    if decimal_comma:
        text = text.translate(str.maketrans(",.", ".,"))
    assert parse_decimal(text, decimal_comma) == amount


def test_a_type_that_is_not_text_is_a_rejected_row() -> None:
    (row,) = read_jsonl(io.StringIO('{"type": ["DEBT_CURED"], "debtor_id": "D"}'), "s")
    assert isinstance(row, RowError) and "unknown debt event type ['DEBT_CURED']" in row.reason
